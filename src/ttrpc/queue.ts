// The receive side of one stream: messages pushed by the connection's frame loop, pulled by
// `for await` / recv(). Ends normally (end()) or with an error (fail()), whichever comes first.

/** Messages a stream may hold unread before the sender is refused (containerd/ttrpc buffers 64, then
 * blocks its whole connection; we never block the connection, so we allow more and then fail the stream). */
export const STREAM_QUEUE_LIMIT = 1024;

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
    return true;
  }

  end(): void {
    if (this.closed) return;
    this.ended = true;
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
    const cb = this.onReturn;
    this.onReturn = null;
    if (cb !== null) cb();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
