// Watches containerd's event stream (Events.Subscribe over gRPC) for a test.
// start() returns only once the subscription is live: it publishes a marker
// event and waits to receive it, so no event of a later action is missed.
import { create } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import type { Envelope } from "../../src/api/gen/containerd/services/events/v1/events_pb.js";
import { packAny } from "../../src/api/typeurl.js";
import type { ContainerdClient, ServerStream } from "./grpc.js";

export const READY_TOPIC = "/tsshim-harness/ready";

type Waiter = { match: (e: Envelope) => boolean; resolve: (e: Envelope) => void };

export class EventWatcher {
  /** Every envelope received, in order (markers excluded). */
  readonly received: Envelope[] = [];
  private readonly waiters = new Set<Waiter>();
  private failure: unknown;
  private readonly stream: ServerStream<Envelope>;
  private readonly pump: Promise<void>;

  private constructor(stream: ServerStream<Envelope>) {
    this.stream = stream;
    this.pump = this.run();
  }

  /** Subscribes with `filters` (containerd filter syntax, e.g. `topic~="/tasks/"`). */
  static async start(
    client: ContainerdClient,
    filters: string[] = [],
    timeoutMs = 5_000,
  ): Promise<EventWatcher> {
    const w = new EventWatcher(client.events.subscribe({ filters }));
    const seen = w.next((e) => e.topic === READY_TOPIC, timeoutMs, true);
    // Publish until the marker comes back: the first may precede the subscription.
    const deadline = Date.now() + timeoutMs;
    let got = false;
    void seen.then(() => {
      got = true;
    });
    while (!got && Date.now() < deadline) {
      await client.events.publish({ topic: READY_TOPIC, event: packAny(EmptySchema, create(EmptySchema)) });
      await Promise.race([seen, new Promise((r) => setTimeout(r, 100))]);
    }
    await seen.catch((err: unknown) => {
      w.close();
      throw new Error(`event subscription not live: ${String(err)}`);
    });
    return w;
  }

  private async run(): Promise<void> {
    try {
      for await (const env of this.stream) {
        if (env.topic !== READY_TOPIC) this.received.push(env);
        for (const w of [...this.waiters]) {
          if (w.match(env)) {
            this.waiters.delete(w);
            w.resolve(env);
          }
        }
      }
    } catch (err) {
      this.failure = err;
    }
  }

  /** The first envelope matching `match`: already received (unless onlyFuture) or to come. */
  next(match: (e: Envelope) => boolean, timeoutMs = 10_000, onlyFuture = false): Promise<Envelope> {
    if (!onlyFuture) {
      const old = this.received.find(match);
      if (old) return Promise.resolve(old);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const topics = this.received.map((e) => e.topic).join(", ");
        reject(
          new Error(
            `no matching event within ${timeoutMs} ms (received: ${topics || "none"}; ${this.failure ?? ""})`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  close(): Promise<void> {
    this.stream.cancel();
    return this.pump;
  }
}
