// The shim's socket is the door to every container it owns: it is created
// 0600, and even when the file mode would let a process in (a mode changed by
// mistake, an fd passed along), the shim checks SO_PEERCRED and drops any peer
// that is not root or containerd's uid.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, linkSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ConnectRequestSchema, Task } from "../../src/api/gen/containerd/task/v2/shim_pb.js";
import { TtrpcClient } from "../../src/ttrpc/client.js";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";

let cd: Containerd;
let socketPath: string;
const ID = "guarded";

before(async () => {
  cd = await startContainerd();
  const image = await importBusyboxImage(cd);
  const run = await cd.ctr(["run", "-d", ...cd.runtimeFlags("tsshim"), image, ID, "sleep", "3600"]);
  assert.equal(run.code, 0, run.stderr);
  const address = readFileSync(
    join(cd.state, "io.containerd.runtime.v2.task", cd.namespace, ID, "address"),
    "utf8",
  );
  socketPath = address.replace(/^unix:\/\//, "");
});

after(async () => {
  if (existsSync(cd.dir)) await cd.stop();
});

test("the shim socket is a 0600 socket owned by root", () => {
  const st = statSync(socketPath);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, 0);
});

test("a non-root peer is dropped by the credential check even when the file mode lets it in", async () => {
  // /run/containerd/s is not traversable for other users either; a hard link in an open
  // directory on the same tmpfs gives nobody a path, and 0666 on the inode lets connect(2) in.
  const open = mkdtempSync("/run/tsshim-peer-");
  chmodSync(open, 0o755);
  const link = join(open, "sock");
  linkSync(socketPath, link);
  chmodSync(socketPath, 0o666);
  try {
    // Runs as nobody: connect, send a Connect request, report what happened.
    const probe = `
      const net = require("net");
      const s = net.connect(${JSON.stringify(link)});
      let got = 0;
      s.on("connect", () => {
        const body = Buffer.from([0x0a, 0x1b, ...Buffer.from("containerd.task.v2.Task"), 0x12, 0x07, ...Buffer.from("Connect")]);
        const h = Buffer.alloc(10); h.writeUInt32BE(body.length, 0); h.writeUInt32BE(1, 4); h[8] = 1;
        s.write(Buffer.concat([h, body]));
      });
      s.on("data", (d) => { got += d.length; });
      s.on("error", (e) => { console.log("error " + e.code); process.exit(0); });
      s.on("close", () => { console.log("closed after " + got + " bytes"); process.exit(0); });
      setTimeout(() => { console.log("still open after " + got + " bytes"); process.exit(0); }, 3000);
    `;
    const r = spawnSync(process.execPath, ["-e", probe], {
      uid: 65534,
      gid: 65534,
      encoding: "utf8",
      env: {},
    });
    // Dropped before any answer: a close, or a reset because its request was left unread.
    assert.match(r.stdout.trim(), /^(closed after 0 bytes|error (ECONNRESET|EPIPE))$/, r.stderr);
  } finally {
    chmodSync(socketPath, 0o600);
    rmSync(open, { recursive: true, force: true });
  }
  // root still gets in
  const client = await TtrpcClient.connect(socketPath);
  try {
    const c = await client
      .service(Task)
      .connect(create(ConnectRequestSchema, { id: ID }), { timeoutMs: 5_000 });
    assert.ok(c.taskPid > 0);
  } finally {
    client.close();
  }
});

test("the socket is not reachable from inside the container", async () => {
  const r = await cd.ctr([
    "task",
    "exec",
    "--exec-id",
    "peek",
    ID,
    "sh",
    "-c",
    `ls -l ${socketPath} 2>&1; ls /run 2>&1`,
  ]);
  assert.match(r.stdout, /No such file or directory/);
  assert.equal((await cd.ctr(["task", "kill", "-s", "SIGKILL", ID])).code, 0);
  assert.equal((await cd.ctr(["task", "rm", "-f", ID])).code, 0);
  assert.equal((await cd.ctr(["container", "rm", ID])).code, 0);
});
