// Hooks: each kind wrote its file, with the state JSON it got on stdin; the
// in-container kinds ran inside the container's namespaces; a failing hook fails
// create and leaves nothing.
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Container } from "../../src/oci/container.js";
import { descendants } from "../helpers/proc.js";
import { type Bundle, defaultSpec, makeBundle } from "./container-fixture.js";

let bundle: Bundle;
before(() => {
  bundle = makeBundle();
  // Host-side hook: records its kind, its stdin and its uts namespace.
  const host = join(bundle.dir, "host-hook.sh");
  writeFileSync(
    host,
    `#!/bin/sh\ncat > "${bundle.dir}/$1.json"\nreadlink /proc/self/ns/uts > "${bundle.dir}/$1.uts"\n`,
  );
  chmodSync(host, 0o755);
  // Container-side hook: its path is inside the rootfs; it writes into the container's /tmp.
  const inside = join(bundle.rootfs, "hook.sh");
  writeFileSync(inside, `#!/bin/sh\ncat > "/tmp/$1.json"\nhostname > "/tmp/$1.host"\n`);
  chmodSync(inside, 0o755);
});
after(() => bundle.cleanup());

test("every hook kind runs at its point with the state on stdin", async () => {
  const spec = defaultSpec(["sh", "-c", "test -f /tmp/startContainer.json && echo ok"]);
  spec.hostname = "hooked";
  const host = join(bundle.dir, "host-hook.sh");
  const h = (kind: string) => [{ path: host, args: ["host-hook.sh", kind] }];
  const c = (kind: string) => [{ path: "/hook.sh", args: ["hook.sh", kind] }];
  spec.hooks = {
    prestart: h("prestart"),
    createRuntime: h("createRuntime"),
    createContainer: c("createContainer"),
    startContainer: c("startContainer"),
    poststart: h("poststart"),
    poststop: h("poststop"),
  };
  const ct = await Container.create({ id: "hooks-1", bundle: bundle.dir, spec });
  const pid = ct.init.pid;
  const state = (file: string) => JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  assert.equal(existsSync(join(bundle.dir, "poststart.json")), false);
  for (const kind of ["prestart", "createRuntime"]) {
    const s = state(join(bundle.dir, `${kind}.json`));
    assert.equal(s["id"], "hooks-1");
    assert.equal(s["pid"], pid);
    assert.equal(s["bundle"], bundle.dir);
    // In the runtime's namespaces, not the container's.
    assert.equal(
      readFileSync(join(bundle.dir, `${kind}.uts`), "utf8").trim(),
      readlinkSync("/proc/self/ns/uts"),
    );
  }
  const cc = state(join(bundle.rootfs, "tmp/createContainer.json"));
  assert.equal(cc["pid"], pid);
  assert.equal(readFileSync(join(bundle.rootfs, "tmp/createContainer.host"), "utf8"), "hooked\n");
  assert.equal(existsSync(join(bundle.rootfs, "tmp/startContainer.json")), false);
  await ct.start();
  assert.equal(readFileSync(join(bundle.rootfs, "tmp/startContainer.host"), "utf8"), "hooked\n");
  assert.equal(state(join(bundle.dir, "poststart.json"))["status"], "running");
  assert.equal((await ct.init.wait()).code, 0, "the init saw the startContainer hook's file");
  await ct.delete();
  const ps = state(join(bundle.dir, "poststop.json"));
  assert.equal(ps["status"], "stopped");
  assert.deepEqual(ct.hookWarnings, []);
});

test("a failing createRuntime hook fails create and leaves no process", async () => {
  const spec = defaultSpec(["true"]);
  spec.hooks = { createRuntime: [{ path: "/bin/sh", args: ["sh", "-c", "echo nope >&2; exit 3"] }] };
  await assert.rejects(Container.create({ id: "hooks-2", bundle: bundle.dir, spec }), /status 3.*nope/s);
  assert.deepEqual(
    descendants(process.pid).map((p) => p.pid),
    [],
  );
});

test("a createContainer hook that does not exist in the container fails create", async () => {
  const spec = defaultSpec(["true"]);
  spec.hooks = { createContainer: [{ path: "/no/such/hook" }] };
  await assert.rejects(
    Container.create({ id: "hooks-3", bundle: bundle.dir, spec }),
    /createContainer hook "\/no\/such\/hook" could not start: execve \(stat\) "\/no\/such\/hook": ENOENT/,
  );
  assert.deepEqual(
    descendants(process.pid).map((p) => p.pid),
    [],
  );
});

test("an in-container hook past its timeout is killed and fails create", async () => {
  const spec = defaultSpec(["true"]);
  spec.hooks = { createContainer: [{ path: "/bin/sleep", args: ["sleep", "10"], timeout: 1 }] };
  const t0 = Date.now();
  await assert.rejects(
    Container.create({ id: "hooks-4", bundle: bundle.dir, spec }),
    /createContainer hook "\/bin\/sleep" timed out after 1 s/,
  );
  assert.ok(Date.now() - t0 < 5000, "did not wait for the hook's own end");
  assert.deepEqual(
    descendants(process.pid).map((p) => p.pid),
    [],
  );
});
