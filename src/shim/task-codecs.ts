// Hand-written codecs for the Task API messages a restarted containerd sends
// every shim in turn (Connect, then State), used instead of protobuf-es's
// generic reflection codec: in a shim forked off the spare that codec runs as
// baseline code and was about a quarter of a cold Connect (perf, README).
// Field numbers are containerd's task/v2 shim.proto; the unit tests check the
// bytes against protobuf-es for the same values, both ways.
import type { MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type {
  ConnectRequestSchema,
  ConnectResponseSchema,
  StateRequestSchema,
  StateResponseSchema,
} from "../api/gen/containerd/task/v2/shim_pb.js";
import { expect, int64Bytes, Reader, varintSize, writeVarint } from "../ttrpc/envelope.js";
import type { MessageCodec } from "../ttrpc/service.js";

type ConnectRequest = MessageShape<typeof ConnectRequestSchema>;
type StateRequest = MessageShape<typeof StateRequestSchema>;
export type ConnectResponseInit = MessageInitShape<typeof ConnectResponseSchema>;
export type StateResponseInit = MessageInitShape<typeof StateResponseSchema>;

/** Appends protobuf fields to a growing buffer; proto3 defaults are left out, as protobuf-es does. */
class Out {
  buf = Buffer.allocUnsafe(256);
  off = 0;

  private room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(grown, 0, 0, this.off);
    this.buf = grown;
  }

  string(field: number, s: string | undefined): void {
    if (s === undefined || s === "") return;
    const len = Buffer.byteLength(s);
    this.room(6 + len);
    this.buf[this.off++] = (field << 3) | 2;
    this.off = writeVarint(this.buf, this.off, len);
    this.off += this.buf.write(s, this.off, "utf8");
  }

  uint32(field: number, n: number | undefined): void {
    if (n === undefined || n === 0) return;
    this.room(6);
    this.buf[this.off++] = field << 3;
    this.off = writeVarint(this.buf, this.off, n >>> 0);
  }

  /** int32 and enums: negatives take 10 bytes. */
  int32(field: number, n: number | undefined): void {
    if (n === undefined || n === 0) return;
    this.room(11);
    this.buf[this.off++] = field << 3;
    this.varint64(n);
  }

  bool(field: number, b: boolean | undefined): void {
    if (b !== true) return;
    this.room(2);
    this.buf[this.off++] = field << 3;
    this.buf[this.off++] = 1;
  }

  /** google.protobuf.Timestamp; a present message is written even when empty. */
  timestamp(
    field: number,
    ts: { seconds?: bigint | undefined; nanos?: number | undefined } | undefined,
  ): void {
    if (ts === undefined) return;
    const seconds = Number(ts.seconds ?? 0n);
    const nanos = ts.nanos ?? 0;
    const size =
      (seconds !== 0 ? 1 + (seconds < 0 ? 10 : varintSize(seconds)) : 0) +
      (nanos !== 0 ? 1 + (nanos < 0 ? 10 : varintSize(nanos)) : 0);
    this.room(2 + size);
    this.buf[this.off++] = (field << 3) | 2;
    this.off = writeVarint(this.buf, this.off, size);
    if (seconds !== 0) {
      this.buf[this.off++] = 1 << 3;
      this.varint64(seconds);
    }
    this.int32(2, nanos);
  }

  private varint64(n: number): void {
    const neg = int64Bytes(n);
    if (neg === null) this.off = writeVarint(this.buf, this.off, n);
    else {
      this.room(10);
      this.buf.set(neg, this.off);
      this.off += 10;
    }
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.off);
  }
}

function decodeIdAndExec(bytes: Uint8Array): { id: string; execId: string } {
  const r = new Reader(bytes, bytes.length);
  let id = "";
  let execId = "";
  while (r.pos < r.end) {
    const [field, wt] = r.tag();
    if (field === 1) {
      expect(field, wt, 2);
      id = r.string();
    } else if (field === 2) {
      expect(field, wt, 2);
      execId = r.string();
    } else r.skip(wt);
  }
  return { id, execId };
}

export function decodeConnectRequest(bytes: Uint8Array): ConnectRequest {
  // ConnectRequest has only field 1; a field 2 would be unknown and is skipped the same way.
  const { id } = decodeIdAndExec(bytes);
  return { $typeName: "containerd.task.v2.ConnectRequest", id };
}

export function decodeStateRequest(bytes: Uint8Array): StateRequest {
  const { id, execId } = decodeIdAndExec(bytes);
  return { $typeName: "containerd.task.v2.StateRequest", id, execId };
}

/**
 * The request bytes containerd sends (Go's encoders, like protobuf-es, write the
 * fields in order and leave empty ones out): the keys of the published answers.
 */
export function encodeConnectRequest(id: string): Uint8Array {
  return encodeIdAndExec(id, ""); // ConnectRequest is field 1 alone
}

export function encodeStateRequest(id: string, execId: string): Uint8Array {
  return encodeIdAndExec(id, execId);
}

function encodeIdAndExec(id: string, execId: string): Uint8Array {
  const out = new Out();
  out.string(1, id);
  out.string(2, execId);
  return out.bytes();
}

export function encodeConnectResponse(r: ConnectResponseInit): Uint8Array {
  const out = new Out();
  out.uint32(1, r.shimPid);
  out.uint32(2, r.taskPid);
  out.string(3, r.version);
  return out.bytes();
}

export function encodeStateResponse(r: StateResponseInit): Uint8Array {
  const out = new Out();
  out.string(1, r.id);
  out.string(2, r.bundle);
  out.uint32(3, r.pid);
  out.int32(4, r.status);
  out.string(5, r.stdin);
  out.string(6, r.stdout);
  out.string(7, r.stderr);
  out.bool(8, r.terminal);
  out.uint32(9, r.exitStatus);
  out.timestamp(10, r.exitedAt);
  out.string(11, r.execId);
  return out.bytes();
}

/** By message type name, for TtrpcServer.register's `codecs`. */
export const TASK_CODECS: ReadonlyMap<string, MessageCodec> = new Map<string, MessageCodec>([
  ["containerd.task.v2.ConnectRequest", { decode: decodeConnectRequest }],
  ["containerd.task.v2.StateRequest", { decode: decodeStateRequest }],
  ["containerd.task.v2.ConnectResponse", { encode: (v) => encodeConnectResponse(v as ConnectResponseInit) }],
  ["containerd.task.v2.StateResponse", { encode: (v) => encodeStateResponse(v as StateResponseInit) }],
]);
