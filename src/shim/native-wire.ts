// The shim's ttrpc connections on the native wire (native/napi_wire.c): accept, read
// and write are syscalls in the addon, and each connection is a small EventEmitter
// with the part of net.Socket the ttrpc server uses. After a containerd restart
// every shim answers a dial and a Connect in turn; a net.Socket per accept and the
// stream machinery per chunk were most of that time (README, Performance).
import { EventEmitter } from "node:events";
import { loadAddon } from "../oci/addon.js";
import type { TtrpcServer, WireListener } from "../ttrpc/server.js";
import type { Peer } from "../ttrpc/service.js";
import type { WireSocket } from "../ttrpc/writer.js";
import type { AnswerBoard } from "./task-answers.js";

export interface NativeWire {
  wireListen(
    fd: number,
    onAccept: (id: number, fd: number, pid: number, uid: number, gid: number) => void,
    onData: (id: number, chunk: Buffer) => void,
    onDrain: (id: number) => void,
    onClose: (id: number, errno: number) => void,
  ): number;
  wireUnlisten(listener: number): void;
  /** Bytes still queued after writing what the socket takes now. */
  wireWrite(id: number, data: Buffer): number;
  wirePause(id: number): void;
  wireResume(id: number): void;
  wireEnd(id: number): void;
  wireDestroy(id: number): void;
  wireAnswer(
    listener: number,
    group: string,
    service: string,
    method: string,
    request: Uint8Array,
    response: Uint8Array,
  ): void;
  wireAnswersClear(listener: number, group?: string): void;
}

const nativeWire = (): NativeWire =>
  loadAddon<NativeWire>([
    "wireListen",
    "wireUnlisten",
    "wireWrite",
    "wirePause",
    "wireResume",
    "wireEnd",
    "wireDestroy",
    "wireAnswer",
    "wireAnswersClear",
  ]);

/** Above this many queued bytes a writer waits for "drain" (net.Socket's default). */
const HIGH_WATER_MARK = 16 * 1024;

class NativeSocket extends EventEmitter implements WireSocket {
  destroyed = false;
  writable = true;
  writableLength = 0;
  readonly writableHighWaterMark = HIGH_WATER_MARK;

  constructor(
    private readonly native: NativeWire,
    readonly id: number,
  ) {
    super();
  }

  get writableNeedDrain(): boolean {
    return this.writableLength > HIGH_WATER_MARK;
  }

  write(data: Buffer): boolean {
    if (!this.writable) return false;
    this.writableLength = this.native.wireWrite(this.id, data);
    return !this.writableNeedDrain;
  }

  // Frames are batched by the writer already; a write goes out at once.
  cork(): void {}
  uncork(): void {}

  pause(): this {
    this.native.wirePause(this.id);
    return this;
  }

  /** The server resumes a connection once it serves it; from then on published answers apply. */
  resume(): this {
    this.native.wireResume(this.id);
    return this;
  }

  end(callback?: () => void): this {
    if (callback !== undefined) this.once("close", callback);
    if (this.writable) {
      this.writable = false;
      this.native.wireEnd(this.id);
    }
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.writable = false;
    this.native.wireDestroy(this.id);
    return this;
  }

  /** From the addon: the connection is closed (errno 0: by either side, cleanly). */
  closed(errno: number): void {
    this.destroyed = true;
    this.writable = false;
    this.writableLength = 0;
    if (errno !== 0) this.emit("error", errnoError(errno));
    this.emit("close");
  }

  drained(): void {
    this.writableLength = 0;
    this.emit("drain");
  }
}

function errnoError(errno: number): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`ttrpc connection failed: errno ${errno}`);
  err.errno = errno;
  return err;
}

/**
 * Serves `server` on the listening unix socket `fd` through the native wire (the fd is its now).
 * The returned board publishes answers the wire gives without calling into JS (src/shim/task-answers.ts).
 */
export function listenNativeWire(
  server: TtrpcServer,
  fd: number,
  native: NativeWire = nativeWire(),
): AnswerBoard {
  // -1 until listening and again once closed (a closed listener's id may be reused).
  let listener = -1;
  server.listenWith((adopt): WireListener => {
    const sockets: Array<NativeSocket | undefined> = [];
    listener = native.wireListen(
      fd,
      (id, connFd, pid, uid, gid) => {
        const socket = new NativeSocket(native, id);
        sockets[id] = socket;
        const peer: Peer = { fd: connFd, credentials: { pid, uid, gid } };
        adopt(socket, peer);
      },
      (id, chunk) => sockets[id]?.emit("data", chunk),
      (id) => sockets[id]?.drained(),
      (id, errno) => {
        const socket = sockets[id];
        sockets[id] = undefined;
        socket?.closed(errno);
      },
    );
    return {
      close: () => {
        native.wireUnlisten(listener);
        listener = -1;
      },
    };
  });
  return {
    set: (group, service, method, request, response) => {
      if (listener >= 0) native.wireAnswer(listener, group, service, method, request, response);
    },
    clear: (group) => {
      if (listener >= 0) native.wireAnswersClear(listener, group);
    },
  };
}
