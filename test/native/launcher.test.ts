// The shim program containerd runs (native/launcher, bin/containerd-shim-tsshim-v2):
// what it answers without Node, and when it hands over to Node instead.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";

const SHIM = new URL("../../../bin/containerd-shim-tsshim-v2", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "tsshim-launcher-"));
const sockets = join(dir, "s");
mkdirSync(sockets);
const servers: Server[] = [];

after(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function runDelete(bundle: string, address: string, id: string): { status: number | null; out: Buffer } {
  const r = spawnSync(
    SHIM,
    ["-namespace", "ns", "-address", address, "-id", id, "-bundle", bundle, "delete"],
    {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", TSSHIM_SOCKET_DIR: sockets },
      input: "",
    },
  );
  return { status: r.status, out: r.stdout };
}

function listen(path: string): Promise<void> {
  return new Promise((resolve) => {
    const s = createServer();
    servers.push(s);
    s.listen(path, resolve);
  });
}

/** DeleteResponse{exit_status: 137} and nothing else: the answer made without Node. */
const NO_NODE_ANSWER = Buffer.from([0x10, 0x89, 0x01]);

test("delete with nothing left behind is answered without Node: DeleteResponse{137}", () => {
  const bundle = join(dir, "b1");
  mkdirSync(bundle);
  const r = runDelete(bundle, "/run/c.sock", "gone");
  assert.equal(r.status, 0);
  assert.deepEqual(r.out, NO_NODE_ANSWER);
});

test("delete with a tsshim.json in the bundle goes to Node (which also stamps exited_at)", () => {
  const bundle = join(dir, "b2");
  mkdirSync(bundle);
  writeFileSync(
    join(bundle, "tsshim.json"),
    JSON.stringify({ id: "x", pid: 0, startTime: "0", cgroupsPath: "" }),
  );
  const r = runDelete(bundle, "/run/c.sock", "x");
  assert.equal(r.status, 0);
  assert.ok(
    r.out.length > NO_NODE_ANSWER.length,
    `Node's answer carries a timestamp: ${r.out.toString("hex")}`,
  );
  assert.deepEqual(r.out.subarray(0, 3), NO_NODE_ANSWER);
});

test("delete finds the shim's socket by the SHA-256 name (multi-block keys too) and leaves it to Node", async () => {
  const bundle = join(dir, "b3");
  mkdirSync(bundle);
  const longAddress = `/run/${"a".repeat(150)}/containerd.sock`;
  for (const [address, id] of [
    ["/run/c.sock", "short"],
    [longAddress, "long-id-over-one-sha-block"],
  ] as const) {
    const name = createHash("sha256").update(`${address}/ns/${id}`).digest("hex");
    await listen(join(sockets, name));
    const r = runDelete(bundle, address, id);
    assert.equal(r.status, 0);
    assert.ok(r.out.length > NO_NODE_ANSWER.length, `${id}: the socket was seen, Node answered`);
  }
});

test("NODE_OPTIONS from containerd's environment never reaches Node", () => {
  const r = spawnSync(SHIM, ["-v"], {
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", NODE_OPTIONS: "--require /nonexistent/x.js" },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^containerd-shim-tsshim-v2:\n {2}Version: /);
});
