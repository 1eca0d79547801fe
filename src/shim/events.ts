// Events to containerd (TaskCreate, TaskExit, ...). Publishing never blocks a
// Task request: events go into a FIFO queue that one loop drains in order,
// retrying with backoff while containerd is away (restarting), so none is lost
// and none is reordered. Delivery is at least once: containerd killed after
// taking an event and before answering gets it again from the retry (as from
// the Go shims); such a retry is logged with maybeDelivered.
import type { Logger } from "./logger.js";

export interface ShimEvent {
  /** e.g. "/tasks/exit" */
  readonly topic: string;
  /** containerd's type URL of the payload, e.g. "containerd.events.TaskExit" */
  readonly typeUrl: string;
  readonly payload: Uint8Array;
  readonly timestamp: Date;
  /** Whose event it is, for the log. */
  readonly subject?: EventSubject | undefined;
}

export interface EventSubject {
  readonly container: string;
  /** The exec id; absent for the container's init. */
  readonly process?: string;
}

/**
 * A send that failed after the request went out (the connection dropped
 * mid-call, or no answer in time): containerd may have taken the event.
 */
export class MaybeDelivered extends Error {
  override readonly name = "MaybeDelivered";
  constructor(override readonly cause: unknown) {
    super(String(cause));
  }
}

/** Sends one event; rejects when containerd did not take it. */
export type EventSender = (event: ShimEvent) => Promise<void>;

export interface PublisherOptions {
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Bound on queued events; beyond it the oldest non-exit events are dropped (logged). */
  readonly maxQueued?: number;
}

export class EventPublisher {
  private readonly queue: ShimEvent[] = [];
  private running = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private wake: (() => void) | undefined;
  published = 0;
  retries = 0;
  dropped = 0;

  constructor(
    private readonly send: EventSender,
    private readonly log: Logger,
    private readonly opts: PublisherOptions = {},
  ) {}

  publish(topic: string, typeUrl: string, payload: Uint8Array, subject?: EventSubject): void {
    if (this.closed) return;
    const max = this.opts.maxQueued ?? 10_000;
    if (this.queue.length >= max) {
      const victim = this.queue.findIndex((e) => e.topic !== "/tasks/exit");
      const [gone] = this.queue.splice(Math.max(victim, 0), 1);
      this.dropped++;
      this.log.error({ topic: gone?.topic }, "event queue full: dropped the oldest event");
    }
    this.queue.push({ topic, typeUrl, payload, timestamp: new Date(), subject });
    if (!this.running) void this.drain();
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Resolves when every queued event has been accepted by containerd. */
  flushed(): Promise<void> {
    if (this.queue.length === 0 && !this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying; queued events are abandoned (the shim is exiting). */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  private async drain(): Promise<void> {
    this.running = true;
    let backoff = this.opts.initialBackoffMs ?? 50;
    const maxBackoff = this.opts.maxBackoffMs ?? 2_000;
    while (this.queue.length > 0 && !this.closed) {
      const event = this.queue[0]!;
      try {
        await this.send(event);
        this.queue.shift();
        this.published++;
        backoff = this.opts.initialBackoffMs ?? 50;
      } catch (err) {
        this.retries++;
        this.log.warn(
          {
            topic: event.topic,
            ...event.subject,
            err: String(err instanceof MaybeDelivered ? err.cause : err),
            maybeDelivered: err instanceof MaybeDelivered,
            retryInMs: backoff,
          },
          "publish event failed; retrying",
        );
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, backoff);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
        backoff = Math.min(backoff * 2, maxBackoff);
      }
    }
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
