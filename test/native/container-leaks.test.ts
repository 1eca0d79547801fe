// Leak test: 200 create/start/delete cycles (each in its own cgroup) and 200 failing
// creates (a bad mount, a missing binary) leave no fd, no process or zombie, no
// cgroup directory and no mount behind in the test process.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { after, before, test } from "node:test";
import { Container } from "../../src/oci/container.js";
import { descendants, mountsUnder, openFds } from "../helpers/proc.js";
import { type Bundle, defaultSpec, makeBundle } from "./container-fixture.js";

let bundle: Bundle;
before(() => {
  bundle = makeBundle();
});
after(() => bundle.cleanup());

const PARENT = `tsshim-leak-${process.pid}`;

function cgroupDirsLeft(): string[] {
  const out: string[] = [];
  for (const h of readdirSync("/sys/fs/cgroup")) {
    if (existsSync(`/sys/fs/cgroup/${h}/${PARENT}`)) {
      const kids = readdirSync(`/sys/fs/cgroup/${h}/${PARENT}`, { withFileTypes: true }).filter((d) =>
        d.isDirectory(),
      );
      for (const k of kids) out.push(`/sys/fs/cgroup/${h}/${PARENT}/${k.name}`);
    }
  }
  return out;
}

function snapshot() {
  return {
    fds: [...openFds().keys()].sort((a, b) => a - b),
    // Other suites may mount on the host meanwhile: only ours count.
    mounts: mountsUnder(bundle.dir),
  };
}

function assertClean(before: ReturnType<typeof snapshot>): void {
  const now = snapshot();
  assert.deepEqual(now.fds, before.fds, "fds of the test process");
  assert.deepEqual(now.mounts, before.mounts, "host mounts under the bundle");
  assert.deepEqual(
    descendants(process.pid).map((p) => `${p.pid} ${p.state}`),
    [],
    "no child processes or zombies",
  );
  assert.deepEqual(cgroupDirsLeft(), [], "no cgroup directories");
}

test("200 create/start/delete cycles leave nothing", async () => {
  const spec = defaultSpec(["true"]);
  // Warm up lazy singletons (reaper, addon) before the snapshot.
  await (await Container.create({ id: "warm", bundle: bundle.dir, spec })).delete();
  const before = snapshot();
  for (let i = 0; i < 200; i++) {
    const c = await Container.create({
      id: `leak-${i}`,
      bundle: bundle.dir,
      spec,
      cgroupsPath: `/${PARENT}/c${i}`,
    });
    await c.start();
    const s = await c.init.wait();
    assert.equal(s.code, 0);
    await c.delete();
  }
  assertClean(before);
});

test("200 failing creates (bad mount, missing binary) leave nothing", async () => {
  const badMount = defaultSpec(["true"]);
  badMount.mounts!.push({
    destination: "/data",
    type: "bind",
    source: "/nonexistent-leak-src",
    options: ["rbind"],
  });
  const badBinary = defaultSpec(["/bin/definitely-not-here"]);
  const before = snapshot();
  for (let i = 0; i < 200; i++) {
    const spec = i % 2 === 0 ? badMount : badBinary;
    await assert.rejects(
      Container.create({ id: `bad-${i}`, bundle: bundle.dir, spec, cgroupsPath: `/${PARENT}/b${i}` }),
      i % 2 === 0 ? /nonexistent-leak-src.*ENOENT/ : /definitely-not-here.*ENOENT/,
    );
  }
  assertClean(before);
});
