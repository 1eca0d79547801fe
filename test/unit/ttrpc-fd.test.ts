// Listening on a pre-opened fd, the way the shim's `start` verb hands its daemon a listening socket as
// fd 3. This file is also the daemon: run with TSSHIM_TTRPC_FD_CHILD=1 it serves Echo on fd 3.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, renameSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { rawMethod, socketFd, TtrpcClient, TtrpcServer } from "../../src/ttrpc/index.js";
import { Echo, echoImpl } from "./ttrpc-echo.js";

async function child(): Promise<void> {
  const server = new TtrpcServer();
  server.register(Echo, echoImpl);
  server.registerMethods("fd.test", [
    rawMethod("Pid", "unary", () => new TextEncoder().encode(String(process.pid))),
  ]);
  await server.listen({ fd: 3 });
  process.once("SIGTERM", () => {
    void server.shutdown().then(() => process.exit(0));
  });
  process.stdout.write("ready\n");
}

if (process.env.TSSHIM_TTRPC_FD_CHILD === "1") {
  await child();
} else {
  test("a server listens on an inherited listening fd (fd 3) and serves clients of that socket", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsshim-ttrpc-fd-"));
    const path = join(dir, "shim.sock");
    const staging = `${path}.parent`;
    // The "start" side: create and bind the listening socket, hand it over as fd 3.
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(staging, resolve));
    const fd = socketFd(listener);
    assert.ok(fd > 2);
    const env: NodeJS.ProcessEnv = { ...process.env, TSSHIM_TTRPC_FD_CHILD: "1" };
    delete env.NODE_EXTRA_CA_CERTS;
    const daemon = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      stdio: ["ignore", "pipe", "inherit", fd],
      env,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        daemon.stdout?.once("data", () => resolve());
        daemon.once("exit", (code) => reject(new Error(`daemon exited early (${code})`)));
      });
      // Node unlinks a unix socket's path when its server closes; moving the name first keeps the
      // socket file (now served only by the daemon) in place.
      renameSync(staging, path);
      await new Promise<void>((resolve) => listener.close(() => resolve()));

      const client = await TtrpcClient.connect(path);
      const pid = new TextDecoder().decode(await client.call("fd.test", "Pid", new Uint8Array(0)));
      assert.equal(pid, String(daemon.pid));
      assert.equal((await client.service(Echo).echo({ text: "over fd 3" })).text, "over fd 3");
      client.close();

      const exited = new Promise<number | null>((resolve) => daemon.once("exit", (code) => resolve(code)));
      daemon.kill("SIGTERM");
      assert.equal(await exited, 0);
    } finally {
      if (daemon.exitCode === null) daemon.kill("SIGKILL");
      listener.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
