// The guard `start` leaves behind for the window between its exit and
// containerd's dial (src/shim/socket-guard.ts). A `sleep` child stands in
// for the daemon; the guard only compares inodes, so a plain file stands in
// for the socket.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { guardSocketUntilConnected } from "../../src/shim/socket-guard.js";

const dir = mkdtempSync(join(tmpdir(), "tsshim-guard-"));
const children: ChildProcess[] = [];

after(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function fakeDaemon(): ChildProcess & { pid: number } {
  const c = spawn("sleep", ["30"], { stdio: "ignore" });
  children.push(c);
  if (c.pid === undefined) throw new Error("spawn sleep failed");
  return c as ChildProcess & { pid: number };
}

function killAndReap(c: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    c.once("exit", () => resolve());
    c.kill("SIGKILL");
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function setup(name: string): { socket: string; bundle: string } {
  const bundle = join(dir, name);
  const socket = join(dir, `${name}.sock`);
  mkdirSync(bundle);
  writeFileSync(socket, "");
  return { socket, bundle };
}

test("daemon dies before containerd dials: the guard removes the socket and exits", async () => {
  const { socket, bundle } = setup("dead");
  const daemon = fakeDaemon();
  const guard = guardSocketUntilConnected(daemon.pid, socket, bundle);
  assert.ok(guard !== undefined);
  await killAndReap(daemon);
  assert.ok(await until(() => !existsSync(socket), 3_000), "socket still there 3 s after the daemon died");
  assert.ok(await until(() => !isAlive(guard), 3_000), "guard still running");
});

test("containerd dialled (shim-binary-path written): the guard exits and leaves the socket to the delete verb", async () => {
  const { socket, bundle } = setup("connected");
  const daemon = fakeDaemon();
  const guard = guardSocketUntilConnected(daemon.pid, socket, bundle);
  assert.ok(guard !== undefined);
  writeFileSync(join(bundle, "shim-binary-path"), "/usr/bin/containerd-shim-tsshim-v2");
  assert.ok(await until(() => !isAlive(guard), 3_000), "guard still running after the marker appeared");
  await killAndReap(daemon);
  assert.ok(existsSync(socket), "the guard removed the socket of a shim containerd is connected to");
});

test("a socket replaced by a later start (other inode) is left alone", async () => {
  const { socket, bundle } = setup("reused");
  const daemon = fakeDaemon();
  const guard = guardSocketUntilConnected(daemon.pid, socket, bundle);
  assert.ok(guard !== undefined);
  unlinkSync(socket);
  writeFileSync(socket, "new");
  await killAndReap(daemon);
  assert.ok(await until(() => !isAlive(guard), 3_000), "guard still running");
  assert.ok(existsSync(socket), "the guard removed another start's socket");
});
