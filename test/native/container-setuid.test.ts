// no_new_privileges must hold across a setuid-root binary: a process of uid
// 1000 that execs it stays euid 1000 with noNewPrivileges, and (the control)
// becomes euid 0 without it. The binary is a static C program the test builds
// (busybox drops setuid itself, so it cannot prove anything here).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";

let bundle: Bundle;

before(() => {
  bundle = makeBundle();
  const src = join(bundle.dir, "euid.c");
  writeFileSync(
    src,
    '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("uid=%d euid=%d\\n", (int)getuid(), (int)geteuid()); return 0; }\n',
  );
  const bin = join(bundle.rootfs, "bin", "euid");
  const cc = spawnSync("cc", ["-static", "-Os", "-o", bin, src], { encoding: "utf8" });
  assert.equal(cc.status, 0, `cc -static: ${cc.stderr}`);
  chownSync(bin, 0, 0);
  chmodSync(bin, 0o4755);
});

after(() => bundle.cleanup());

function spec(noNewPrivileges: boolean) {
  const s = defaultSpec(["/bin/euid"]);
  s.process!.user = { uid: 1000, gid: 1000 };
  s.process!.noNewPrivileges = noNewPrivileges;
  return s;
}

test("with noNewPrivileges a setuid-root binary does not raise the euid", async () => {
  const r = await runContainer(bundle, spec(true));
  assert.equal(r.status.status, 0, r.stderr);
  assert.equal(r.stdout, "uid=1000 euid=1000\n");
});

test("control: without noNewPrivileges the same binary runs with euid 0", async () => {
  const r = await runContainer(bundle, spec(false));
  assert.equal(r.status.status, 0, r.stderr);
  assert.equal(r.stdout, "uid=1000 euid=0\n");
});
