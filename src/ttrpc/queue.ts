// The receive side of one stream: messages pushed by the connection's frame loop, pulled by
// `for await` / recv(). Ends normally (end()) or with an error (fail()), whichever comes first.

/**
 * Flow control, as containerd/ttrpc does it: a stream holding QUEUE_HIGH unread messages stops the
 * connection's reads until its reader catches up (QUEUE_LOW); a stream that keeps the connection stopped
 * for STALL_MS fails with "stream buffer full" so the other streams go on.
 */
export const QUEUE_HIGH = 64;
export const QUEUE_LOW = 16;
export const STALL_MS = 1000;
/** Hard cap (one received chunk can hold many frames beyond QUEUE_HIGH before reads stop). */
export const STREAM_QUEUE_LIMIT = 1 << 16;

/** Pauses a connection's reads while any of its streams is over QUEUE_HIGH. */
export class ReadGate {
  private readonly target: { pause(): unknown; resume(): unknown };
  private readonly full = new Map<MessageQueue<unknown>, NodeJS.Timeout>();

  constructor(target: { pause(): unknown; resume(): unknown }) {
    this.target = target;
  }

  close(q: MessageQueue<unknown>): void {
    if (this.full.has(q)) return;
    if (this.full.size === 0) this.target.pause();
    this.full.set(q, setTimeout(stallQueue, STALL_MS, q));
  }

  open(q: MessageQueue<unknown>): void {
    const t = this.full.get(q);
    if (t === undefined) return;
    clearTimeout(t);
    this.full.delete(q);
    if (this.full.size === 0) this.target.resume();
  }
}

function stallQueue(q: MessageQueue<unknown>): void {
  q.stall();
}

interface Waiter<T> {
  resolve(r: IteratorResult<T, undefined>): void;
  reject(e: unknown): void;
}

export class MessageQueue<T> implements AsyncIterableIterator<T, undefined, undefined> {
  private items: T[] = [];
  private head = 0;
  private waiter: Waiter<T> | null = null;
  private ended = false;
  private error: unknown = undefined;
  private failed = false;
  /** Called when the consumer stops early (`break` out of for-await, or return()). */
  onReturn: (() => void) | null = null;
  /** Called when the reader kept the connection stopped too long; the queue is already emptied. */
  onStall: (() => void) | null = null;
  private readonly gate: ReadGate | null;
  private gated = false;

  constructor(gate: ReadGate | null = null) {
    this.gate = gate;
  }

  get closed(): boolean {
    return this.ended || this.failed;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /** False when the message was refused (queue ended or over the limit). */
  push(item: T): boolean {
    if (this.closed) return false;
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.resolve({ value: item, done: false });
      return true;
    }
    if (this.size >= STREAM_QUEUE_LIMIT) return false;
    this.items.push(item);
    if (!this.gated && this.gate !== null && this.size >= QUEUE_HIGH) {
      this.gated = true;
      this.gate.close(this as MessageQueue<unknown>);
    }
    return true;
  }

  private ungate(): void {
    if (!this.gated) return;
    this.gated = false;
    this.gate?.open(this as MessageQueue<unknown>);
  }

  /** Drops what is queued and reopens the connection (the reader was too slow, or is gone). */
  discard(): void {
    this.items = [];
    this.head = 0;
    this.ungate();
  }

  /** @internal The ReadGate's timer: drop the backlog and let the owner fail the stream. */
  stall(): void {
    this.discard();
    const cb = this.onStall;
    this.onStall = null;
    cb?.();
  }

  end(): void {
    if (this.closed) return;
    this.ended = true;
    // Nothing more can arrive for this stream: its backlog no longer needs the connection stopped.
    this.ungate();
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.resolve({ value: undefined, done: true });
    }
  }

  /** Ends the queue with an error; messages already queued are still delivered first. */
  fail(err: unknown): void {
    if (this.closed) return;
    this.failed = true;
    this.error = err;
    this.ungate();
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.reject(err);
    }
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head++];
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      }
      if (this.gated && this.size <= QUEUE_LOW) this.ungate();
      return Promise.resolve({ value, done: false });
    }
    if (this.failed) return Promise.reject(this.error);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter !== null) return Promise.reject(new Error("ttrpc: concurrent reads of one stream"));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T, undefined>> {
    this.discard();
    const cb = this.onReturn;
    this.onReturn = null;
    if (cb !== null) cb();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
