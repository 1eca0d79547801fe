// Batches a connection's outgoing frames: frames queued during one tick of the event loop leave in a
// single socket write (many small responses to concurrent calls become one syscall).

/**
 * What the writer and a server connection use of a socket: a net.Socket has all of it; the shim's
 * native wire (src/shim/native-wire.ts) implements just this.
 */
export interface WireSocket {
  readonly destroyed: boolean;
  readonly writable: boolean;
  readonly writableNeedDrain: boolean;
  readonly writableLength: number;
  readonly writableHighWaterMark: number;
  write(data: Buffer): boolean;
  cork(): void;
  uncork(): void;
  pause(): unknown;
  resume(): unknown;
  end(callback?: () => void): unknown;
  destroy(): unknown;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  on(event: "close" | "drain", listener: () => void): unknown;
  once(event: "close", listener: () => void): unknown;
}

/** Above this many queued bytes a batch is written with cork/uncork (writev) instead of one copy. */
const CONCAT_LIMIT = 64 * 1024;

function flushWriter(w: FrameWriter): void {
  w.flush();
}

export class FrameWriter {
  private readonly socket: WireSocket;
  private queue: Buffer[] = [];
  private queued = 0;
  private scheduled = false;
  private drainWaiters: Array<() => void> = [];

  constructor(socket: WireSocket) {
    this.socket = socket;
    socket.on("drain", () => this.wakeDrainWaiters());
    socket.on("close", () => this.wakeDrainWaiters());
  }

  push(frame: Buffer): void {
    if (this.socket.destroyed) return;
    this.queue.push(frame);
    this.queued += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushWriter, this);
    }
  }

  flush(): void {
    this.scheduled = false;
    const q = this.queue;
    if (q.length === 0) return;
    const total = this.queued;
    this.queue = [];
    this.queued = 0;
    if (this.socket.destroyed || !this.socket.writable) return;
    if (q.length === 1) {
      this.socket.write(q[0]);
    } else if (total <= CONCAT_LIMIT) {
      this.socket.write(Buffer.concat(q, total));
    } else {
      this.socket.cork();
      for (const b of q) this.socket.write(b);
      this.socket.uncork();
    }
  }

  /** True when the peer is not keeping up and a stream sender should wait for drain(). */
  get congested(): boolean {
    return (
      this.socket.writableNeedDrain ||
      this.queued + this.socket.writableLength > this.socket.writableHighWaterMark
    );
  }

  /**
   * Resolves once the peer has taken what is queued: writes the batch now and waits for 'drain' only if
   * the socket kept part of it (a unix socket usually takes everything at once).
   */
  drain(): Promise<void> {
    if (this.queue.length > 0) this.flush();
    if (this.socket.destroyed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
