// A test process killed before its stop() leaves a running containerd, a
// shim and a container behind; the next startContainerd() reclaims them.
// Here the reclaim is called directly, on a containerd started by a child
// process that is then SIGKILLed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { reclaimStaleDirs } from "../helpers/containerd.js";
import { cgroupHierarchies, listPids, mountsUnder, processCmdline } from "../helpers/proc.js";

const helpers = new URL("../helpers/", import.meta.url).href;

const childScript = `
const { startContainerd } = await import(${JSON.stringify(`${helpers}containerd.js`)});
const { importBusyboxImage } = await import(${JSON.stringify(`${helpers}image.js`)});
const cd = await startContainerd();
const image = await importBusyboxImage(cd);
const r = await cd.ctr(["run", "-d", ...cd.runtimeFlags("runc"), image, "orphan", "sleep", "60"]);
if (r.code !== 0) throw new Error(r.stderr);
console.log(JSON.stringify({ dir: cd.dir, address: cd.address, namespace: cd.namespace }));
setInterval(() => {}, 1000);
`;

test("a harness dir whose test process was SIGKILLed is reclaimed: containerd, shim, container, mounts, cgroups, dir", async () => {
  const env = { ...process.env };
  delete env["NODE_EXTRA_CA_CERTS"];
  const child = spawn(process.execPath, ["--input-type=module", "-e", childScript], {
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("\n")) resolve(out.split("\n")[0]);
    });
    child.once("exit", (code) => reject(new Error(`child exited ${code} before reporting`)));
  });
  const { dir, address, namespace } = JSON.parse(line) as { dir: string; address: string; namespace: string };
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;

  const related = (): number[] =>
    listPids().filter((p) => {
      const argv = processCmdline(p);
      return argv !== undefined && (argv.includes(address) || argv.includes(join(dir, "config.toml")));
    });
  assert.ok(related().length >= 2, "containerd and the shim outlived their test process");
  assert.ok(mountsUnder(dir).length > 0, "the container's rootfs is still mounted");

  const reclaimed = await reclaimStaleDirs([join(dir, "..")]);
  assert.ok(reclaimed.includes(dir), `reclaimed ${reclaimed.join(", ")}`);
  assert.equal(existsSync(dir), false);
  assert.deepEqual(related(), []);
  assert.deepEqual(mountsUnder(dir), []);
  for (const h of cgroupHierarchies()) assert.equal(existsSync(join(h, namespace)), false, h);
});
