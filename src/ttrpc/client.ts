// ttrpc client: one unix-socket connection, any number of concurrent calls and streams on it
// (client-initiated, so odd stream ids), unary and streaming, with deadlines and cancellation.
import { createConnection, type Socket } from "node:net";
import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { decodeResponse, encodeRequestFrame } from "./envelope.js";
import { encodeFrame, Flag, FrameDecoder, type FrameSink, MESSAGE_LENGTH_MAX, MessageType } from "./frame.js";
import { Metadata, type MetadataInit } from "./metadata.js";
import { MessageQueue, ReadGate } from "./queue.js";
import { isStreamingClient, isStreamingServer, type MethodKind } from "./service.js";
import { Code, decodeStatus, TtrpcError } from "./status.js";
import { FrameWriter } from "./writer.js";

export interface CallOptions {
  /** Deadline relative to now: sent as timeout_nano and enforced locally (DeadlineExceeded). */
  timeoutMs?: number | undefined;
  /** Aborting drops the call locally with Canceled (ttrpc has no cancel frame; the server is not told). */
  signal?: AbortSignal | undefined;
  /** Request metadata (keys are sent lowercase). */
  metadata?: MetadataInit | undefined;
}

export interface ClientOptions {
  /** Called once when the connection is gone, with the error pending calls failed with. */
  onClose?: ((reason: TtrpcError) => void) | undefined;
}

/** Server-streaming call: iterate (or recv()) the server's messages. */
export interface ServerStreamCall<O> extends AsyncIterable<O> {
  /** The next message, or undefined once the server ended the stream; rejects with a TtrpcError. */
  recv(): Promise<O | undefined>;
  /** Stops listening locally (the server is not told). */
  cancel(): void;
}

/** Client-streaming call: send messages, then closeAndRecv() for the single answer. */
export interface ClientStreamingCall<I, O> {
  send(message: I): Promise<void>;
  closeAndRecv(): Promise<O>;
  cancel(): void;
}

/** Bidirectional call: send and receive independently; closeSend() ends the client's side. */
export interface BidiStreamCall<I, O> extends AsyncIterable<O> {
  send(message: I): Promise<void>;
  closeSend(): void;
  recv(): Promise<O | undefined>;
  cancel(): void;
}

type ClientMethod<M> = M extends { methodKind: infer K; input: infer I; output: infer O }
  ? I extends DescMessage
    ? O extends DescMessage
      ? K extends "unary"
        ? (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
        : K extends "server_streaming"
          ? (request: MessageInitShape<I>, options?: CallOptions) => ServerStreamCall<MessageShape<O>>
          : K extends "client_streaming"
            ? (options?: CallOptions) => ClientStreamingCall<MessageInitShape<I>, MessageShape<O>>
            : (options?: CallOptions) => BidiStreamCall<MessageInitShape<I>, MessageShape<O>>
      : never
    : never
  : never;

/** Typed client methods for a service, keyed by the generated (camelCase) method names. */
export type ServiceClient<S extends GenServiceMethods> = { [K in keyof S]: ClientMethod<S[K]> };

/** Where frames for one stream id go. */
interface StreamSink {
  onFrame(type: number, flags: number, data: Buffer): void;
  fail(err: TtrpcError): void;
}

const EMPTY = new Uint8Array(0);
const MAX_STREAM_ID = 0xffffffff;

export class TtrpcClient implements FrameSink {
  private readonly socket: Socket;
  private readonly writer: FrameWriter;
  private readonly decoder: FrameDecoder;
  /** @internal Stops reading while a stream's reader lags (shared by all streams of this connection). */
  readonly gate: ReadGate;
  private readonly streams = new Map<number, StreamSink>();
  private nextId = 1;
  private closeReason: TtrpcError | null = null;
  /** The connection was up at some point: a request written since may have reached the peer. */
  private wasUp = false;
  private socketError: Error | null = null;
  private readonly options: ClientOptions;
  /** Resolves when connected; rejects with Unavailable if the connection could not be made. */
  readonly connected: Promise<void>;

  /** Connects to a unix socket path (or wraps a connected socket). Calls made before the connection is up
   * are queued. */
  constructor(target: string | Socket, options: ClientOptions = {}) {
    this.options = options;
    this.socket = typeof target === "string" ? createConnection(target) : target;
    this.writer = new FrameWriter(this.socket);
    this.decoder = new FrameDecoder(this);
    this.gate = new ReadGate(this.socket);
    this.wasUp = typeof target !== "string" && !this.socket.connecting;
    this.socket.once("connect", () => {
      this.wasUp = true;
    });
    this.connected = new Promise<void>((resolve, reject) => {
      if (this.wasUp) resolve();
      this.socket.once("connect", resolve);
      this.socket.once("close", () => reject(this.closeReason ?? this.lostError()));
    });
    this.connected.catch(() => {});
    this.socket.on("data", (chunk: Buffer) => {
      try {
        this.decoder.push(chunk);
      } catch (err) {
        // A bug must cost this connection, never the process.
        this.closeReason ??= new TtrpcError(Code.Internal, `ttrpc: ${(err as Error).message}`, [], {
          cause: err,
        });
        this.socket.destroy();
      }
    });
    this.socket.on("error", (err) => {
      this.socketError = err;
    });
    this.socket.once("close", () => this.onClose());
  }

  /** Connects and waits until the connection is up. */
  static async connect(path: string, options: ClientOptions = {}): Promise<TtrpcClient> {
    const client = new TtrpcClient(path, options);
    await client.connected;
    return client;
  }

  /** Whether the connection was ever up (false: a failed call never left this process). */
  get everConnected(): boolean {
    return this.wasUp;
  }

  get closed(): boolean {
    return this.closeReason !== null;
  }

  /** Calls in flight (unary calls and open streams). */
  get pending(): number {
    return this.streams.size;
  }

  private lostError(): TtrpcError {
    const why = this.socketError !== null ? `: ${this.socketError.message}` : "";
    return new TtrpcError(Code.Unavailable, `ttrpc: closed${why}`, [], {
      cause: this.socketError ?? undefined,
    });
  }

  private onClose(): void {
    this.closeReason ??= this.lostError();
    const reason = this.closeReason;
    const sinks = [...this.streams.values()];
    this.streams.clear();
    for (const s of sinks) s.fail(reason);
    this.options.onClose?.(reason);
  }

  /** Closes the connection; calls still pending fail with Canceled. */
  close(): void {
    if (this.closeReason === null) this.closeReason = new TtrpcError(Code.Canceled, "ttrpc: client closed");
    this.socket.destroy();
  }

  /** @internal */
  forget(id: number, sink: StreamSink): void {
    if (this.streams.get(id) === sink) this.streams.delete(id);
  }

  onFrame(streamId: number, type: number, flags: number, data: Buffer): void {
    // Frames for streams we no longer track (timed out, cancelled) are dropped, as containerd/ttrpc does.
    this.streams.get(streamId)?.onFrame(type, flags, data);
  }

  onOversized(streamId: number, _type: number, _flags: number, length: number): void {
    const sink = this.streams.get(streamId);
    if (sink === undefined) return;
    this.streams.delete(streamId);
    sink.fail(
      new TtrpcError(
        Code.ResourceExhausted,
        `message length ${length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
      ),
    );
  }

  /** Sends a request frame on a fresh stream id and registers `sink` for what comes back. */
  private open(
    sink: StreamSink,
    flags: number,
    service: string,
    method: string,
    payload: Uint8Array,
    options: CallOptions | undefined,
  ): number {
    if (this.closeReason !== null) throw this.closeReason;
    if (this.nextId > MAX_STREAM_ID) throw new TtrpcError(Code.Unavailable, "ttrpc: stream ids exhausted");
    const timeoutMs = options?.timeoutMs;
    const timeoutNano = timeoutMs !== undefined ? Math.max(1, Math.round(timeoutMs * 1e6)) : 0;
    const md = options?.metadata;
    const frame = encodeRequestFrame(
      this.nextId,
      flags,
      service,
      method,
      payload,
      timeoutNano,
      md === undefined ? undefined : new Metadata(md).entries(),
      MESSAGE_LENGTH_MAX,
    );
    if (frame === null) {
      throw new TtrpcError(
        Code.ResourceExhausted,
        `message length ${payload.length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
      );
    }
    const id = this.nextId;
    this.nextId += 2;
    this.streams.set(id, sink);
    this.writer.push(frame);
    return id;
  }

  /** @internal Sends a data frame on an open stream. */
  sendData(id: number, flags: number, payload: Uint8Array): Promise<void> {
    if (payload.length > MESSAGE_LENGTH_MAX) {
      return Promise.reject(
        new TtrpcError(
          Code.ResourceExhausted,
          `message length ${payload.length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
        ),
      );
    }
    this.writer.push(encodeFrame(id, MessageType.Data, flags, payload));
    return this.writer.congested ? this.writer.drain() : Promise.resolve();
  }

  /**
   * Generic unary call: request payload bytes in, response payload bytes out. Fails with a TtrpcError:
   * the server's status, DeadlineExceeded, Canceled (signal, close()) or Unavailable (connection lost).
   */
  call(service: string, method: string, payload: Uint8Array, options?: CallOptions): Promise<Uint8Array> {
    const pending = new PendingUnary(this);
    const promise = new Promise<Uint8Array>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    const signal = options?.signal;
    if (signal?.aborted) {
      pending.reject(canceledError(signal));
      return promise;
    }
    try {
      pending.id = this.open(pending, 0, service, method, payload, options);
    } catch (err) {
      pending.reject(err as TtrpcError);
      return promise;
    }
    pending.watch(options);
    return promise;
  }

  /** Generic streaming call (bytes in and out); `request` is the first message of non-client-streams. */
  stream(
    service: string,
    method: string,
    kind: Exclude<MethodKind, "unary">,
    request: Uint8Array | undefined,
    options?: CallOptions,
  ): ClientStream<Uint8Array, Uint8Array> {
    return this.openStream(service, method, kind, request, options, identity, identity);
  }

  private openStream<I, O>(
    service: string,
    method: string,
    kind: Exclude<MethodKind, "unary">,
    request: Uint8Array | undefined,
    options: CallOptions | undefined,
    encode: (m: I) => Uint8Array,
    decode: (b: Uint8Array) => O,
  ): ClientStream<I, O> {
    const s = new ClientStream<I, O>(this, kind, encode, decode);
    const signal = options?.signal;
    if (signal?.aborted) {
      s.fail(canceledError(signal));
      return s;
    }
    const streamingClient = isStreamingClient(kind);
    const flags = streamingClient ? Flag.RemoteOpen : Flag.RemoteClosed;
    try {
      s.id = this.open(s, flags, service, method, streamingClient ? EMPTY : (request ?? EMPTY), options);
    } catch (err) {
      s.fail(err as TtrpcError);
      return s;
    }
    s.watch(options);
    return s;
  }

  /** Typed methods for `desc` (wire name: the proto full name, or `options.name`). */
  service<S extends GenServiceMethods>(
    desc: GenService<S>,
    options?: { name?: string | undefined },
  ): ServiceClient<S> {
    const d = desc as unknown as DescService;
    const name = options?.name ?? d.typeName;
    const out: Record<string, unknown> = {};
    for (const m of d.methods)
      out[m.localName] = this.boundMethod(name, m.name, m.methodKind, m.input, m.output);
    return out as ServiceClient<S>;
  }

  private boundMethod(
    service: string,
    method: string,
    kind: MethodKind,
    input: DescMessage,
    output: DescMessage,
  ): unknown {
    const encode = (m: MessageInitShape<DescMessage>): Uint8Array => toBinary(input, create(input, m));
    const decode = (b: Uint8Array): unknown => decodeOutput(output, b);
    switch (kind) {
      case "unary":
        return (request: MessageInitShape<DescMessage>, options?: CallOptions) =>
          this.call(service, method, encode(request), options).then(decode);
      case "server_streaming":
        return (request: MessageInitShape<DescMessage>, options?: CallOptions) =>
          this.openStream(service, method, kind, encode(request), options, encode, decode);
      default:
        return (options?: CallOptions) =>
          this.openStream(service, method, kind, undefined, options, encode, decode);
    }
  }
}

function identity(b: Uint8Array): Uint8Array {
  return b;
}

function decodeOutput(output: DescMessage, bytes: Uint8Array): unknown {
  try {
    return fromBinary(output, bytes);
  } catch (err) {
    throw new TtrpcError(Code.Internal, `ttrpc: error unmarshalling payload: ${(err as Error).message}`);
  }
}

function canceledError(signal: AbortSignal): TtrpcError {
  const r: unknown = signal.reason;
  if (r instanceof TtrpcError) return r;
  return new TtrpcError(Code.Canceled, "context canceled", [], { cause: r });
}

function deadlineError(): TtrpcError {
  return new TtrpcError(Code.DeadlineExceeded, "context deadline exceeded");
}

/** A Response's outcome: its status as an error, or null for OK. */
function responseError(status: Uint8Array): TtrpcError | null {
  if (status.length === 0) return null;
  try {
    const st = decodeStatus(status);
    return st.code === Code.OK ? null : TtrpcError.fromStatus(st);
  } catch (err) {
    return new TtrpcError(Code.Internal, `ttrpc: invalid status in response: ${(err as Error).message}`);
  }
}

function onTimeout(sink: { timer: NodeJS.Timeout | null; expire(): void }): void {
  sink.timer = null;
  sink.expire();
}

/** A unary call in flight; also its abort listener (handleEvent) so no closure is made per call. */
class PendingUnary implements StreamSink {
  id = 0;
  resolve!: (payload: Uint8Array) => void;
  reject!: (err: TtrpcError) => void;
  timer: NodeJS.Timeout | null = null;
  private signal: AbortSignal | null = null;
  private readonly client: TtrpcClient;

  constructor(client: TtrpcClient) {
    this.client = client;
  }

  watch(options: CallOptions | undefined): void {
    if (options === undefined) return;
    if (options.timeoutMs !== undefined) this.timer = setTimeout(onTimeout, options.timeoutMs, this);
    if (options.signal !== undefined) {
      this.signal = options.signal;
      options.signal.addEventListener("abort", this, { once: true });
    }
  }

  private done(): void {
    this.client.forget(this.id, this);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.signal !== null) this.signal.removeEventListener("abort", this);
    this.signal = null;
  }

  handleEvent(): void {
    const signal = this.signal;
    this.done();
    if (signal !== null) this.reject(canceledError(signal));
  }

  expire(): void {
    this.done();
    this.reject(deadlineError());
  }

  onFrame(type: number, _flags: number, data: Buffer): void {
    this.done();
    if (type !== MessageType.Response) {
      this.reject(new TtrpcError(Code.Internal, "ttrpc: protocol error: data message on a unary call"));
      return;
    }
    let res: ReturnType<typeof decodeResponse>;
    try {
      res = decodeResponse(data);
    } catch (err) {
      this.reject(new TtrpcError(Code.Internal, `ttrpc: invalid response: ${(err as Error).message}`));
      return;
    }
    const err = responseError(res.status);
    if (err !== null) this.reject(err);
    else this.resolve(res.payload);
  }

  fail(err: TtrpcError): void {
    this.done();
    this.reject(err);
  }
}

/**
 * A streaming call from the client's side. Implements all three stream shapes; the typed client exposes
 * only the methods that fit the rpc's kind.
 */
export class ClientStream<I, O>
  implements StreamSink, ServerStreamCall<O>, ClientStreamingCall<I, O>, BidiStreamCall<I, O>
{
  id = 0;
  timer: NodeJS.Timeout | null = null;
  private readonly client: TtrpcClient;
  private readonly kind: Exclude<MethodKind, "unary">;
  private readonly encode: (m: I) => Uint8Array;
  private readonly decode: (b: Uint8Array) => O;
  private readonly queue: MessageQueue<Uint8Array>;
  private localClosed: boolean;
  /** Set once the stream ended with an error (sends fail with it too). */
  private error: TtrpcError | null = null;
  private finished = false;
  private signal: AbortSignal | null = null;

  constructor(
    client: TtrpcClient,
    kind: Exclude<MethodKind, "unary">,
    encode: (m: I) => Uint8Array,
    decode: (b: Uint8Array) => O,
  ) {
    this.client = client;
    this.kind = kind;
    this.encode = encode;
    this.decode = decode;
    this.localClosed = !isStreamingClient(kind);
    this.queue = new MessageQueue<Uint8Array>(client.gate);
    this.queue.onStall = () => this.fail(new TtrpcError(Code.ResourceExhausted, "ttrpc: stream buffer full"));
  }

  watch(options: CallOptions | undefined): void {
    if (options === undefined) return;
    if (options.timeoutMs !== undefined) this.timer = setTimeout(onTimeout, options.timeoutMs, this);
    if (options.signal !== undefined) {
      this.signal = options.signal;
      options.signal.addEventListener("abort", this, { once: true });
    }
  }

  private done(): void {
    if (this.finished) return;
    this.finished = true;
    this.client.forget(this.id, this);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.signal !== null) this.signal.removeEventListener("abort", this);
  }

  handleEvent(): void {
    if (this.signal !== null) this.fail(canceledError(this.signal));
  }

  expire(): void {
    this.fail(deadlineError());
  }

  /** Ends the stream with `err`; only a server's error status leaves already received messages readable. */
  fail(err: TtrpcError, keepReceived = false): void {
    if (this.finished) return;
    this.done();
    this.error = err;
    if (!keepReceived) this.queue.discard();
    this.queue.fail(err);
  }

  private end(): void {
    this.done();
    this.queue.end();
  }

  private push(bytes: Uint8Array): void {
    if (!this.queue.push(bytes)) {
      this.fail(new TtrpcError(Code.ResourceExhausted, "ttrpc: stream buffer full"));
    }
  }

  onFrame(type: number, flags: number, data: Buffer): void {
    if (type === MessageType.Response) {
      let res: ReturnType<typeof decodeResponse>;
      try {
        res = decodeResponse(data);
      } catch (err) {
        this.fail(new TtrpcError(Code.Internal, `ttrpc: invalid response: ${(err as Error).message}`));
        return;
      }
      const err = responseError(res.status);
      if (err !== null) {
        this.fail(err, true);
        return;
      }
      // A client stream's answer is the response payload (an empty one is an empty message).
      if (!isStreamingServer(this.kind) || res.payload.length > 0) this.push(res.payload);
      this.end();
      return;
    }
    if (type !== MessageType.Data) return;
    if (!isStreamingServer(this.kind)) {
      this.fail(
        new TtrpcError(Code.Internal, "ttrpc: protocol error: received data from non-streaming server"),
      );
      return;
    }
    const closing = (flags & Flag.RemoteClosed) !== 0;
    // no-data marks "no message" only on the closing frame; elsewhere Go servers use it for empty messages.
    if (!closing || (flags & Flag.NoData) === 0) this.push(data);
    if (closing) this.end();
  }

  async send(message: I): Promise<void> {
    if (this.error !== null) throw this.error;
    if (this.localClosed) throw new TtrpcError(Code.FailedPrecondition, "ttrpc: stream closed");
    if (this.finished) throw new TtrpcError(Code.FailedPrecondition, "ttrpc: stream finished");
    await this.client.sendData(this.id, 0, this.encode(message));
  }

  closeSend(): void {
    if (this.localClosed || this.finished) return;
    this.localClosed = true;
    void this.client.sendData(this.id, Flag.RemoteClosed | Flag.NoData, EMPTY);
  }

  async recv(): Promise<O | undefined> {
    const r = await this.queue.next();
    if (r.done) return undefined;
    try {
      return this.decode(r.value);
    } catch (err) {
      const e =
        err instanceof TtrpcError
          ? err
          : new TtrpcError(Code.Internal, `ttrpc: error unmarshalling payload: ${(err as Error).message}`);
      this.fail(e);
      throw e;
    }
  }

  async closeAndRecv(): Promise<O> {
    this.closeSend();
    const m = await this.recv();
    if (m === undefined) throw new TtrpcError(Code.Internal, "ttrpc: stream ended without a response");
    return m;
  }

  cancel(): void {
    this.fail(new TtrpcError(Code.Canceled, "context canceled"));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<O> {
    try {
      for (;;) {
        const m = await this.recv();
        if (m === undefined) return;
        yield m;
      }
    } finally {
      // Leaving the loop early drops the stream locally.
      if (!this.finished) this.cancel();
    }
  }
}
