// Benchmark (not a test): create + start + wait of /bin/true from one bundle, through
// the embedded core (Container.create/start/wait/delete) and through `runc run` on the
// same bundle and config.json (each run in its own cgroup, as runc always makes one),
// interleaved, N runs each; medians and the ratio. The core is also timed without a
// cgroup, to show what the cgroup manager's create/destroy costs.
//   npm run build && node dist/bench/core-vs-runc.js [N]
// Goal: core ≤ 0.25× runc.
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Container } from "../src/oci/container.js";
import { Reaper } from "../src/oci/reaper.js";
import type { Spec } from "../src/oci/spec.js";

const N = Number.parseInt(process.argv[2] ?? "30", 10);
const RUNC = "/usr/sbin/runc";

function bundle(): { dir: string; spec: Spec } {
  const dir = mkdtempSync(join(tmpdir(), "tsshim-bench-"));
  chmodSync(dir, 0o755);
  const rootfs = join(dir, "rootfs");
  for (const d of ["bin", "proc", "dev", "sys", "tmp"]) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
  symlinkSync("busybox", join(rootfs, "bin/true"));
  const caps = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_NET_BIND_SERVICE",
  ];
  const spec: Spec = {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ["/bin/true"],
      env: ["PATH=/bin"],
      cwd: "/",
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    root: { path: "rootfs" },
    hostname: "bench",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    ],
    linux: {
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }],
      maskedPaths: ["/proc/kcore", "/proc/keys"],
      readonlyPaths: ["/proc/sys"],
    },
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(spec));
  return { dir, spec };
}

async function core(dir: string, spec: Spec, id: string, cgroup = true): Promise<number> {
  const t0 = process.hrtime.bigint();
  const c = await Container.create({
    id,
    bundle: dir,
    spec,
    ...(cgroup ? { cgroupsPath: `/tsshim-bench/${id}` } : {}),
  });
  await c.start();
  const s = await c.init.wait();
  await c.delete();
  const t1 = process.hrtime.bigint();
  if (s.status !== 0) throw new Error(`core: /bin/true exited ${s.status}`);
  return Number(t1 - t0) / 1e6;
}

async function runc(dir: string, root: string, id: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  // runc run = create + start + wait + delete; same config.json (cgroupsPath set per id).
  const p = Reaper.instance().spawn({
    file: RUNC,
    args: [RUNC, "--root", root, "run", "-b", dir, id],
    fds: [-1, -1, 2],
  });
  const s = await p.exited;
  const t1 = process.hrtime.bigint();
  if (s.status !== 0) throw new Error(`runc run exited ${s.status}`);
  return Number(t1 - t0) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function main(): Promise<void> {
  const { dir, spec } = bundle();
  const root = mkdtempSync(join(tmpdir(), "tsshim-bench-runc-"));
  const coreMs: number[] = [];
  const bareMs: number[] = [];
  const runcMs: number[] = [];
  try {
    // One warm-up each (page cache, addon load, reaper start).
    await core(
      dir,
      { ...spec, linux: { ...spec.linux!, cgroupsPath: "/tsshim-bench/warm-core" } },
      "warm-core",
    );
    writeConfig(dir, spec, "warm-runc");
    await runc(dir, root, "warm-runc");
    for (let i = 0; i < N; i++) {
      // Interleaved so drift on the machine hits both alike.
      coreMs.push(await core(dir, spec, `core-${process.pid}-${i}`));
      bareMs.push(await core(dir, spec, `bare-${process.pid}-${i}`, false));
      writeConfig(dir, spec, `runc-${process.pid}-${i}`);
      runcMs.push(await runc(dir, root, `runc-${process.pid}-${i}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
    // runc leaves the parent of the per-run cgroups behind.
    for (const h of readdirSync("/sys/fs/cgroup")) {
      try {
        rmdirSync(join("/sys/fs/cgroup", h, "tsshim-bench"));
      } catch {
        // absent, or not a hierarchy
      }
    }
  }
  const mc = median(coreMs);
  const mr = median(runcMs);
  console.log(`create+start+wait of /bin/true, N=${N} each, interleaved`);
  console.log(`  core  median ${mc.toFixed(2)} ms  p90 ${pct(coreMs, 90).toFixed(2)} ms`);
  console.log(
    `  core without a cgroup  median ${median(bareMs).toFixed(2)} ms  ratio ${(median(bareMs) / mr).toFixed(3)}`,
  );
  // Per iteration (the two core runs are back to back), so machine drift cancels out.
  const share = coreMs.map((c, i) => c - (bareMs[i] ?? c));
  console.log(`  the cgroup's share (core - without, paired)  median ${median(share).toFixed(2)} ms`);
  console.log(`  runc  median ${mr.toFixed(2)} ms  p90 ${pct(runcMs, 90).toFixed(2)} ms`);
  console.log(`  ratio core/runc ${(mc / mr).toFixed(3)}  (goal ≤ 0.25)`);
}

function writeConfig(dir: string, spec: Spec, id: string): void {
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ ...spec, linux: { ...spec.linux, cgroupsPath: `/tsshim-bench/${id}` } }),
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
