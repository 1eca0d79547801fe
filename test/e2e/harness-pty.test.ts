// ctrCommand() with node-pty: `ctr run -t` through a real PTY with the
// reference runtime — typed input, a resize seen by the container, the exit
// code — so shim tests can drive terminals the same way.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as pty from "node-pty";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { importBusyboxImage } from "../helpers/image.js";
import { assertNoLeaks, type LeakSnapshot, takeLeakSnapshot } from "../helpers/leaks.js";

let cd: Containerd;
let image: string;
let snapshot: LeakSnapshot;

before(async () => {
  cd = await startContainerd();
  image = await importBusyboxImage(cd);
  snapshot = takeLeakSnapshot(cd);
});

after(async () => {
  await cd.stop();
});

test("ctr run -t under node-pty: typed input, resize, exit code", async () => {
  const cmd = cd.ctrCommand(["run", "-t", "--rm", ...cd.runtimeFlags("runc"), image, "tty", "sh"]);
  const term = pty.spawn(cmd.file, cmd.args, { env: cmd.env, cols: 80, rows: 24, name: "xterm" });
  let output = "";
  const waitFor = (re: RegExp, timeoutMs = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const tick = (): void => {
        if (re.test(output)) resolve();
        else if (Date.now() - started > timeoutMs)
          reject(new Error(`no ${re} in output: ${JSON.stringify(output)}`));
        else setTimeout(tick, 20);
      };
      tick();
    });
  const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  term.onData((d) => {
    output += d;
  });
  await waitFor(/\/ # /);
  term.write("echo product=$((6*7))\r");
  await waitFor(/product=42/);
  term.resize(100, 30);
  term.write("stty size\r");
  await waitFor(/^30 100\r?$/m);
  term.write("tty\r");
  await waitFor(/^\/dev\/(pts\/\d+|console)\r?$/m);
  term.write("exit 3\r");
  assert.equal(await exited, 3);
  await assertNoLeaks(snapshot);
});
