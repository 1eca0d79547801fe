// Request metadata: ttrpc carries it as repeated KeyValue; keys are case-insensitive (stored lowercase)
// and a key may repeat, like containerd/ttrpc's MD.

export type MetadataInit =
  | Metadata
  | Readonly<Record<string, string | readonly string[]>>
  | Iterable<readonly [string, string]>;

export class Metadata {
  private readonly map = new Map<string, string[]>();

  constructor(init?: MetadataInit) {
    if (init === undefined) return;
    if (init instanceof Metadata) {
      for (const [k, v] of init.map) this.map.set(k, [...v]);
    } else if (Symbol.iterator in init) {
      for (const [k, v] of init as Iterable<readonly [string, string]>) this.append(k, v);
    } else {
      for (const [k, v] of Object.entries(init as Readonly<Record<string, string | readonly string[]>>)) {
        if (typeof v === "string") this.append(k, v);
        else for (const one of v) this.append(k, one);
      }
    }
  }

  /** The first value of `key`, if any. */
  get(key: string): string | undefined {
    return this.map.get(key.toLowerCase())?.[0];
  }

  getAll(key: string): readonly string[] {
    return this.map.get(key.toLowerCase()) ?? [];
  }

  has(key: string): boolean {
    return this.map.has(key.toLowerCase());
  }

  /** Replaces every value of `key`; no values deletes it. */
  set(key: string, ...values: string[]): void {
    const k = key.toLowerCase();
    if (values.length === 0) this.map.delete(k);
    else this.map.set(k, values);
  }

  append(key: string, value: string): void {
    const k = key.toLowerCase();
    const list = this.map.get(k);
    if (list === undefined) this.map.set(k, [value]);
    else list.push(value);
  }

  get size(): number {
    return this.map.size;
  }

  /** Every (key, value) pair, a repeated key once per value, in insertion order. */
  *entries(): IterableIterator<[string, string]> {
    for (const [k, list] of this.map) for (const v of list) yield [k, v];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  toJSON(): Record<string, string[]> {
    return Object.fromEntries(this.map);
  }
}
