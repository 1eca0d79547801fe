// The daemon's memory policy. A shim spends nearly all its life idle, but
// keeps what it grew while loading its modules and serving a Create: V8's
// young generation stays at the size it reached (MiBs) and glibc keeps freed
// malloc pages, all of it private dirty memory that every shim on the node
// pays. Once the daemon has been idle for a moment it gives them back: V8's
// memory-reducing collection (~25 ms on the JS thread), then malloc_trim.
// V8 does this by itself only 8 s after its last full GC, and only if one
// happened. Effect measured in README.md, Performance.
import { constants, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks";
import { loadAddon } from "../oci/addon.js";

interface NativeMemory {
  memoryTrim(): boolean;
  memoryCompactHeap(): boolean;
}

/** Idle time after the last Task API call (start or end) before compacting. */
export const DEFAULT_COMPACT_IDLE_MS = 500;

/**
 * Runs `compact` once the daemon has been idle for `idleMs`: every touch()
 * restarts the countdown, so a burst of calls (Create, Start, a run of
 * execs) is never interrupted by a collection.
 */
export class IdleCompactor {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  /** How many compactions ran (tests, debugging). */
  compactions = 0;

  constructor(
    private readonly compact: () => void,
    private readonly idleMs: number = DEFAULT_COMPACT_IDLE_MS,
  ) {}

  /**
   * Activity: restarts the idle countdown. Only the time is noted; the one
   * timer re-arms itself for the rest when it fires early, so a call costs no
   * timer of its own (a restarted containerd's Connect is on its critical path).
   */
  touch(): void {
    if (this.idleMs <= 0) return;
    this.last = Date.now();
    if (this.timer === undefined) this.arm(this.idleMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.expire(), ms);
    // An idle countdown never keeps the daemon alive.
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    const idle = Date.now() - this.last;
    if (idle < this.idleMs) {
      this.arm(this.idleMs - idle);
      return;
    }
    this.compactions++;
    this.compact();
  }
}

/**
 * The same service with every handler touching `compactor` when it is called
 * and when its promise settles (Wait settles when the process exits).
 */
export function compactWhenIdle<T extends object>(impl: T, compactor: IdleCompactor): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, handler] of Object.entries(impl)) {
    if (typeof handler !== "function") {
      wrapped[name] = handler;
      continue;
    }
    wrapped[name] = (...args: unknown[]): unknown => {
      compactor.touch();
      const out: unknown = Reflect.apply(handler, impl, args);
      if (out instanceof Promise) return out.finally(() => compactor.touch());
      return out;
    };
  }
  return wrapped as T;
}

const nativeMemory = (): NativeMemory => loadAddon<NativeMemory>(["memoryTrim", "memoryCompactHeap"]);

/** Hands free memory back: V8 first (it frees malloc'd memory as it collects), then malloc. */
export function compactNow(native: NativeMemory = nativeMemory()): void {
  native.memoryCompactHeap();
  native.memoryTrim();
}

/** A gc entry's kind (Node's NodeGCPerformanceDetail; @types/node 20 does not declare `detail`). */
function gcKind(entry: PerformanceEntry): number | undefined {
  return (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
}

/**
 * The compaction of a shim forked off a spare (src/shim/spare.ts). It shares
 * the spare's heap until it writes to it, and a full collection writes to
 * nearly every page of it (measured: +7 MiB of private dirty memory, where
 * compacting saves ~1), so it only trims malloc until V8 has run a full
 * collection by itself: from then on the heap is its own and compacting it
 * pays again (README, Performance).
 */
export function forkedCompaction(native: NativeMemory = nativeMemory()): () => void {
  let heapIsOwn = false;
  const observer = new PerformanceObserver((list) => {
    const major = list.getEntries().some((e) => gcKind(e) === constants.NODE_PERFORMANCE_GC_MAJOR);
    if (!major) return;
    heapIsOwn = true;
    observer.disconnect();
  });
  observer.observe({ entryTypes: ["gc"] });
  return () => (heapIsOwn ? compactNow(native) : void native.memoryTrim());
}

/**
 * The daemon's compactor, already counting down (a daemon that just booted
 * is idle). TSSHIM_COMPACT_IDLE_MS sets the idle time; 0 turns it off.
 */
export function daemonCompactor(
  env: NodeJS.ProcessEnv = process.env,
  compact: () => void = () => compactNow(),
): IdleCompactor {
  const raw = env["TSSHIM_COMPACT_IDLE_MS"];
  const parsed = raw === undefined || raw === "" ? Number.NaN : Number(raw);
  const idleMs = Number.isInteger(parsed) && parsed >= 0 ? parsed : DEFAULT_COMPACT_IDLE_MS;
  const compactor = new IdleCompactor(compact, idleMs);
  compactor.touch();
  return compactor;
}
