// ttrpc framing: a 10-byte header (uint32 BE data length, uint32 BE stream id,
// uint8 message type, uint8 flags) followed by the data.

export const HEADER_LENGTH = 10;
/** Largest data length either side accepts (containerd/ttrpc messageLengthMax). */
export const MESSAGE_LENGTH_MAX = 4 << 20;

export const MessageType = {
  Request: 1,
  Response: 2,
  Data: 3,
} as const;

export const Flag = {
  /** Non-unary; the sender will send no more data on this stream. */
  RemoteClosed: 0x1,
  /** Non-unary; the sender is still sending data (request frames only). */
  RemoteOpen: 0x2,
  /** The data frame carries no message (as opposed to an empty one). */
  NoData: 0x4,
} as const;

export interface FrameHeader {
  length: number;
  streamId: number;
  type: number;
  flags: number;
}

/** What a FrameDecoder reports to; an object rather than closures so the hot path allocates nothing. */
export interface FrameSink {
  /** A complete frame. `data` is a view into the received chunk (not a copy); it stays valid. */
  onFrame(streamId: number, type: number, flags: number, data: Buffer): void;
  /**
   * A frame whose declared length exceeded MESSAGE_LENGTH_MAX. Like containerd/ttrpc, the decoder
   * discards exactly that many bytes and reports it once they are gone, so the connection stays in sync.
   */
  onOversized(streamId: number, type: number, flags: number, length: number): void;
}

export function writeHeader(
  target: Uint8Array,
  offset: number,
  length: number,
  streamId: number,
  type: number,
  flags: number,
): void {
  target[offset] = length >>> 24;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
  target[offset + 4] = streamId >>> 24;
  target[offset + 5] = (streamId >>> 16) & 0xff;
  target[offset + 6] = (streamId >>> 8) & 0xff;
  target[offset + 7] = streamId & 0xff;
  target[offset + 8] = type;
  target[offset + 9] = flags;
}

/** One frame as bytes (header + data copied into a single buffer). */
export function encodeFrame(streamId: number, type: number, flags: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + data.length);
  writeHeader(out, 0, data.length, streamId, type, flags);
  out.set(data, HEADER_LENGTH);
  return out;
}

export function readHeader(buf: Uint8Array, offset = 0): FrameHeader {
  return {
    length: readU32(buf, offset),
    streamId: readU32(buf, offset + 4),
    type: buf[offset + 8],
    flags: buf[offset + 9],
  };
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * Streaming frame decoder: feed it chunks as they arrive, split at any byte boundary, with any
 * number of frames per chunk. Complete frames inside a chunk are handed out as views of that
 * chunk; only a frame that straddles chunks is assembled (once, when all of it has arrived).
 */
export class FrameDecoder {
  private readonly sink: FrameSink;
  private readonly maxLength: number;
  /** Bytes of an incomplete frame (or header), kept until enough has arrived. */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Bytes the incomplete frame needs in total (header alone until the header is known). */
  private needed = HEADER_LENGTH;
  /** Bytes of an oversized frame still to throw away, and that frame's header. */
  private discard = 0;
  private discardHeader: FrameHeader | null = null;

  constructor(sink: FrameSink, maxLength = MESSAGE_LENGTH_MAX) {
    this.sink = sink;
    this.maxLength = maxLength;
  }

  /** Bytes held for an incomplete frame (0 when the stream is at a frame boundary). */
  get buffered(): number {
    return this.pendingLength + this.discard;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.discard > 0) {
      if (buf.length < this.discard) {
        this.discard -= buf.length;
        return;
      }
      buf = buf.subarray(this.discard);
      this.discard = 0;
      this.finishDiscard();
    }
    if (this.pendingLength > 0) {
      if (this.pendingLength + buf.length < this.needed) {
        this.pending.push(buf);
        this.pendingLength += buf.length;
        return;
      }
      // Enough for the header (or the whole frame): assemble once and parse from there.
      this.pending.push(buf);
      buf = Buffer.concat(this.pending, this.pendingLength + buf.length);
      this.pending = [];
      this.pendingLength = 0;
      this.needed = HEADER_LENGTH;
    }
    this.parse(buf);
  }

  private parse(buf: Buffer): void {
    let off = 0;
    const end = buf.length;
    while (end - off >= HEADER_LENGTH) {
      const length = readU32(buf, off);
      const streamId = readU32(buf, off + 4);
      const type = buf[off + 8];
      const flags = buf[off + 9];
      if (length > this.maxLength) {
        const available = end - off - HEADER_LENGTH;
        if (available < length) {
          this.discard = length - available;
          this.discardHeader = { length, streamId, type, flags };
          return;
        }
        off += HEADER_LENGTH + length;
        this.sink.onOversized(streamId, type, flags, length);
        continue;
      }
      const frameEnd = off + HEADER_LENGTH + length;
      if (frameEnd > end) {
        this.keep(buf.subarray(off), HEADER_LENGTH + length);
        return;
      }
      this.sink.onFrame(streamId, type, flags, buf.subarray(off + HEADER_LENGTH, frameEnd));
      off = frameEnd;
    }
    if (off < end) this.keep(buf.subarray(off), HEADER_LENGTH);
  }

  private keep(rest: Buffer, needed: number): void {
    this.pending.push(rest);
    this.pendingLength = rest.length;
    this.needed = needed;
  }

  private finishDiscard(): void {
    const h = this.discardHeader!;
    this.discardHeader = null;
    this.sink.onOversized(h.streamId, h.type, h.flags, h.length);
  }
}
