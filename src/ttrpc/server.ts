// ttrpc server: accepts unix-socket connections (on a path or a pre-opened listening fd) and serves
// registered services, following containerd/ttrpc's server behaviour frame by frame.
import { lstat, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { decodeRequest, encodeResponseFrame, responseSize } from "./envelope.js";
import { encodeFrame, Flag, FrameDecoder, type FrameSink, MESSAGE_LENGTH_MAX, MessageType } from "./frame.js";
import { Metadata } from "./metadata.js";
import { MessageQueue, ReadGate } from "./queue.js";
import {
  type CallContext,
  isStreamingClient,
  isStreamingServer,
  type MessageCodec,
  type MethodEntry,
  methodEntries,
  type Peer,
  type PeerCredentials,
  type ServiceImpl,
} from "./service.js";
import { Code, encodeStatus, TtrpcError, toTtrpcError } from "./status.js";
import { FrameWriter, type WireSocket } from "./writer.js";

export interface ServerOptions {
  /** Reads SO_PEERCRED of an accepted socket's fd (Node cannot; the native addon can). */
  peerCredentials?: ((fd: number) => PeerCredentials) | undefined;
  /** Decides whether a new connection may stay; false (or a throw/rejection) closes it at once. */
  authorize?: ((peer: Peer) => boolean | Promise<boolean>) | undefined;
  /** Told about failures that have no caller to go to (a refused connection, a listener error). */
  onError?: ((err: unknown, context: string) => void) | undefined;
}

export type ListenTarget = string | { path: string } | { fd: number };

/** A transport of the caller's that hands accepted connections to the server (see listenWith). */
export interface WireListener {
  close(): void;
}

const EMPTY = new Uint8Array(0);
const EMPTY_METADATA: ReadonlyArray<[string, string]> = [];
/** setTimeout cannot wait longer than this; longer deadlines are simply not armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class TtrpcServer {
  private readonly services = new Map<string, Map<string, MethodEntry>>();
  private readonly listeners = new Set<Server | WireListener>();
  private readonly connections = new Set<ServerConnection>();
  private draining = false;
  private closed = false;
  readonly options: ServerOptions;

  constructor(options: ServerOptions = {}) {
    this.options = options;
  }

  /**
   * Serves `impl` as the service `desc` (wire name: the proto full name, or `options.name` to serve the
   * same implementation under another name too). Methods missing from impl answer Unimplemented.
   */
  register<S extends GenServiceMethods>(
    desc: GenService<S>,
    impl: ServiceImpl<S>,
    options?: { name?: string; codecs?: ReadonlyMap<string, MessageCodec> },
  ): this {
    const name = options?.name ?? desc.typeName;
    this.addService(name, methodEntries(desc, impl, options?.codecs));
    return this;
  }

  /** Registers untyped methods (bytes in, bytes out, or any codec) under a wire service name. */
  registerMethods(service: string, methods: Iterable<MethodEntry>): this {
    const table = new Map<string, MethodEntry>();
    for (const m of methods) table.set(m.name, m);
    this.addService(service, table);
    return this;
  }

  private addService(name: string, table: Map<string, MethodEntry>): void {
    if (this.services.has(name)) throw new Error(`ttrpc: duplicate service ${name} registered`);
    this.services.set(name, table);
  }

  /** @internal */
  lookup(service: string): Map<string, MethodEntry> | undefined {
    return this.services.get(service);
  }

  /**
   * Starts accepting on a unix socket path (a stale socket file left there is removed; a live one is an
   * EADDRINUSE error) or on an already-listening socket fd handed to this process.
   */
  async listen(target: ListenTarget): Promise<void> {
    if (this.closed || this.draining) throw new Error("ttrpc: server closed");
    const server = createServer({ allowHalfOpen: false }, (socket) => this.accept(socket));
    const path = typeof target === "string" ? target : "path" in target ? target.path : null;
    if (path !== null) await removeStaleSocket(path);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      const done = (): void => {
        server.off("error", reject);
        resolve();
      };
      if (path !== null) server.listen(path, done);
      else server.listen({ fd: (target as { fd: number }).fd }, done);
    });
    server.on("error", (err) => this.report(err, "listener"));
    this.listeners.add(server);
  }

  /**
   * Accepts through the caller's own transport: `open` starts it and hands every accepted connection,
   * with its peer, to `adopt`; shutdown and close stop it like a listener.
   */
  listenWith(open: (adopt: (socket: WireSocket, peer: Peer) => void) => WireListener): void {
    if (this.closed || this.draining) throw new Error("ttrpc: server closed");
    this.listeners.add(open((socket, peer) => this.adopt(socket, peer)));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Graceful stop: no new connections; idle connections close now, busy ones as soon as their calls have
   * finished (requests that still arrive on them are served, as containerd/ttrpc does). With `timeoutMs`,
   * whatever is still open then is closed by force.
   */
  async shutdown(options: { timeoutMs?: number | undefined } = {}): Promise<void> {
    this.draining = true;
    this.closeListeners();
    const all = Promise.all([...this.connections].map((c) => c.drain()));
    if (options.timeoutMs === undefined) {
      await all;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"timeout">((resolve) => {
      timer = setTimeout(resolve, options.timeoutMs, "timeout");
    });
    const r = await Promise.race([all, expired]);
    clearTimeout(timer);
    if (r === "timeout") await this.close();
  }

  /** Stops at once: listeners and connections close; running handlers see their signal aborted. */
  async close(): Promise<void> {
    this.closed = true;
    this.draining = true;
    this.closeListeners();
    await Promise.all(
      [...this.connections].map((c) => c.destroy(new TtrpcError(Code.Canceled, "ttrpc: server closed"))),
    );
  }

  private closeListeners(): void {
    for (const l of this.listeners) l.close();
    this.listeners.clear();
  }

  /** @internal */
  get isDraining(): boolean {
    return this.draining;
  }

  /** @internal */
  forget(conn: ServerConnection): void {
    this.connections.delete(conn);
  }

  /** @internal */
  report(err: unknown, context: string): void {
    this.options.onError?.(err, context);
  }

  private accept(socket: Socket): void {
    const fd = socketFd(socket);
    let credentials: PeerCredentials | undefined;
    if (this.options.peerCredentials !== undefined && fd >= 0) {
      try {
        credentials = this.options.peerCredentials(fd);
      } catch (err) {
        this.report(err, "peer credentials");
        socket.destroy();
        return;
      }
    }
    this.adopt(socket, { fd, credentials });
  }

  /** An accepted connection, its peer known: authorize, then serve. */
  private adopt(socket: WireSocket, peer: Peer): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    socket.on("error", (err) => this.report(err, "connection"));
    const authorize = this.options.authorize;
    if (authorize === undefined) {
      this.serve(socket, peer);
      return;
    }
    // A synchronous answer serves at once (containerd dials every shim in
    // turn after a restart); nothing is read until the hook has said yes.
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = authorize(peer);
    } catch (err) {
      this.report(err, "authorize");
      socket.destroy();
      return;
    }
    if (verdict === true) {
      this.serve(socket, peer);
      return;
    }
    socket.pause();
    Promise.resolve(verdict).then(
      (ok) => {
        if (ok === false) {
          this.report(new Error("ttrpc: connection refused by authorize hook"), "authorize");
          socket.destroy();
        } else if (this.draining) socket.destroy();
        else this.serve(socket, peer);
      },
      (err: unknown) => {
        this.report(err, "authorize");
        socket.destroy();
      },
    );
  }

  private serve(socket: WireSocket, peer: Peer): void {
    if (socket.destroyed) return;
    const conn = new ServerConnection(this, socket, peer);
    this.connections.add(conn);
    socket.resume();
  }
}

/** The fd under a net.Socket or net.Server (libuv's handle); -1 when it cannot be seen. */
export function socketFd(socket: Socket | Server): number {
  const handle: unknown = (socket as unknown as { _handle?: unknown })._handle;
  if (typeof handle === "object" && handle !== null && "fd" in handle) {
    const fd = (handle as { fd: unknown }).fd;
    if (typeof fd === "number") return fd;
  }
  return -1;
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new Error(`ttrpc: ${path} exists and is not a socket`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (live) {
    const err: NodeJS.ErrnoException = new Error(`ttrpc: ${path} is in use by a live server`);
    err.code = "EADDRINUSE";
    throw err;
  }
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
}

/** One accepted connection: decodes frames, routes them to calls, writes answers. */
class ServerConnection implements FrameSink {
  readonly server: TtrpcServer;
  readonly socket: WireSocket;
  readonly peer: Peer;
  readonly writer: FrameWriter;
  /** Calls not yet answered, by stream id (where Data frames are routed). */
  readonly calls = new Map<number, ServerCall>();
  /** Handlers still running (a call answered by its deadline may still be running). */
  active = 0;
  private lastStreamId = 0;
  private readonly decoder: FrameDecoder;
  readonly gate: ReadGate;
  private gone = false;
  private readonly closed: Promise<void>;

  constructor(server: TtrpcServer, socket: WireSocket, peer: Peer) {
    this.server = server;
    this.socket = socket;
    this.peer = peer;
    this.writer = new FrameWriter(socket);
    this.decoder = new FrameDecoder(this);
    this.gate = new ReadGate(socket);
    this.closed = new Promise((resolve) => socket.once("close", resolve));
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.once("close", () => this.onClose());
  }

  private receive(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
    } catch (err) {
      // A bug must cost this connection, never the process.
      this.server.report(err, "connection");
      void this.destroy(new TtrpcError(Code.Internal, `ttrpc: ${(err as Error).message}`));
    }
  }

  private onClose(): void {
    this.gone = true;
    this.server.forget(this);
    if (this.calls.size === 0) return;
    const reason = new TtrpcError(Code.Canceled, "ttrpc: connection closed");
    for (const call of this.calls.values()) call.abort(reason);
    this.calls.clear();
  }

  drain(): Promise<void> {
    this.closeIfIdle();
    return this.closed;
  }

  destroy(reason: TtrpcError): Promise<void> {
    for (const call of this.calls.values()) call.abort(reason);
    this.socket.destroy();
    return this.closed;
  }

  /** While the server drains, a connection closes once nothing is running on it. */
  closeIfIdle(): void {
    if (this.gone || this.active > 0 || this.calls.size > 0) return;
    this.gone = true;
    this.writer.flush();
    this.socket.end(() => this.socket.destroy());
  }

  settled(): void {
    this.active--;
    if (this.server.isDraining) this.closeIfIdle();
  }

  /** Answers `streamId` with an error status; a live call on that id ends with it. */
  sendStatus(streamId: number, code: Code, message: string): void {
    const err = new TtrpcError(code, message);
    const call = this.calls.get(streamId);
    if (call !== undefined) call.fail(err);
    else this.writer.push(encodeResponseFrame(streamId, encodeStatus(err), EMPTY));
  }

  onOversized(streamId: number, _type: number, _flags: number, length: number): void {
    this.sendStatus(
      streamId,
      Code.ResourceExhausted,
      `message length ${length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
    );
  }

  onFrame(streamId: number, type: number, flags: number, data: Buffer): void {
    if (this.gone) return;
    if (streamId % 2 !== 1) {
      this.sendStatus(streamId, Code.InvalidArgument, "StreamID must be odd for client initiated streams");
      return;
    }
    if (type === MessageType.Request) this.onRequest(streamId, flags, data);
    else if (type === MessageType.Data) this.onData(streamId, flags, data);
    // Other message types are ignored, for forward compatibility (as containerd/ttrpc does).
  }

  private onData(streamId: number, flags: number, data: Buffer): void {
    const call = this.calls.get(streamId);
    if (call === undefined) {
      this.sendStatus(streamId, Code.InvalidArgument, "StreamID is no longer active");
      return;
    }
    const inbound = call.inbound;
    if ((flags & Flag.NoData) === 0) {
      if (inbound === null || inbound.closed) {
        call.fail(new TtrpcError(Code.InvalidArgument, "data handling error: ttrpc: stream closed"));
        return;
      }
      if (!inbound.push(data)) {
        call.fail(new TtrpcError(Code.ResourceExhausted, "data handling error: ttrpc: stream buffer full"));
        return;
      }
    }
    if ((flags & Flag.RemoteClosed) !== 0) inbound?.end();
  }

  private onRequest(streamId: number, flags: number, data: Buffer): void {
    if (streamId <= this.lastStreamId) {
      this.sendStatus(streamId, Code.InvalidArgument, "StreamID cannot be re-used and must increment");
      return;
    }
    this.lastStreamId = streamId;
    let req: ReturnType<typeof decodeRequest>;
    try {
      req = decodeRequest(data);
    } catch (err) {
      this.sendStatus(streamId, Code.InvalidArgument, `unmarshal request error: ${(err as Error).message}`);
      return;
    }
    const methods = this.server.lookup(req.service);
    if (methods === undefined) {
      this.sendStatus(streamId, Code.Unimplemented, `service ${req.service}`);
      return;
    }
    const entry = methods.get(req.method);
    if (entry === undefined) {
      this.sendStatus(streamId, Code.Unimplemented, `method ${req.method}`);
      return;
    }
    if (req.timeoutNano < 0) {
      this.writer.push(encodeResponseFrame(streamId, encodeStatus(deadlineError()), EMPTY));
      return;
    }
    const call = new ServerCall(this, streamId, entry, req.service, req.metadata);
    this.calls.set(streamId, call);
    if (req.timeoutNano > 0) call.arm(req.timeoutNano);
    this.active++;
    if (entry.kind === "unary") {
      runUnary(call, req.payload);
      return;
    }
    if (isStreamingClient(entry.kind)) {
      const inbound = new MessageQueue<Uint8Array>(this.gate);
      inbound.onStall = () =>
        call.fail(new TtrpcError(Code.ResourceExhausted, "data handling error: ttrpc: stream buffer full"));
      call.inbound = inbound;
      // A request payload, if any, is the first message (containerd/ttrpc does the same).
      if (req.payload.length > 0) inbound.push(req.payload);
      if ((flags & Flag.RemoteOpen) === 0) inbound.end();
    }
    void runStreaming(call, req.payload);
  }
}

function deadlineError(): TtrpcError {
  return new TtrpcError(Code.DeadlineExceeded, "context deadline exceeded");
}

function onCallDeadline(call: ServerCall): void {
  call.timer = null;
  call.fail(deadlineError());
}

/** One call, from its request frame to its final answer; also the handler's CallContext. */
class ServerCall implements CallContext {
  readonly conn: ServerConnection;
  readonly streamId: number;
  readonly entry: MethodEntry;
  readonly service: string;
  deadline: number | undefined = undefined;
  timer: NodeJS.Timeout | null = null;
  inbound: MessageQueue<Uint8Array> | null = null;
  /** The final answer went out (or can no longer go out). */
  done = false;
  private rawMetadata: ReadonlyArray<[string, string]>;
  private md: Metadata | null = null;
  private controller: AbortController | null = null;
  private abortReason: TtrpcError | null = null;

  constructor(
    conn: ServerConnection,
    streamId: number,
    entry: MethodEntry,
    service: string,
    metadata: Array<[string, string]>,
  ) {
    this.conn = conn;
    this.streamId = streamId;
    this.entry = entry;
    this.service = service;
    this.rawMetadata = metadata.length > 0 ? metadata : EMPTY_METADATA;
  }

  get method(): string {
    return this.entry.name;
  }

  get peer(): Peer {
    return this.conn.peer;
  }

  get metadata(): Metadata {
    this.md ??= new Metadata(this.rawMetadata);
    return this.md;
  }

  // Most handlers never look at the signal: create the AbortController only when one does.
  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.abortReason !== null) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  arm(timeoutNano: number): void {
    const ms = Math.ceil(timeoutNano / 1e6);
    this.deadline = Date.now() + ms;
    if (ms <= MAX_TIMER_MS) this.timer = setTimeout(onCallDeadline, ms, this);
  }

  abort(reason: TtrpcError): void {
    this.finish();
    if (this.abortReason !== null) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    // The handler is told to stop; what it has not read yet must not hold the connection's reads.
    this.inbound?.discard();
    this.inbound?.fail(reason);
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.conn.calls.delete(this.streamId);
    return true;
  }

  /** Final answer: a Response carrying `payload`. */
  respond(payload: Uint8Array): void {
    if (this.done) return;
    if (responseSize(EMPTY, payload) > MESSAGE_LENGTH_MAX) {
      this.fail(oversizedReply(payload.length));
      return;
    }
    this.finish();
    this.conn.writer.push(encodeResponseFrame(this.streamId, EMPTY, payload));
  }

  /** Final answer: a Response carrying the error's status; the handler (if running) is told to stop. */
  fail(err: TtrpcError): void {
    if (this.done) return;
    this.finish();
    this.conn.writer.push(encodeResponseFrame(this.streamId, encodeStatus(err), EMPTY));
    this.abort(err);
  }

  /** One streamed message to the client. */
  send(payload: Uint8Array): void {
    if (this.done) return;
    if (payload.length > MESSAGE_LENGTH_MAX) throw oversizedReply(payload.length);
    this.conn.writer.push(encodeFrame(this.streamId, MessageType.Data, 0, payload));
  }

  /** End of a server stream: a data frame with remote-closed and no data. */
  closeStream(): void {
    if (this.done) return;
    this.finish();
    this.conn.writer.push(
      encodeFrame(this.streamId, MessageType.Data, Flag.RemoteClosed | Flag.NoData, EMPTY),
    );
  }
}

function oversizedReply(length: number): TtrpcError {
  return new TtrpcError(
    Code.ResourceExhausted,
    `message length ${length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
  );
}

function decodeInput(entry: MethodEntry, bytes: Uint8Array): unknown {
  try {
    return entry.decode(bytes);
  } catch (err) {
    throw new TtrpcError(Code.Internal, `ttrpc: error unmarshalling payload: ${(err as Error).message}`);
  }
}

/** A unary call; a handler that answers synchronously is answered without a promise. */
function runUnary(call: ServerCall, payload: Uint8Array): void {
  let output: unknown;
  try {
    output = call.entry.handler(decodeInput(call.entry, payload), call);
  } catch (err) {
    failUnary(call, err);
    return;
  }
  if (output instanceof Promise)
    output.then(
      (o: unknown) => answerUnary(call, o),
      (err: unknown) => failUnary(call, err),
    );
  else answerUnary(call, output);
}

function answerUnary(call: ServerCall, output: unknown): void {
  try {
    if (!call.done) call.respond(call.entry.encode(output));
  } catch (err) {
    call.fail(toTtrpcError(err));
  }
  call.conn.settled();
}

function failUnary(call: ServerCall, err: unknown): void {
  call.fail(toTtrpcError(err));
  call.conn.settled();
}

/** Decoded view of a stream's inbound bytes, for the handler's `for await`. */
async function* decodedInbound(call: ServerCall, inbound: MessageQueue<Uint8Array>): AsyncGenerator<unknown> {
  for await (const bytes of inbound) yield decodeInput(call.entry, bytes);
}

async function runStreaming(call: ServerCall, payload: Uint8Array): Promise<void> {
  const { entry, conn } = call;
  try {
    const input = call.inbound !== null ? decodedInbound(call, call.inbound) : decodeInput(entry, payload);
    const result = entry.handler(input, call);
    if (isStreamingServer(entry.kind)) {
      if (typeof result !== "object" || result === null || !(Symbol.asyncIterator in result)) {
        throw new TtrpcError(Code.Internal, "ttrpc: streaming handler returned no async iterable");
      }
      for await (const message of result as AsyncIterable<unknown>) {
        if (call.done) break;
        call.send(entry.encode(message));
        if (conn.writer.congested) await conn.writer.drain();
      }
      call.closeStream();
    } else {
      const output = await result;
      if (!call.done) call.respond(entry.encode(output));
    }
  } catch (err) {
    call.fail(toTtrpcError(err));
  } finally {
    conn.settled();
  }
}
