// A minimal deterministic ustar writer: regular files, directories and
// symlinks, uid/gid 0, one fixed mtime. Enough for image layers and OCI
// layout archives; no external tar package.

export type TarEntry =
  | { kind: "dir"; path: string; mode: number }
  | { kind: "file"; path: string; mode: number; data: Buffer }
  | { kind: "symlink"; path: string; target: string };

// 2024-01-01T00:00:00Z: a fixed, non-zero mtime so output is reproducible.
export const TAR_MTIME = 1704067200;

const BLOCK = 512;

function putString(buf: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > length) throw new Error(`tar: "${value}" does not fit in ${length} bytes`);
  bytes.copy(buf, offset);
}

// Octal number, zero-padded, NUL-terminated, filling the field.
function putOctal(buf: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new Error(`tar: ${value} does not fit in a ${length}-byte field`);
  putString(buf, offset, length, `${digits.padStart(length - 1, "0")}\0`);
}

// Names up to 100 bytes go in `name`; longer ones are split at a "/" into
// `prefix` (155) + `name` (100), as ustar allows.
function splitName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: "" };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== "/") continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== "") {
      return { name, prefix };
    }
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

function header(entry: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const path = entry.kind === "dir" && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path;
  const { name, prefix } = splitName(path);
  const mode = entry.kind === "symlink" ? 0o777 : entry.mode;
  putString(h, 0, 100, name);
  putOctal(h, 100, 8, mode);
  putOctal(h, 108, 8, 0); // uid
  putOctal(h, 116, 8, 0); // gid
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, TAR_MTIME);
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  h[156] = entry.kind === "file" ? 0x30 : entry.kind === "dir" ? 0x35 : 0x32; // '0', '5', '2'
  if (entry.kind === "symlink") putString(h, 157, 100, entry.target);
  putString(h, 257, 6, "ustar\0");
  putString(h, 263, 2, "00");
  putString(h, 265, 32, "root");
  putString(h, 297, 32, "root");
  putOctal(h, 329, 8, 0); // devmajor
  putOctal(h, 337, 8, 0); // devminor
  putString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  putString(h, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

export function writeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const size = e.kind === "file" ? e.data.length : 0;
    parts.push(header(e, size));
    if (e.kind === "file") {
      parts.push(e.data);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2)); // end-of-archive marker
  return Buffer.concat(parts);
}
