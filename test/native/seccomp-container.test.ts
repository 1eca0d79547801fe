// containerd's default seccomp profile (what `ctr --seccomp` writes) in a real
// container run by the embedded core: calls that CAP_SYS_ADMIN alone would
// allow are denied, ordinary work goes on, and the kernel reports filter mode.
//
// The profile comes from a private containerd that is stopped before any
// container runs: the core's reaper waits with P_ALL and would take the exit
// statuses of containerd and ctr (node:child_process) if both were live at once.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { LinuxSeccomp } from "../../src/oci/spec.js";
import { startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";

let profile: LinuxSeccomp;
let bundle: Bundle | undefined;

before(async () => {
  const cd = await startContainerd();
  try {
    const image = await importBusyboxImage(cd);
    const created = await cd.ctr(["containers", "create", "--seccomp", image, "seccomp-probe", "/bin/true"]);
    assert.equal(created.code, 0, created.stderr);
    const info = await cd.ctr(["containers", "info", "seccomp-probe"]);
    assert.equal(info.code, 0, info.stderr);
    await cd.ctr(["containers", "delete", "seccomp-probe"]);
    profile = (JSON.parse(info.stdout) as { Spec: { linux: { seccomp: LinuxSeccomp } } }).Spec.linux.seccomp;
  } finally {
    await cd.stop();
  }
  bundle = makeBundle();
});

after(() => {
  bundle?.cleanup();
});

test("the default profile blocks unshare and mount in a container that holds CAP_SYS_ADMIN", async () => {
  const script =
    "unshare -u true; echo unshare=$?; mount -t tmpfs none /tmp; echo mount=$?; " +
    "grep ^Seccomp: /proc/self/status; echo hi > /tmp/f && cat /tmp/f";
  const spec = (seccomp: boolean) => {
    const s = defaultSpec(["sh", "-c", script]);
    const caps = s.process!.capabilities!;
    for (const set of [caps.bounding!, caps.effective!, caps.permitted!]) set.push("CAP_SYS_ADMIN");
    if (seccomp) s.linux!.seccomp = profile;
    return s;
  };
  // Without the profile the capability is enough for both calls.
  const open = await runContainer(bundle!, spec(false));
  assert.match(open.stdout, /unshare=0\nmount=0\nSeccomp:\s+0\nhi\n/, open.stderr);
  const filtered = await runContainer(bundle!, spec(true));
  assert.match(filtered.stdout, /unshare=1\nmount=\d+\nSeccomp:\s+2\nhi\n/, filtered.stderr);
  assert.doesNotMatch(filtered.stdout, /mount=0/);
  assert.match(filtered.stderr, /Operation not permitted/);
  assert.equal(filtered.status.code, 0);
});
