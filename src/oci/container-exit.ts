// Exit statuses of container processes. The proc engineer's Reaper
// (src/oci/reaper.ts, `Reaper.instance().watch(pid)`) is the one owner of wait;
// it is used as soon as it is present. TEMPORARY until then: a minimal watcher on
// the same native reaper (SIGCHLD-driven waitid(P_ALL)), which is never started
// when the real Reaper exists.

import { type NativeExit, nativeProc } from "./native-proc.js";

export interface ExitStatus {
  pid: number;
  /** Exit code, or null when a signal killed the process. */
  code: number | null;
  /** Terminating signal, or null. */
  signal: number | null;
  /** Exit code, or 128 + signal (what containerd reports). */
  status: number;
  /** CLOCK_REALTIME of the reap, in nanoseconds. */
  exitedAt: bigint;
}

type Watch = (pid: number) => Promise<ExitStatus>;

function toStatus(v: unknown, pid: number): ExitStatus {
  const r = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  const code = typeof r["code"] === "number" ? r["code"] : null;
  const signal = typeof r["signal"] === "number" && r["signal"] !== 0 ? r["signal"] : null;
  const status = typeof r["status"] === "number" ? r["status"] : signal !== null ? 128 + signal : (code ?? 0);
  const at = r["exitedAt"];
  const exitedAt =
    typeof at === "bigint"
      ? at
      : typeof at === "number"
        ? BigInt(Math.trunc(at))
        : BigInt(Date.now()) * 1_000_000n;
  return { pid, code: signal !== null ? null : code, signal, status, exitedAt };
}

/** TEMPORARY fallback watcher (see the header). */
class FallbackWatcher {
  private readonly waiting = new Map<number, (e: ExitStatus) => void>();
  private readonly early = new Map<number, NativeExit>();
  private started = false;

  watch(pid: number): Promise<ExitStatus> {
    this.start();
    const done = this.early.get(pid);
    if (done !== undefined) {
      this.early.delete(pid);
      return Promise.resolve(toStatus(done, pid));
    }
    return new Promise((resolve) => {
      this.waiting.set(pid, resolve);
      nativeProc().reaperRef(true);
    });
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    const n = nativeProc();
    n.reaperStart((exits) => this.deliver(exits));
    n.reaperRef(false);
    this.deliver(n.reaperDrain());
  }

  private deliver(exits: NativeExit[]): void {
    for (const e of exits) {
      const w = this.waiting.get(e.pid);
      if (w !== undefined) {
        this.waiting.delete(e.pid);
        w(toStatus(e, e.pid));
      } else if (this.early.size < 4096) {
        this.early.set(e.pid, e);
      }
    }
    if (this.waiting.size === 0) nativeProc().reaperRef(false);
  }
}

let watchFn: Watch | undefined;
let loading: Promise<Watch> | undefined;

async function resolveWatch(): Promise<Watch> {
  // A computed specifier: the module may not exist yet in this tree.
  const spec = "./reaper.js";
  try {
    const mod: unknown = await import(spec);
    const Reaper = (mod as Record<string, unknown>)["Reaper"];
    const instance = (Reaper as { instance?: unknown } | undefined)?.instance;
    if (typeof instance === "function") {
      const reaper: unknown = instance.call(Reaper);
      const w = (reaper as { watch?: unknown }).watch;
      if (typeof w === "function") {
        return async (pid) => toStatus(await (w as (p: number) => Promise<unknown>).call(reaper, pid), pid);
      }
    }
  } catch {
    // not there yet: fall back
  }
  const fb = new FallbackWatcher();
  return (pid) => fb.watch(pid);
}

/** Must be awaited once before the first spawn, so the watcher is running when a child exits. */
export async function exitWatcher(): Promise<Watch> {
  if (watchFn !== undefined) return watchFn;
  loading ??= resolveWatch();
  watchFn = await loading;
  return watchFn;
}
