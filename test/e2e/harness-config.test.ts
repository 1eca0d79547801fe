// What the generated containerd configuration does beyond ctr + runc: the
// CRI switch, and how containerd resolves io.containerd.tsshim.v2 to
// `containerd-shim-tsshim-v2` on its PATH (proven with a stand-in shim that
// records how it was started, since the real one lives in <repo>/bin).
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { repoRoot, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, takeLeakSnapshot } from "../helpers/leaks.js";
import { mountsUnder } from "../helpers/proc.js";

let fakeBin: string;

before(() => {
  fakeBin = mkdtempSync("/tmp/tsshim-fakeshim-");
  const script = [
    "#!/bin/sh",
    'out="$(dirname "$0")/calls"',
    'mkdir -p "$out"',
    'printf "%s\\n" "$@" > "$out/$$.args"',
    'env > "$out/$$.env"',
    'pwd > "$out/$$.cwd"',
    'echo "stand-in shim: not a real shim" >&2',
    "exit 1",
    "",
  ].join("\n");
  writeFileSync(join(fakeBin, "containerd-shim-tsshim-v2"), script);
  chmodSync(join(fakeBin, "containerd-shim-tsshim-v2"), 0o755);
});

after(() => {
  rmSync(fakeBin, { recursive: true, force: true });
});

test("cri: true loads the CRI plugin with the runtimes table, sandbox image and CNI dirs given", async () => {
  const cni = mkdtempSync("/tmp/tsshim-cni-");
  const cd = await startContainerd({
    cri: { sandboxImage: "docker.io/tsshim/pause:test", cniConfDir: cni, defaultRuntime: "tsshim" },
  });
  try {
    const plugins = await cd.ctr(["plugins", "ls"]);
    assert.match(plugins.stdout, /^io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok\s*$/m);
    const config = readFileSync(cd.configPath, "utf8");
    assert.match(config, /sandbox_image = "docker\.io\/tsshim\/pause:test"/);
    assert.match(config, new RegExp(`conf_dir = "${cni}"`));
    assert.match(config, /default_runtime_name = "tsshim"/);
    assert.doesNotMatch(config, /disabled_plugins = \[[^\]]*grpc\.v1\.cri/);
    // A pause image for the sandbox can be made from busybox, in CRI's namespace.
    const pause = await importBusyboxImage(
      cd,
      { name: "docker.io/tsshim/pause:test", entrypoint: ["sleep", "2147483647"], cmd: [] },
      "k8s.io",
    );
    assert.equal(pause, "docker.io/tsshim/pause:test");
  } finally {
    await cd.stop();
    rmSync(cni, { recursive: true, force: true });
  }
  assert.equal(existsSync(cd.dir), false);
});

test("CRI is off by default", async () => {
  const cd = await startContainerd();
  try {
    const plugins = await cd.ctr(["plugins", "ls"]);
    assert.doesNotMatch(plugins.stdout, /\scri\s/);
  } finally {
    await cd.stop();
  }
});

test("io.containerd.tsshim.v2 runs containerd-shim-tsshim-v2 from containerd's PATH, with a clean env", async () => {
  const cd = await startContainerd({ pathPrepend: [fakeBin] });
  try {
    const image = await importBusyboxImage(cd);
    const snapshot = takeLeakSnapshot(cd);
    const r = await cd.ctr(["run", "--rm", ...cd.runtimeFlags("tsshim"), image, "via-tsshim", "true"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /stand-in shim: not a real shim|failed to (start|create) shim/);

    const calls = join(fakeBin, "calls");
    const pids = readdirSync(calls)
      .filter((f) => f.endsWith(".args"))
      .map((f) => f.slice(0, -5));
    const startPid = pids.find((p) =>
      readFileSync(join(calls, `${p}.args`), "utf8")
        .split("\n")
        .includes("start"),
    );
    assert.ok(startPid, `a "start" call among ${pids.length}`);
    const args = readFileSync(join(calls, `${startPid}.args`), "utf8")
      .trimEnd()
      .split("\n");
    const flag = (name: string): string | undefined => args[args.indexOf(name) + 1];
    assert.equal(flag("-namespace"), cd.namespace);
    assert.equal(flag("-address"), cd.address);
    assert.equal(flag("-id"), "via-tsshim");
    assert.equal(args.at(-1), "start");

    // Exactly what containerd adds to our clean env (PWD, SHLVL, _ come from sh).
    const env = new Map(
      readFileSync(join(calls, `${startPid}.env`), "utf8")
        .trimEnd()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const)
        .filter(([k]) => !["PWD", "SHLVL", "_", "OLDPWD"].includes(k)),
    );
    assert.deepEqual([...env.keys()].sort(), ["GOMAXPROCS", "HOME", "PATH", "TMPDIR", "TTRPC_ADDRESS"]);
    assert.equal(env.get("TTRPC_ADDRESS"), cd.ttrpcAddress);
    assert.equal(env.get("TMPDIR"), join(cd.dir, "tmp"));
    assert.match(env.get("PATH") ?? "", new RegExp(`^${fakeBin}:${join(repoRoot(), "bin")}:`));

    const cwd = readFileSync(join(calls, `${startPid}.cwd`), "utf8").trim();
    assert.equal(cwd, join(cd.state, "io.containerd.runtime.v2.task", cd.namespace, "via-tsshim"));
    await assertNoLeaks(snapshot);
    assert.deepEqual(mountsUnder(cd.dir), []);
  } finally {
    await cd.stop();
  }
});
