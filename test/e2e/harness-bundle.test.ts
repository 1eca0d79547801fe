// The bundle helpers against the reference runtimes: a busybox bundle from
// defaultSpec() runs under `runc run` and `crun run`, with the rootfs and
// spec effects visible from inside; everything is removed afterwards.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { makeBusyboxBundle } from "../helpers/bundle.js";
import { busyboxApplets } from "../helpers/busybox.js";
import { cgroupHierarchies, mountsUnder } from "../helpers/proc.js";

let tmp: string;
const cgroupParent = `tsshim-harness-bundle-${process.pid}`;

before(() => {
  tmp = mkdtempSync("/tmp/tsshim-bundle-");
});

after(() => {
  for (const h of cgroupHierarchies()) {
    if (existsSync(join(h, cgroupParent))) rmdirSync(join(h, cgroupParent));
  }
  rmSync(tmp, { recursive: true, force: true });
});

function runBundle(
  bin: string,
  bundle: string,
  id: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      bin,
      ["--root", join(tmp, `${bin.split("/").pop()}-state`), "run", "-b", bundle, id],
      {
        env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

for (const bin of ["/usr/bin/runc", "/usr/bin/crun"]) {
  const name = bin.split("/").pop()!;
  test(`${name} runs a defaultSpec() busybox bundle: output, exit code, spec effects inside`, async () => {
    const script = [
      "echo hi",
      "hostname",
      "id -u",
      "cat /etc/group | wc -l",
      "ls -ld /tmp | cut -c1-10",
      "touch /x 2>/dev/null && echo rw || echo ro",
      "grep -c . /proc/self/mountinfo >/dev/null && echo proc",
      "exit 3",
    ].join("; ");
    const id = `b-${name}`;
    const bundle = makeBusyboxBundle(join(tmp, id), ["sh", "-c", script], {
      cgroupsPath: `/${cgroupParent}/${id}`,
      hostname: "harness",
    });
    const r = await runBundle(bin, bundle.dir, id);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 3);
    assert.equal(r.stdout, "hi\nharness\n0\n3\ndrwxrwxrwt\nro\nproc\n");
    assert.deepEqual(mountsUnder(bundle.dir), []);
  });
}

test("the rootfs has every applet of busybox --list as a link to busybox", () => {
  const applets = busyboxApplets();
  assert.ok(applets.length > 100, `${applets.length} applets`);
  for (const a of [
    "sh",
    "echo",
    "cat",
    "sleep",
    "true",
    "false",
    "ls",
    "id",
    "hostname",
    "ps",
    "top",
    "mount",
  ]) {
    assert.ok(applets.includes(a), a);
  }
  const bundle = makeBusyboxBundle(join(tmp, "links"), ["true"]);
  const config = JSON.parse(readFileSync(join(bundle.dir, "config.json"), "utf8"));
  assert.deepEqual(config.process.args, ["true"]);
  assert.equal(config.root.path, "rootfs");
  for (const a of ["sha256sum", "dd", "wc", "yes", "head", "env"]) {
    assert.ok(existsSync(join(bundle.rootfs, "bin", a)), a);
  }
});
