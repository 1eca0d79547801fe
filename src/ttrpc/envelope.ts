// Hand-written codec for ttrpc's own envelope messages (ttrpc.Request, ttrpc.Response), the hot path of
// every call. Field numbers follow containerd/ttrpc request.proto; the generated RequestSchema /
// ResponseSchema describe the same bytes (the unit tests check both directions). Payloads are decoded as
// views into the frame, never copied; google.rpc.Status is left to the generated codec (error path only).
import { HEADER_LENGTH, MessageType, writeHeader } from "./frame.js";

export interface WireRequest {
  service: string;
  method: string;
  payload: Uint8Array;
  /** Nanoseconds; 0 when the caller set no deadline (negative: already expired). */
  timeoutNano: number;
  metadata: Array<[string, string]>;
}

export interface WireResponse {
  /** google.rpc.Status bytes; empty means OK (Go sends an empty Status for OK). */
  status: Uint8Array;
  payload: Uint8Array;
}

export class EnvelopeError extends Error {
  override name = "EnvelopeError";
}

const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder("utf-8", { fatal: true });

// --- encoding -------------------------------------------------------------------------------

export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

export function writeVarint(buf: Uint8Array, off: number, n: number): number {
  while (n >= 0x80) {
    buf[off++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[off++] = n;
  return off;
}

/** int64 as a varint; negatives take 10 bytes (two's complement), as protobuf requires. */
export function int64Bytes(n: number): Uint8Array | null {
  if (n >= 0) return null;
  const v = BigInt.asUintN(64, BigInt(Math.trunc(n)));
  const out = new Uint8Array(10);
  let x = v;
  for (let i = 0; i < 10; i++) {
    const b = Number(x & 0x7fn);
    x >>= 7n;
    out[i] = x > 0n ? b | 0x80 : b;
  }
  return out;
}

/**
 * One complete Request frame (header + body) in a single buffer. Strings are measured and written in
 * place; returns null when the body would exceed `max` (the caller answers ResourceExhausted).
 */
export function encodeRequestFrame(
  streamId: number,
  flags: number,
  service: string,
  method: string,
  payload: Uint8Array,
  timeoutNano: number,
  metadata: Iterable<[string, string]> | undefined,
  max: number,
): Buffer | null {
  const sLen = Buffer.byteLength(service);
  const mLen = Buffer.byteLength(method);
  let size = 0;
  if (sLen > 0) size += 1 + varintSize(sLen) + sLen;
  if (mLen > 0) size += 1 + varintSize(mLen) + mLen;
  if (payload.length > 0) size += 1 + varintSize(payload.length) + payload.length;
  const negTimeout = int64Bytes(timeoutNano);
  if (timeoutNano !== 0) size += 1 + (negTimeout ? 10 : varintSize(Math.trunc(timeoutNano)));
  let kvs: Array<[string, string, number, number]> | null = null;
  if (metadata !== undefined) {
    for (const [k, v] of metadata) {
      const kl = Buffer.byteLength(k);
      const vl = Buffer.byteLength(v);
      kvs ??= [];
      kvs.push([k, v, kl, vl]);
      const inner = (kl > 0 ? 1 + varintSize(kl) + kl : 0) + (vl > 0 ? 1 + varintSize(vl) + vl : 0);
      size += 1 + varintSize(inner) + inner;
    }
  }
  if (size > max) return null;
  const out = Buffer.allocUnsafe(HEADER_LENGTH + size);
  writeHeader(out, 0, size, streamId, MessageType.Request, flags);
  let off = HEADER_LENGTH;
  if (sLen > 0) {
    out[off++] = 0x0a;
    off = writeVarint(out, off, sLen);
    off += out.write(service, off, "utf8");
  }
  if (mLen > 0) {
    out[off++] = 0x12;
    off = writeVarint(out, off, mLen);
    off += out.write(method, off, "utf8");
  }
  if (payload.length > 0) {
    out[off++] = 0x1a;
    off = writeVarint(out, off, payload.length);
    out.set(payload, off);
    off += payload.length;
  }
  if (timeoutNano !== 0) {
    out[off++] = 0x20;
    if (negTimeout) {
      out.set(negTimeout, off);
      off += 10;
    } else off = writeVarint(out, off, Math.trunc(timeoutNano));
  }
  if (kvs !== null) {
    for (const [k, v, kl, vl] of kvs) {
      const inner = (kl > 0 ? 1 + varintSize(kl) + kl : 0) + (vl > 0 ? 1 + varintSize(vl) + vl : 0);
      out[off++] = 0x2a;
      off = writeVarint(out, off, inner);
      if (kl > 0) {
        out[off++] = 0x0a;
        off = writeVarint(out, off, kl);
        off += out.write(k, off, "utf8");
      }
      if (vl > 0) {
        out[off++] = 0x12;
        off = writeVarint(out, off, vl);
        off += out.write(v, off, "utf8");
      }
    }
  }
  return out;
}

/** Response body size for a status and payload (status always present: OK is an empty Status). */
export function responseSize(status: Uint8Array, payload: Uint8Array): number {
  return (
    1 +
    varintSize(status.length) +
    status.length +
    (payload.length > 0 ? 1 + varintSize(payload.length) + payload.length : 0)
  );
}

/** One complete Response frame. `status` empty = OK (sent as an empty google.rpc.Status, as Go does). */
export function encodeResponseFrame(streamId: number, status: Uint8Array, payload: Uint8Array): Buffer {
  const size = responseSize(status, payload);
  const out = Buffer.allocUnsafe(HEADER_LENGTH + size);
  writeHeader(out, 0, size, streamId, MessageType.Response, 0);
  let off = HEADER_LENGTH;
  out[off++] = 0x0a;
  off = writeVarint(out, off, status.length);
  if (status.length > 0) {
    out.set(status, off);
    off += status.length;
  }
  if (payload.length > 0) {
    out[off++] = 0x12;
    off = writeVarint(out, off, payload.length);
    out.set(payload, off);
  }
  return out;
}

// --- decoding -------------------------------------------------------------------------------

/**
 * A cursor over one protobuf message; every read is bounds-checked and throws EnvelopeError. Also used by
 * the shim's hand-written codecs for its hottest messages (src/shim/task-codecs.ts).
 */
export class Reader {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly end: number,
  ) {}

  /** Unsigned varint up to 64 bits as a JS number (exact below 2^53), sign of an int64 kept. */
  varint(): number {
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new EnvelopeError("truncated varint");
      const b = this.buf[this.pos++];
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      shift += 7;
      if ((b & 0x80) === 0) {
        lo >>>= 0;
        if (hi & 0x80000000) return -((~hi >>> 0) * 4294967296 + (~lo >>> 0) + 1);
        return (hi >>> 0) * 4294967296 + lo;
      }
    }
    throw new EnvelopeError("varint longer than 10 bytes");
  }

  length(): number {
    const n = this.varint();
    if (n < 0 || n > this.end - this.pos) throw new EnvelopeError("length-delimited field overruns message");
    return n;
  }

  bytes(): Uint8Array {
    const n = this.length();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  string(): string {
    const n = this.length();
    const start = this.pos;
    this.pos += n;
    // ASCII (service/method names, most metadata) skips the validating decoder.
    let ascii = true;
    for (let i = start; i < start + n; i++) {
      if (this.buf[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return latin1(this.buf, start, start + n);
    try {
      return utf8.decode(this.buf.subarray(start, start + n));
    } catch {
      throw new EnvelopeError("string field is not valid UTF-8");
    }
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.length());
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new EnvelopeError(`unsupported wire type ${wireType}`);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new EnvelopeError("field overruns message");
    this.pos += n;
  }

  tag(): [field: number, wireType: number] {
    const t = this.varint();
    const field = Math.floor(t / 8);
    if (field <= 0 || t < 0) throw new EnvelopeError(`invalid field number ${field}`);
    return [field, t & 7];
  }
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  if (buf instanceof Buffer) return buf.toString("latin1", start, end);
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("latin1", start, end);
}

export function expect(field: number, wireType: number, want: number): void {
  if (wireType !== want) throw new EnvelopeError(`field ${field} has wire type ${wireType}, want ${want}`);
}

export function decodeRequest(buf: Uint8Array): WireRequest {
  const r = new Reader(buf, buf.length);
  const req: WireRequest = { service: "", method: "", payload: EMPTY, timeoutNano: 0, metadata: [] };
  while (r.pos < r.end) {
    const [field, wt] = r.tag();
    switch (field) {
      case 1:
        expect(field, wt, 2);
        req.service = r.string();
        break;
      case 2:
        expect(field, wt, 2);
        req.method = r.string();
        break;
      case 3:
        expect(field, wt, 2);
        req.payload = r.bytes();
        break;
      case 4:
        expect(field, wt, 0);
        req.timeoutNano = r.varint();
        break;
      case 5: {
        expect(field, wt, 2);
        const n = r.length();
        const kv = new Reader(buf, r.pos + n);
        kv.pos = r.pos;
        r.pos += n;
        let key = "";
        let value = "";
        while (kv.pos < kv.end) {
          const [f, w] = kv.tag();
          if (f === 1) {
            expect(f, w, 2);
            key = kv.string();
          } else if (f === 2) {
            expect(f, w, 2);
            value = kv.string();
          } else kv.skip(w);
        }
        req.metadata.push([key, value]);
        break;
      }
      default:
        r.skip(wt);
    }
  }
  return req;
}

export function decodeResponse(buf: Uint8Array): WireResponse {
  const r = new Reader(buf, buf.length);
  const res: WireResponse = { status: EMPTY, payload: EMPTY };
  while (r.pos < r.end) {
    const [field, wt] = r.tag();
    if (field === 1) {
      expect(field, wt, 2);
      res.status = r.bytes();
    } else if (field === 2) {
      expect(field, wt, 2);
      res.payload = r.bytes();
    } else r.skip(wt);
  }
  return res;
}
