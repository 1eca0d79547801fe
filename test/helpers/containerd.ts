// Starts a private containerd (Debian's 1.6 /usr/bin/containerd) for one test
// file: its own root, state, sockets, config and log under one temp dir, a
// clean environment (PATH with <repo>/bin first, HOME; nothing else), and a
// per-instance namespace. Everything it creates is removed by stop(); dirs
// of test processes that died before stop() are reclaimed by the next
// startContainerd() (see reclaimStaleDirs).
//
// Paths redirected into the temp dir (containerd 1.6 defaults in brackets):
//   root [/var/lib/containerd], state [/run/containerd], grpc address
//   [/run/containerd/containerd.sock], ttrpc address [grpc + ".ttrpc"], temp
//   mounts [<root>/tmpmounts], TMPDIR of containerd and its shims via `temp`
//   [/tmp], the opt plugin [/opt/containerd; also disabled, as it would edit
//   the shims' PATH], runc/crun state via the runc shim's Root option
//   [/run/containerd/runc] (CRI config, and --runc-root that ctr() adds to
//   `ctr run`), ctr's FIFOs via --fifo-dir that ctr() adds to `run`, `task
//   start` and `task exec` [/run/containerd/fifo].
// Not redirectable: containerd-shim-runc-v2 puts its ttrpc socket at
//   /run/containerd/s/<sha256(address/ns/id)> (hard-coded in the shim). The
//   name is unique to this containerd's address; the shim removes it when it
//   exits, and stop() removes the ones left by shims it had to kill.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statfsSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { canConnect } from "../../src/shim/address.js";
import { spareSocketPath } from "../../src/shim/spare-path.js";
import { prepareHostCgroups } from "./host-cgroups.js";
import {
  cgroupHierarchies,
  listPids,
  mountsUnder,
  processCmdline,
  processCwd,
  readPids,
  sleep,
} from "./proc.js";

export type RuntimeName = "runc" | "crun" | "tsshim";

/** containerd runtime types (what `ctr run --runtime` and CRI's runtime_type take). */
export const RUNTIME_TYPES: Record<RuntimeName, string> = {
  runc: "io.containerd.runc.v2",
  crun: "io.containerd.runc.v2",
  tsshim: "io.containerd.tsshim.v2",
};

export const CONTAINERD_BIN = "/usr/bin/containerd";
export const CTR_BIN = "/usr/bin/ctr";
export const CRUN_BIN = "/usr/bin/crun";
/** The runc shim's runc root when no Root option is given (ctr containers create). */
export const DEFAULT_RUNC_ROOT = "/run/containerd/runc";

export interface CriOptions {
  sandboxImage?: string;
  cniBinDir?: string;
  cniConfDir?: string;
  /** CRI's default runtime handler (a key of the runtimes table); "runc" if unset. */
  defaultRuntime?: RuntimeName;
  /**
   * CRI's restrict_oom_score_adj: never ask for an oom_score_adj below
   * containerd's own. Needed where containerd lacks CAP_SYS_RESOURCE (the
   * pod sandbox's -998 is then refused by the kernel with EACCES).
   */
  restrictOomScoreAdj?: boolean;
}

export interface StartOptions {
  /** Enable the CRI plugin (disabled by default; it is slow to start and not needed by ctr). */
  cri?: boolean | CriOptions;
  /** containerd's --log-level; "debug" by default so failures can be read in the log. */
  logLevel?: "debug" | "info" | "warn";
  /** Namespace used by ctr() and the gRPC helpers; unique per instance by default. */
  namespace?: string;
  /** Parent of the temp dir; must be on a filesystem that takes overlay upperdirs. */
  parentDir?: string;
  readyTimeoutMs?: number;
  /**
   * Dirs put before <repo>/bin on containerd's PATH (so before the shim it
   * resolves), e.g. for a test that substitutes a fake shim. Empty by default.
   */
  pathPrepend?: string[];
  /** Extra variables in containerd's environment, which its shims inherit (e.g. TSSHIM_SPARE=0). */
  env?: Record<string, string>;
}

/** When a (re)started containerd counts as up: `ctr version` answers, or its socket accepts. */
export type ReadyCheck = "version" | "listening";

export interface CtrOptions {
  timeoutMs?: number;
  stdin?: string | Buffer;
  /** Overrides the instance's namespace for this call. */
  namespace?: string;
  /** Do not add --fifo-dir / --runc-root to the command (see injectDirFlags). */
  raw?: boolean;
}

export interface CtrResult {
  stdout: string;
  stderr: string;
  /** Exit code; 128+n when ctr died of signal n. */
  code: number;
  signal: NodeJS.Signals | null;
}

let instances = 0;
const live = new Set<Containerd>();

// If a test file dies without stop(), at least no containerd outlives it.
process.on("exit", () => {
  for (const cd of live) cd.killSync();
});

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && /"name":\s*"tsshim"/.test(readFileSync(pkg, "utf8"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the tsshim repo root above test/helpers");
    dir = up;
  }
}

/** The only environment containerd, its shims and ctr get; `prepend` dirs go before <repo>/bin. */
export function cleanEnv(prepend: readonly string[] = []): Record<string, string> {
  return {
    PATH: [
      ...prepend,
      join(repoRoot(), "bin"),
      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ].join(":"),
    HOME: process.env["HOME"] ?? "/root",
  };
}

function tomlString(s: string): string {
  return JSON.stringify(s); // TOML basic strings accept JSON escapes for our paths
}

export function renderConfig(dir: string, cri: CriOptions | undefined): string {
  const runtimesPrefix = 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes';
  const disabled = [
    // Snapshotters that cannot work here; skipping them makes start faster.
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.tracing.processor.v1.otlp",
    "io.containerd.internal.v1.tracing",
    // Would put <opt>/bin first on the PATH of containerd and every shim, and
    // set LD_LIBRARY_PATH: the shims' environment must stay clean.
    "io.containerd.internal.v1.opt",
  ];
  if (!cri) disabled.push("io.containerd.grpc.v1.cri");
  const lines = [
    "version = 2",
    `root = ${tomlString(join(dir, "root"))}`,
    `state = ${tomlString(join(dir, "state"))}`,
    `temp = ${tomlString(join(dir, "tmp"))}`,
    `disabled_plugins = [${disabled.map(tomlString).join(", ")}]`,
    "oom_score = 0",
    "",
    "[grpc]",
    `  address = ${tomlString(join(dir, "containerd.sock"))}`,
    "",
    "[ttrpc]",
    `  address = ${tomlString(join(dir, "containerd.sock.ttrpc"))}`,
    "",
    "[debug]",
    '  address = ""',
    "",
    "[metrics]",
    '  address = ""',
    "",
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${tomlString(join(dir, "opt"))}`,
    "",
    '[plugins."io.containerd.grpc.v1.cri"]',
    `  sandbox_image = ${tomlString(cri?.sandboxImage ?? "registry.k8s.io/pause:3.6")}`,
    // Otherwise pod network namespaces are bind-mounted under /var/run/netns.
    "  netns_mounts_under_state_dir = true",
    '  stream_server_address = "127.0.0.1"',
    '  stream_server_port = "0"',
    `  restrict_oom_score_adj = ${cri?.restrictOomScoreAdj === true}`,
    "",
    '[plugins."io.containerd.grpc.v1.cri".cni]',
    `  bin_dir = ${tomlString(cri?.cniBinDir ?? join(dir, "cni", "bin"))}`,
    `  conf_dir = ${tomlString(cri?.cniConfDir ?? join(dir, "cni", "net.d"))}`,
    "",
    '[plugins."io.containerd.grpc.v1.cri".containerd]',
    '  snapshotter = "overlayfs"',
    `  default_runtime_name = ${tomlString(cri?.defaultRuntime ?? "runc")}`,
    "",
    `[${runtimesPrefix}.runc]`,
    `  runtime_type = ${tomlString(RUNTIME_TYPES.runc)}`,
    `[${runtimesPrefix}.runc.options]`,
    `  Root = ${tomlString(join(dir, "runc"))}`,
    "",
    `[${runtimesPrefix}.crun]`,
    `  runtime_type = ${tomlString(RUNTIME_TYPES.crun)}`,
    `[${runtimesPrefix}.crun.options]`,
    `  BinaryName = ${tomlString(CRUN_BIN)}`,
    `  Root = ${tomlString(join(dir, "crun"))}`,
    "",
    `[${runtimesPrefix}.tsshim]`,
    `  runtime_type = ${tomlString(RUNTIME_TYPES.tsshim)}`,
    "",
  ];
  return lines.join("\n");
}

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

function hasFlag(args: readonly string[], flag: string): boolean {
  return args.some((a) => a === flag || a.startsWith(`${flag}=`));
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag) return args[i + 1];
    if (args[i].startsWith(`${flag}=`)) return args[i].slice(flag.length + 1);
  }
  return undefined;
}

export class Containerd {
  readonly dir: string;
  readonly address: string;
  readonly ttrpcAddress: string;
  readonly namespace: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly fifoDir: string;
  readonly root: string;
  readonly state: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly readyTimeoutMs: number;
  private readonly logLevel: string;
  /** Namespaces this instance was told to use (its own, ctr()'s namespace option): their cgroups are ours. */
  private readonly namespacesSeen = new Set<string>();
  /** Namespaces found in containerd (ns ls, bundles, log): searched for containers and sockets only. */
  private readonly namespacesFound = new Set<string>();
  private readonly generatedNamespace: boolean;
  /** Words passed to ctr() that could be container ids (see knownShimSocketPaths). */
  private readonly idsSeen = new Set<string>();
  /** Socket path → namespace/id, for leak reports (see knownShimSocketPaths). */
  private readonly socketOwners = new Map<string, string>();
  /** Bytes of the log already scanned for ids (see scanLog). */
  private logScanned = 0;
  private readonly pathPrepend: string[];
  private readonly extraEnv: Record<string, string>;

  private constructor(dir: string, opts: StartOptions) {
    this.dir = dir;
    this.address = join(dir, "containerd.sock");
    this.ttrpcAddress = `${this.address}.ttrpc`;
    this.namespace = opts.namespace ?? `tsshim-test-${process.pid}-${++instances}`;
    this.generatedNamespace = opts.namespace === undefined;
    this.namespacesSeen.add(this.namespace);
    this.configPath = join(dir, "config.toml");
    this.logPath = join(dir, "containerd.log");
    this.fifoDir = join(dir, "fifo");
    this.root = join(dir, "root");
    this.state = join(dir, "state");
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
    this.logLevel = opts.logLevel ?? "debug";
    this.pathPrepend = opts.pathPrepend ?? [];
    this.extraEnv = opts.env ?? {};
  }

  static async start(opts: StartOptions = {}): Promise<Containerd> {
    const parent = overlayCapableDir(opts.parentDir ? [opts.parentDir] : ["/tmp", "/var/tmp"]);
    await sweepStaleDirs([parent]);
    const dir = mkdtempSync(join(parent, DIR_PREFIX));
    const cd = new Containerd(dir, opts);
    const owner: HarnessOwner = { pid: process.pid, namespace: cd.namespace };
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner));
    for (const note of prepareHostCgroups()) {
      if (note.startsWith("cannot"))
        console.error(`tsshim harness: ${note} (crun will refuse hybrid cgroups)`);
    }
    const cri = opts.cri === true ? {} : opts.cri === false ? undefined : opts.cri;
    for (const d of ["root", "state", "tmp", "fifo", "opt"]) mkdirSync(join(dir, d), { mode: 0o711 });
    writeFileSync(cd.configPath, renderConfig(dir, cri));
    try {
      await cd.launch();
    } catch (err) {
      await cd.stop().catch(() => {});
      throw err;
    }
    return cd;
  }

  /**
   * Cleans up a harness dir whose test process died without stop(): kills
   * its containerd (still running if the test was SIGKILLed), shims and
   * containers, then removes mounts, cgroups and the dir, as stop() does.
   */
  static async reclaim(dir: string): Promise<void> {
    let owner: Partial<HarnessOwner> = {};
    try {
      owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), "utf8")) as Partial<HarnessOwner>;
    } catch {
      // no owner file: only what the dir itself tells
    }
    const cd = new Containerd(dir, owner.namespace ? { namespace: owner.namespace } : {});
    const config = join(dir, "config.toml");
    for (const pid of listPids()) {
      if (processCmdline(pid)?.includes(config)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    await cd.stop();
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  get running(): boolean {
    return this.pid !== undefined;
  }

  private async launch(ready: ReadyCheck = "version"): Promise<void> {
    const log = openSync(this.logPath, "a");
    let child: ChildProcess;
    try {
      child = spawn(CONTAINERD_BIN, ["--config", this.configPath, "--log-level", this.logLevel], {
        cwd: this.dir,
        env: { ...cleanEnv(this.pathPrepend), ...this.extraEnv },
        stdio: ["ignore", log, log],
        // Own process group: a ^C to the test runner does not reach it first.
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    this.child = child;
    live.add(this);
    // Unref'd so a forgotten stop() does not hang the test process; the exit
    // hook above kills it then.
    child.unref();
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        live.delete(this);
        resolve();
      });
      child.once("error", () => {
        live.delete(this);
        resolve();
      });
    });
    if (ready === "listening") await this.waitListening();
    else await this.waitReady();
  }

  /**
   * Until the gRPC socket accepts a connection, tried every millisecond. containerd 1.6
   * listens only once all its plugins are loaded (the task plugin reconnects to every
   * shim first); a socket left by a killed containerd refuses until then.
   */
  private async waitListening(): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`containerd exited during start-up\n${this.logTail()}`);
      if (await canConnect(this.address)) return;
      await sleep(1);
    }
    throw new Error(`containerd did not listen within ${this.readyTimeoutMs} ms\n${this.logTail()}`);
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + this.readyTimeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      if (!this.running) {
        throw new Error(`containerd exited during start-up\n${this.logTail()}`);
      }
      if (existsSync(this.address)) {
        const r = await this.ctr(["version"], { timeoutMs: 5_000 });
        if (r.code === 0) return;
        last = r.stderr;
      }
      await sleep(25);
    }
    throw new Error(`containerd did not answer within ${this.readyTimeoutMs} ms: ${last}\n${this.logTail()}`);
  }

  /** The last `lines` lines of containerd's log, for failure messages. */
  logTail(lines = 60): string {
    let text = "";
    try {
      text = readFileSync(this.logPath, "utf8");
    } catch {
      return "(no containerd log)";
    }
    const all = text.trimEnd().split("\n");
    return `--- containerd log (${this.logPath}), last ${Math.min(lines, all.length)} lines ---\n${all.slice(-lines).join("\n")}`;
  }

  /** The `ctr run` flags that select one of the configured runtimes. */
  runtimeFlags(name: RuntimeName): string[] {
    switch (name) {
      case "runc":
        return ["--runtime", RUNTIME_TYPES.runc, "--runc-root", join(this.dir, "runc")];
      case "crun":
        return [
          "--runtime",
          RUNTIME_TYPES.crun,
          "--runc-binary",
          CRUN_BIN,
          "--runc-root",
          join(this.dir, "crun"),
        ];
      case "tsshim":
        return ["--runtime", RUNTIME_TYPES.tsshim];
    }
  }
  /**
   * The `ctr containers create` flags for a runtime. ctr 1.6 has no
   * --runc-binary / --runc-root there: runc keeps its state in
   * /run/containerd/runc/<namespace> (per-instance namespace; the leak
   * checker watches it, stop() removes the empty dir), and crun cannot be
   * chosen at all (use `ctr run -d` for crun).
   */
  createFlags(name: RuntimeName): string[] {
    if (name === "crun") throw new Error("ctr 1.6 `containers create` cannot select crun; use `ctr run -d`");
    return ["--runtime", RUNTIME_TYPES[name]];
  }

  /** Where runc/crun keep per-container state for this instance (one dir per namespace). */
  runtimeStateDirs(): string[] {
    const out: string[] = [];
    for (const ns of this.namespacesSeen) {
      out.push(join(this.dir, "runc", ns), join(this.dir, "crun", ns), join(DEFAULT_RUNC_ROOT, ns));
    }
    return out;
  }

  /**
   * Adds the flags that keep ctr and the runc shim inside the temp dir when
   * the caller did not give them: --fifo-dir for `run`, `task start`, `task
   * exec`; --runc-root for `run` with the runc v2 runtime.
   */
  injectDirFlags(args: readonly string[]): string[] {
    const out = [...args];
    let at = -1;
    if (out[0] === "run") at = 1;
    else if (["task", "tasks", "t"].includes(out[0] ?? "") && ["start", "exec"].includes(out[1] ?? ""))
      at = 2;
    if (at < 0) return out;
    const extra: string[] = [];
    if (!hasFlag(out, "--fifo-dir")) extra.push("--fifo-dir", this.fifoDir);
    if (out[0] === "run" && !hasFlag(out, "--runc-root")) {
      const runtime = flagValue(out, "--runtime") ?? RUNTIME_TYPES.runc;
      if (runtime === RUNTIME_TYPES.runc) {
        const crun = flagValue(out, "--runc-binary")?.endsWith("crun") === true;
        extra.push("--runc-root", join(this.dir, crun ? "crun" : "runc"));
      }
    }
    out.splice(at, 0, ...extra);
    return out;
  }

  /**
   * The full command line for ctr: file, argv (with --address, --namespace
   * and the injected dir flags) and the clean environment. For spawners other
   * than ctr() / spawnCtr(), e.g. node-pty for `ctr run -t`.
   */
  ctrCommand(
    args: readonly string[],
    opts: { namespace?: string; raw?: boolean } = {},
  ): { file: string; args: string[]; env: Record<string, string> } {
    const ns = opts.namespace ?? this.namespace;
    this.namespacesSeen.add(ns);
    for (const a of args) if (/^[A-Za-z0-9][A-Za-z0-9_.-]{0,75}$/.test(a)) this.idsSeen.add(a);
    const full = [
      "--address",
      this.address,
      "--namespace",
      ns,
      ...(opts.raw ? args : this.injectDirFlags(args)),
    ];
    return { file: CTR_BIN, args: full, env: cleanEnv() };
  }

  /** `ctr --address … --namespace … <args>` with a clean environment. */
  ctr(args: readonly string[], opts: CtrOptions = {}): Promise<CtrResult> {
    const cmd = this.ctrCommand(args, opts);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const child = spawn(cmd.file, cmd.args, { env: cmd.env, stdio: ["pipe", "pipe", "pipe"] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      // EPIPE when ctr exits before reading its stdin is not our failure.
      child.stdin.on("error", () => {});
      child.stdin.end(opts.stdin ?? "");
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString("utf8");
        const stderr = Buffer.concat(err).toString("utf8");
        if (timedOut) {
          reject(
            new Error(
              `ctr ${args.join(" ")} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
            ),
          );
          return;
        }
        const sig = signal === null ? 0 : (constants.signals[signal] ?? 0);
        resolve({ stdout, stderr, code: code ?? 128 + sig, signal });
      });
    });
  }

  /** Starts ctr with the same flags and environment, for streaming use (large output, PTYs). */
  spawnCtr(args: readonly string[], opts: { namespace?: string; raw?: boolean } = {}): ChildProcess {
    const cmd = this.ctrCommand(args, opts);
    return spawn(cmd.file, cmd.args, { env: cmd.env, stdio: ["pipe", "pipe", "pipe"] });
  }

  /** SIGKILL containerd (its shims and containers keep running). */
  async kill9(): Promise<void> {
    if (this.running) this.child?.kill("SIGKILL");
    await this.waitExited(10_000);
  }

  /** Waits for containerd's exit; the child is unref'd, so hold the loop open meanwhile. */
  private async waitExited(timeoutMs: number): Promise<boolean> {
    const child = this.child;
    child?.ref();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      child?.unref();
    }
  }

  /** Used by the exit hook only. */
  killSync(): void {
    if (this.running) this.child?.kill("SIGKILL");
  }

  /**
   * Stops containerd if it runs (SIGTERM; shims survive) and starts it again on the same dirs;
   * ready once `ctr version` answers, or (`listening`) as soon as its socket accepts.
   */
  async restart(ready: ReadyCheck = "version"): Promise<void> {
    await this.terminate();
    await this.launch(ready);
  }

  private async terminate(): Promise<void> {
    if (!this.running) return;
    this.child?.kill("SIGTERM");
    if (!(await this.waitExited(5_000))) await this.kill9();
  }

  /** Bundle dirs of the runtime v2 plugin: <state>/io.containerd.runtime.v2.task/<ns>/<id>. */
  private bundles(): { ns: string; id: string; dir: string }[] {
    const base = join(this.state, "io.containerd.runtime.v2.task");
    const out: { ns: string; id: string; dir: string }[] = [];
    for (const ns of safeReaddir(base)) {
      for (const id of safeReaddir(join(base, ns))) out.push({ ns, id, dir: join(base, ns, id) });
    }
    return out;
  }

  /** The one tsshim daemon serving container `id` (not a `start` verb); throws unless exactly one. */
  shimDaemonPid(id: string): number {
    const found = listPids().filter((pid) => {
      const argv = processCmdline(pid);
      if (argv === undefined || !isShimOf(argv, this.address) || argv.includes("start")) return false;
      return argv[argv.indexOf("-id") + 1] === id;
    });
    if (found.length !== 1)
      throw new Error(`shim daemons for ${id}: expected one, found [${found.join(", ")}]`);
    return found[0]!;
  }

  /** Processes that belong to this containerd: its shims, and anything running in its dirs or cgroups. */
  ownedProcesses(): number[] {
    const mine = new Set<number>();
    const prefix = `${this.dir}/`;
    for (const pid of listPids()) {
      if (pid === process.pid || pid === this.pid) continue;
      const argv = processCmdline(pid);
      if (argv && (isShimOf(argv, this.address) || isSpareOf(argv, this.address))) mine.add(pid);
      const cwd = processCwd(pid);
      if (cwd?.startsWith(prefix)) mine.add(pid);
    }
    for (const dir of this.cgroupDirs()) {
      for (const pid of readPids(join(dir, "cgroup.procs"))) mine.add(pid);
    }
    return [...mine].sort((a, b) => a - b);
  }

  /** Every cgroup dir under this instance's namespaces, in every hierarchy, deepest first. */
  cgroupDirs(): string[] {
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const e of safeReaddir(d)) {
        const p = join(d, e);
        try {
          if (lstatSync(p).isDirectory()) walk(p);
        } catch {
          // vanished meanwhile
        }
      }
      out.push(d);
    };
    for (const h of cgroupHierarchies()) {
      for (const ns of this.namespacesSeen) {
        const d = join(h, ns);
        if (existsSync(d)) walk(d);
      }
    }
    return out;
  }

  /** All namespaces this instance used (its own plus any passed to ctr()). */
  get namespaces(): string[] {
    return [...this.namespacesSeen];
  }

  /**
   * Stops containerd and removes everything it left: tasks and containers
   * (through ctr while containerd answers), then shims and container
   * processes (SIGKILL), shim sockets, mounts under the dir, the namespaces'
   * cgroups and the dir. Throws if anything could not be removed.
   */
  async stop(): Promise<void> {
    const problems: string[] = [];
    if (this.running) {
      const ns = await this.ctr(["namespaces", "ls", "-q"], { timeoutMs: 5_000 }).catch(() => undefined);
      for (const n of ns?.stdout.split("\n").filter(Boolean) ?? []) this.namespacesFound.add(n);
      for (const n of new Set([...this.namespacesSeen, ...this.namespacesFound]))
        await this.removeAllContainers(n);
    }
    for (const b of this.bundles()) this.namespacesFound.add(b.ns);
    const sockets = new Set([
      ...this.shimSockets(),
      ...this.knownShimSocketPaths(),
      spareSocketPath(this.address, process.env["TSSHIM_SOCKET_DIR"]),
    ]);
    await this.terminate();

    const pids = this.ownedProcesses();
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    const left = await waitGone(pids, 5_000);
    if (left.length > 0) problems.push(`processes still alive after SIGKILL: ${left.join(", ")}`);

    for (const s of sockets) {
      if (existsSync(s)) {
        try {
          unlinkSync(s);
        } catch (e) {
          problems.push(`shim socket ${s}: ${String(e)}`);
        }
      }
    }

    for (const m of mountsUnder(this.dir).reverse()) {
      const r = await run("umount", [m]);
      if (r !== 0 && (await run("umount", ["-l", m])) !== 0) problems.push(`cannot unmount ${m}`);
    }

    // Only the generated namespace is surely ours alone; rmdir fails if not empty.
    if (this.generatedNamespace) {
      const runcNs = join(DEFAULT_RUNC_ROOT, this.namespace);
      if (existsSync(runcNs)) {
        try {
          rmdirSync(runcNs);
        } catch (e) {
          problems.push(`runc state ${runcNs}: ${String(e)}`);
        }
      }
    }

    for (const d of this.cgroupDirs()) {
      try {
        rmdirSync(d);
      } catch (e) {
        problems.push(`cgroup ${d}: ${String(e)}`);
      }
    }

    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch (e) {
      problems.push(`cannot remove ${this.dir}: ${String(e)}`);
    }
    live.delete(this);
    if (problems.length > 0)
      throw new Error(`containerd stop left things behind:\n  ${problems.join("\n  ")}`);
  }

  private async removeAllContainers(ns: string): Promise<void> {
    const opts = { namespace: ns, timeoutMs: 10_000 };
    const tasks = await this.ctr(["task", "ls", "-q"], opts).catch(() => undefined);
    for (const id of tasks?.stdout.split("\n").filter(Boolean) ?? []) {
      await this.ctr(["task", "rm", "-f", id], opts).catch(() => undefined);
    }
    const containers = await this.ctr(["containers", "ls", "-q"], opts).catch(() => undefined);
    for (const id of containers?.stdout.split("\n").filter(Boolean) ?? []) {
      await this.ctr(["containers", "rm", id], opts).catch(() => undefined);
    }
  }

  /**
   * Socket paths of live shims, from each bundle's `address` file; only
   * paths that are provably this containerd's (under its dir, or the runc
   * shim's /run/containerd/s/<sha256(address/ns/id)>).
   */
  shimSockets(): string[] {
    const out: string[] = [];
    for (const b of this.bundles()) {
      let addr: string;
      try {
        addr = readFileSync(join(b.dir, "address"), "utf8").trim();
      } catch {
        continue;
      }
      const path = addr.replace(/^unix:\/\//, "");
      const expected = `/run/containerd/s/${sha256(`${this.address}/${b.ns}/${b.id}`)}`;
      if (path === expected || path.startsWith(`${this.dir}/`)) out.push(path);
    }
    return out;
  }

  /**
   * Container ids and namespaces named in containerd's log since the last
   * call (`key=` of "prepare snapshot", `id=`, `namespace=`): covers
   * containers made through gRPC or CRI, not only through ctr().
   */
  private scanLog(): void {
    let text: string;
    try {
      const buf = readFileSync(this.logPath);
      if (buf.length < this.logScanned) this.logScanned = 0; // a new file
      text = buf.subarray(this.logScanned).toString("utf8");
      const lastNewline = text.lastIndexOf("\n");
      if (lastNewline < 0) return;
      text = text.slice(0, lastNewline);
      this.logScanned += Buffer.byteLength(text) + 1;
    } catch {
      return;
    }
    for (const m of text.matchAll(/\b(id|key|namespace)=("?)([A-Za-z0-9][A-Za-z0-9_.-]{0,75})\2(?=\s|$)/gm)) {
      if (m[1] === "namespace") this.namespacesFound.add(m[3]);
      else this.idsSeen.add(m[3]);
    }
  }

  /** The namespace/id a shim socket path from knownShimSocketPaths belongs to. */
  shimSocketOwner(path: string): string | undefined {
    return this.socketOwners.get(path);
  }

  /**
   * Where a containerd-style shim of this containerd would put its socket
   * for every (namespace, id) we know of: ids of bundles now, every plain
   * word passed to ctr(), ids in containerd's log (a wrong guess names a
   * path that simply does not exist). Only existing paths.
   */
  knownShimSocketPaths(): string[] {
    this.scanLog();
    const ids = new Set(this.idsSeen);
    for (const b of this.bundles()) ids.add(b.id);
    const out: string[] = [];
    for (const ns of new Set([...this.namespacesSeen, ...this.namespacesFound])) {
      for (const id of ids) {
        const path = `/run/containerd/s/${sha256(`${this.address}/${ns}/${id}`)}`;
        if (!existsSync(path)) continue;
        this.socketOwners.set(path, `${ns}/${id}`);
        out.push(path);
      }
    }
    return out;
  }
}

const DIR_PREFIX = "tsshim-ctd-";
const OWNER_FILE = "harness-owner.json";

interface HarnessOwner {
  pid: number;
  namespace: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

let swept = false;

/** reclaimStaleDirs once per process (startContainerd calls it). */
async function sweepStaleDirs(parents: readonly string[]): Promise<void> {
  if (swept) return;
  swept = true;
  await reclaimStaleDirs(parents);
}

/**
 * Reclaims harness dirs in `parents` whose owning test process is gone (a
 * test file killed before its stop()). Dirs without an owner file are left
 * alone unless older than 10 minutes. Returns the dirs reclaimed.
 */
export async function reclaimStaleDirs(parents: readonly string[]): Promise<string[]> {
  const reclaimed: string[] = [];
  for (const parent of parents) {
    for (const name of safeReaddir(parent)) {
      if (!name.startsWith(DIR_PREFIX)) continue;
      const dir = join(parent, name);
      let stale: boolean;
      try {
        const owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), "utf8")) as Partial<HarnessOwner>;
        stale = typeof owner.pid === "number" && !isAlive(owner.pid);
      } catch {
        try {
          stale = Date.now() - lstatSync(dir).mtimeMs > 10 * 60_000;
        } catch {
          stale = false;
        }
      }
      if (!stale) continue;
      await Containerd.reclaim(dir).catch(() => {});
      reclaimed.push(dir);
    }
  }
  return reclaimed;
}

export function startContainerd(opts?: StartOptions): Promise<Containerd> {
  return Containerd.start(opts);
}

/**
 * Runs `fn`; if it throws, appends the tail of containerd's log to the
 * error's message, so a failing test shows what containerd saw.
 */
export async function withContainerdLog<T>(cd: Containerd, fn: () => Promise<T>, lines = 60): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error) {
      err.message = `${err.message}\n${cd.logTail(lines)}`;
      throw err;
    }
    throw new Error(`${String(err)}\n${cd.logTail(lines)}`);
  }
}

/**
 * A shim of the containerd at `address`: containerd starts every shim with
 * `-address <address>` (Go-style single dash; ctr uses `--address`). Matched
 * on the flag rather than the program name, so a shim daemon re-executed as
 * `node <script> … -address …` counts too.
 */
export function isShimOf(argv: readonly string[], address: string): boolean {
  if (isSpareArgv(argv)) return false;
  for (let i = 0; i < argv.length - 1; i++) {
    if (argv[i] === "-address" && argv[i + 1] === address) return true;
  }
  return false;
}

/**
 * A spare tsshim daemon (src/shim/spare.ts): booted by the launcher before a
 * container needs it, `… -address <address> spare|adopt`. Not a shim until it
 * takes a container (its command line then becomes a shim's); a test's leak
 * check does not count it, stop() kills it.
 */
function isSpareArgv(argv: readonly string[]): boolean {
  const verb = argv[argv.length - 1];
  return (verb === "spare" || verb === "adopt") && argv[argv.length - 3] === "-address";
}

export function isSpareOf(argv: readonly string[], address: string): boolean {
  return isSpareArgv(argv) && argv[argv.length - 2] === address;
}

const OVERLAYFS_SUPER_MAGIC = 0x794c7630;

/**
 * The first of `candidates` on which overlayfs can put an upperdir (not
 * itself an overlay, e.g. inside a container image).
 */
export function overlayCapableDir(candidates: readonly string[]): string {
  for (const dir of candidates) {
    try {
      if (statfsSync(dir).type !== OVERLAYFS_SUPER_MAGIC) return dir;
    } catch {
      // missing: try the next
    }
  }
  throw new Error(`none of ${candidates.join(", ")} can hold overlayfs upperdirs (all are overlay mounts)`);
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function waitGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = [...pids];
  while (left.length > 0 && Date.now() < deadline) {
    left = left.filter((p) => existsSync(`/proc/${p}`) && !isZombie(p));
    if (left.length > 0) await sleep(20);
  }
  return left;
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: cleanEnv(), stdio: "ignore" });
    child.once("error", () => resolve(-1));
    child.once("close", (code) => resolve(code ?? -1));
  });
}
