// The shim's one owner of wait(): a per-process Reaper over the native SIGCHLD drain.
//
// Every exited child (our own processes and every orphan reparented to us as a child
// subreaper) is reaped natively and dispatched here: to the watchers of its pid, or
// kept in a small table so a watch() that comes after the exit still resolves. A
// process that uses the Reaper must not use node:child_process: the native drain
// waits with P_ALL and would take those children's statuses.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { isNativeError, type NativeExit, type NativeProc, nativeProc } from "./native-proc.js";

/** How a process ended, as containerd reports it. */
export interface ExitStatus {
  pid: number;
  /** Exit code, or null when a signal killed the process. */
  code: number | null;
  /** The terminating signal, or null for a normal exit. */
  signal: number | null;
  /** The exit code, or 128 + signal for a signal death. */
  status: number;
  coreDumped: boolean;
  /** Reap time, CLOCK_REALTIME nanoseconds. */
  exitedAt: bigint;
}

export function exitedAtDate(s: ExitStatus): Date {
  return new Date(Number(s.exitedAt / 1_000_000n));
}

export interface WatchOptions {
  /** A pidfd of the process: tells a pid reused by a new process from the one that exited. */
  pidfd?: number;
}

export interface SpawnOptions {
  /** Program path, or a bare name searched in PATH (from env, else the shim's). */
  file: string;
  /** argv including argv[0]; defaults to [file]. */
  args?: readonly string[];
  /** Exactly the child's environment; defaults to empty. */
  env?: readonly string[];
  cwd?: string;
  /** fds[i] becomes child fd i (-1: /dev/null); everything else is closed. Default [-1, -1, -1]. */
  fds?: readonly number[];
  setsid?: boolean;
  newProcessGroup?: boolean;
}

/** A process started by Reaper.spawn. Its pidfd is closed once the exit is delivered. */
export class SpawnedProcess {
  readonly exited: Promise<ExitStatus>;
  #pidfd: number;

  constructor(
    private readonly native: NativeProc,
    readonly pid: number,
    pidfd: number,
    exited: Promise<ExitStatus>,
  ) {
    this.#pidfd = pidfd;
    this.exited = exited.finally(() => {
      if (this.#pidfd >= 0) native.closeFd(this.#pidfd);
      this.#pidfd = -1;
    });
  }

  /** The pidfd while the exit is not yet delivered, else -1. */
  get pidfd(): number {
    return this.#pidfd;
  }

  /** Signals the process through its pidfd; false when it has already exited. */
  kill(signal: number): boolean {
    if (this.#pidfd < 0) return false;
    try {
      this.native.pidfdSendSignal(this.#pidfd, signal);
      return true;
    } catch (e) {
      if (isNativeError(e) && e.code === "ESRCH") return false;
      throw e;
    }
  }
}

type Waiter = { resolve: (s: ExitStatus) => void };

/** Exits of processes the shim created but has not watched yet. */
const UNCLAIMED_MAX = 4096;
/** Orphans' and already-delivered exits, for late or repeated watches. */
const RECENT_MAX = 1024;

export class Reaper {
  static #instance: Reaper | undefined;

  /** The process's reaper; starts the native SIGCHLD drain on first use. */
  static instance(): Reaper {
    Reaper.#instance ??= new Reaper(nativeProc());
    return Reaper.#instance;
  }

  readonly #native: NativeProc;
  readonly #waiters = new Map<number, Waiter[]>();
  readonly #expected = new Set<number>();
  readonly #unclaimed = new Map<number, ExitStatus>();
  readonly #recent = new Map<number, { exit: ExitStatus; claimed: boolean }>();
  #orphans = 0;
  #onOrphan: ((exit: ExitStatus) => void) | undefined;
  #onError: ((error: Error) => void) | undefined;
  #refd = false;

  private constructor(native: NativeProc) {
    this.#native = native;
    native.reaperStart((exits, error) => {
      for (const e of exits) this.#dispatch(e);
      if (error !== undefined) this.#reportError(error);
    });
    // Children that exited before the drain existed.
    try {
      for (const e of native.reaperDrain()) this.#dispatch(e);
    } catch (e) {
      const exits = (e as { exits?: unknown }).exits;
      if (Array.isArray(exits)) for (const x of exits as NativeExit[]) this.#dispatch(x);
      this.#reportError(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Makes this process a child subreaper: orphans of its descendants come here. */
  setSubreaper(): void {
    this.#native.setSubreaper();
  }

  /** Orphans reaped so far: exits of pids that were neither watched nor expected. */
  get orphansReaped(): number {
    return this.#orphans;
  }

  /** Pids with a pending watch (while > 0 the reaper keeps the event loop alive). */
  get watchedCount(): number {
    return this.#waiters.size;
  }

  onOrphan(cb: ((exit: ExitStatus) => void) | undefined): void {
    this.#onOrphan = cb;
  }

  /** Where a failed drain is reported (default: thrown as an uncaught exception). */
  onError(cb: ((error: Error) => void) | undefined): void {
    this.#onError = cb;
  }

  /** Announces a pid the shim created and will watch: its exit is kept until claimed and
   * never counted as an orphan. Call it right after creating the process; pass its
   * pidfd when there is one. */
  expect(pid: number, pidfd?: number): void {
    const alive = pidfd !== undefined ? this.#pidfdAlive(pidfd) : this.#pidAlive(pid);
    if (!alive) return; // Already reaped: the stored exit is this process's, keep it for watch().
    this.#expected.add(pid);
    // The new process owns the pid now: an older exit stored under it is stale.
    this.#unclaimed.delete(pid);
    this.#recent.delete(pid);
  }

  /** Resolves with the exit of pid, also when it has already been reaped. pid must be a
   * child of this process (or a descendant that will be reparented to it as subreaper):
   * a watch on any other live process never resolves. */
  watch(pid: number, opts: WatchOptions = {}): Promise<ExitStatus> {
    if (!Number.isInteger(pid) || pid <= 0) return Promise.reject(new RangeError(`invalid pid ${pid}`));
    const alive = opts.pidfd !== undefined ? this.#pidfdAlive(opts.pidfd) : this.#pidAlive(pid);
    const pending = this.#unclaimed.get(pid);
    const recent = this.#recent.get(pid);
    if (opts.pidfd !== undefined && alive) {
      // Running or a zombie not yet drained: any stored exit belongs to an older process.
      this.#unclaimed.delete(pid);
      this.#recent.delete(pid);
      return this.#wait(pid);
    }
    if (pending !== undefined) {
      this.#unclaimed.delete(pid);
      this.#remember(pending, true);
      return Promise.resolve(pending);
    }
    if (recent !== undefined && (!recent.claimed || !alive)) {
      recent.claimed = true;
      return Promise.resolve(recent.exit);
    }
    if (alive) return this.#wait(pid);
    return Promise.reject(
      new Error(
        `exit status of pid ${pid} is not known: not a child of this process, or reaped too long ago`,
      ),
    );
  }

  /** Spawns a plain process (native vfork-style clone with a pidfd + execve) and watches it. */
  spawn(opts: SpawnOptions): SpawnedProcess {
    const env = opts.env ?? [];
    const file = resolveFile(opts.file, env);
    const { pid, pidfd } = this.#native.spawn({
      file,
      argv: opts.args ?? [opts.file],
      envp: env,
      fds: opts.fds ?? [-1, -1, -1],
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      ...(opts.setsid !== undefined ? { setsid: opts.setsid } : {}),
      ...(opts.newProcessGroup !== undefined ? { newProcessGroup: opts.newProcessGroup } : {}),
    });
    this.expect(pid, pidfd);
    return new SpawnedProcess(this.#native, pid, pidfd, this.watch(pid, { pidfd }));
  }

  #wait(pid: number): Promise<ExitStatus> {
    return new Promise((resolve) => {
      const list = this.#waiters.get(pid);
      if (list !== undefined) list.push({ resolve });
      else this.#waiters.set(pid, [{ resolve }]);
      this.#updateRef();
    });
  }

  #dispatch(e: NativeExit): void {
    const exit: ExitStatus = {
      pid: e.pid,
      code: e.code,
      signal: e.signal,
      status: e.status,
      coreDumped: e.coreDumped,
      exitedAt: e.exitedAt,
    };
    const waiters = this.#waiters.get(exit.pid);
    if (waiters !== undefined) {
      this.#waiters.delete(exit.pid);
      this.#expected.delete(exit.pid);
      this.#remember(exit, true);
      this.#updateRef();
      for (const w of waiters) w.resolve(exit);
      return;
    }
    if (this.#expected.delete(exit.pid)) {
      this.#unclaimed.delete(exit.pid);
      this.#unclaimed.set(exit.pid, exit);
      if (this.#unclaimed.size > UNCLAIMED_MAX) this.#unclaimed.delete(this.#unclaimed.keys().next().value!);
      return;
    }
    this.#orphans++;
    this.#remember(exit, false);
    this.#onOrphan?.(exit);
  }

  #remember(exit: ExitStatus, claimed: boolean): void {
    this.#recent.delete(exit.pid);
    this.#recent.set(exit.pid, { exit, claimed });
    if (this.#recent.size > RECENT_MAX) this.#recent.delete(this.#recent.keys().next().value!);
  }

  #updateRef(): void {
    const want = this.#waiters.size > 0;
    if (want !== this.#refd) {
      this.#native.reaperRef(want);
      this.#refd = want;
    }
  }

  #pidfdAlive(pidfd: number): boolean {
    try {
      this.#native.pidfdSendSignal(pidfd, 0);
      return true;
    } catch (e) {
      if (isNativeError(e) && e.code === "ESRCH") return false;
      throw e;
    }
  }

  #pidAlive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return (e as { code?: unknown }).code === "EPERM";
    }
  }

  #reportError(error: Error): void {
    if (this.#onError !== undefined) this.#onError(error);
    else throw error;
  }
}

/** PATH search for a bare program name, done in the parent (the child only execs). */
function resolveFile(file: string, env: readonly string[]): string {
  if (file.includes("/")) return file;
  const pathVar = env.find((e) => e.startsWith("PATH="))?.slice(5) ?? process.env.PATH ?? "/usr/bin:/bin";
  for (const dir of pathVar.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, file);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; try the next PATH entry
    }
  }
  const err = new Error(`execve "${file}": ENOENT (not found in PATH)`) as Error & { code: string };
  err.code = "ENOENT";
  throw err;
}
