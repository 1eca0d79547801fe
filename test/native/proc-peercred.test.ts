// SO_PEERCRED through the native core, with the callback signature the ttrpc server
// takes: (fd: number) => { pid, uid, gid }.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { nativeProc, type PeerCredentials } from "../../src/oci/native-proc.js";
import { Reaper } from "../../src/oci/reaper.js";
import { nodeEnv } from "./proc-util.js";

/** The fd under a net.Socket (libuv's stream handle keeps it as _handle.fd). */
function socketFd(s: Socket): number {
  const handle: unknown = (s as unknown as { _handle?: unknown })._handle;
  const fd = typeof handle === "object" && handle !== null ? (handle as { fd?: unknown }).fd : undefined;
  if (typeof fd !== "number" || fd < 0) throw new Error("socket has no fd");
  return fd;
}

describe("peerCredentials", () => {
  let dir: string;
  let server: Server;
  let sockPath: string;
  const accepted: Array<(creds: PeerCredentials) => void> = [];
  const peer: (fd: number) => PeerCredentials = (fd) => nativeProc().peerCredentials(fd);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tsshim-proc-peercred-"));
    sockPath = join(dir, "s.sock");
    server = createServer((conn) => {
      const creds = peer(socketFd(conn));
      conn.destroy();
      accepted.shift()?.(creds);
    });
    await new Promise<void>((resolve) => server.listen(sockPath, resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const nextPeer = () => new Promise<PeerCredentials>((resolve) => accepted.push(resolve));

  it("returns our own pid/uid/gid for a connection from this process", async () => {
    const got = nextPeer();
    const client = connect(sockPath);
    client.on("error", () => {});
    const creds = await got;
    client.destroy();
    assert.deepEqual(creds, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
  });

  it("returns the pid of another process that connected", async () => {
    const script = join(dir, "client.cjs");
    writeFileSync(
      script,
      `const c = require("node:net").connect(${JSON.stringify(sockPath)}); c.on("close", () => process.exit(0)); c.on("error", () => process.exit(3));\n`,
    );
    const got = nextPeer();
    const child = Reaper.instance().spawn({
      file: process.execPath,
      args: ["node", script],
      env: nodeEnv(),
      fds: [-1, -1, 2],
    });
    const creds = await got;
    const exit = await child.exited;
    assert.equal(exit.status, 0);
    assert.equal(creds.pid, child.pid);
    assert.equal(creds.uid, process.getuid!());
    assert.equal(creds.gid, process.getgid!());
  });

  it("names the error for an fd that is not a socket", () => {
    const [r, w] = nativeProc().pipe();
    try {
      assert.throws(() => peer(r), /^Error: peer credentials "fd \d+": getsockopt: ENOTSOCK$/);
    } finally {
      nativeProc().closeFd(r);
      nativeProc().closeFd(w);
    }
  });
});
