// stdio of tsshim tasks end to end: `ctr run -t` through a real PTY (typed
// input, a resize seen by `stty size` inside), stdin piped into `cat`, and
// 512 MiB on stdout arriving complete.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
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
  await cd?.stop();
});

const tsshim = (): string[] => cd.runtimeFlags("tsshim");

/** Removes a task and its container if a failed test left them. */
async function removeIfLeft(id: string): Promise<void> {
  const ls = await cd.ctr(["container", "ls", "-q"]);
  if (!ls.stdout.split("\n").includes(id)) return;
  await cd.ctr(["task", "kill", "-a", "-s", "SIGKILL", id]);
  await cd.ctr(["task", "rm", "-f", id]);
  await cd.ctr(["container", "rm", id]);
}

// CSI sequences busybox's line editor sends (cursor queries, clear to end of line).
const CSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g");
const stripAnsi = (s: string): string => s.replace(CSI, "");

/** A ctr command running under a real PTY (node-pty), with what its terminal shows. */
function terminalSession(args: readonly string[]): {
  term: pty.IPty;
  screen: () => string;
  exited: Promise<number>;
  /** Waits until `re` matches what the terminal showed after offset `from`. */
  expect: (re: RegExp, from: number, timeoutMs?: number) => Promise<boolean>;
  must: (re: RegExp, what: string, from: number) => Promise<void>;
} {
  const cmd = cd.ctrCommand(args);
  const term = pty.spawn(cmd.file, cmd.args, { name: "xterm", cols: 80, rows: 24, env: cmd.env });
  let screen = "";
  term.onData((d) => {
    screen += d;
  });
  const exited = new Promise<number>((resolve) => term.onExit((e) => resolve(e.exitCode)));
  const expect = async (re: RegExp, from: number, timeoutMs = 15_000): Promise<boolean> => {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(stripAnsi(screen.slice(from)))) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
    return true;
  };
  const must = async (re: RegExp, what: string, from: number): Promise<void> => {
    if (!(await expect(re, from)))
      assert.fail(`no ${what} on the terminal; it shows: ${JSON.stringify(screen)}`);
  };
  return { term, screen: () => screen, exited, expect, must };
}

/** Types into an interactive busybox sh, resizes the terminal, exits with 5. */
async function driveShell(s: ReturnType<typeof terminalSession>): Promise<void> {
  await s.must(/# /, "prompt", 0);
  // \n becomes \r\n twice on the way (the container's PTY, then ours): \r*\n
  let mark = s.screen().length;
  s.term.write("stty size\r");
  await s.must(/\n24 80\r*\n/, "initial size 24 80", mark);
  mark = s.screen().length;
  s.term.write("echo typed-$((1+2))\r");
  // the echo of the typed line shows the expression; only the shell's output says 3
  await s.must(/\ntyped-3\r*\n/, "output of the typed command", mark);

  // node-pty sets the new size, ctr gets SIGWINCH and calls ResizePty.
  s.term.resize(101, 33);
  let resized = false;
  for (let i = 0; i < 20 && !resized; i++) {
    mark = s.screen().length;
    s.term.write("stty size\r");
    resized = await s.expect(/\n33 101\r*\n/, mark, 500);
  }
  assert.ok(resized, `stty size never showed 33 101: ${JSON.stringify(s.screen())}`);
  s.term.write("exit 5\r");
  assert.equal(await s.exited, 5);
}

function killQuietly(term: pty.IPty): void {
  try {
    term.kill("SIGKILL");
  } catch {
    // already exited
  }
}

test("ctr run -t: typed input is run, a resize reaches the container, the exit code comes back", async () => {
  const id = "tty";
  const s = terminalSession(["run", "-t", "--rm", ...tsshim(), image, id, "sh"]);
  try {
    await driveShell(s);
  } finally {
    killQuietly(s.term);
    await removeIfLeft(id);
  }
});

test("ctr task exec -t: the same through an exec's PTY (ResizePty with its exec id)", async () => {
  const id = "ttyexec";
  const run = await cd.ctr(["run", "-d", ...tsshim(), image, id, "sleep", "1000"]);
  assert.equal(run.code, 0, run.stderr);
  const s = terminalSession(["task", "exec", "-t", "--exec-id", "sh1", id, "sh"]);
  try {
    await driveShell(s);
    const ls = await cd.ctr(["task", "ls"]);
    assert.match(ls.stdout, new RegExp(`^${id}\\s+\\d+\\s+RUNNING$`, "m"), "the init outlives the exec");
  } finally {
    killQuietly(s.term);
    await cd.ctr(["task", "kill", "-s", "SIGKILL", id]);
    await removeIfLeft(id);
  }
});

/** Runs ctr with `input` on its stdin; stdout as bytes. */
function ctrWithStdin(
  args: readonly string[],
  input: Buffer,
): Promise<{ stdout: Buffer; stderr: string; code: number }> {
  const child = cd.spawnCtr(args);
  const out: Buffer[] = [];
  let err = "";
  child.stdout?.on("data", (b: Buffer) => out.push(b));
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  child.stdin?.on("error", () => undefined);
  child.stdin?.end(input);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ctr ${args.join(" ")} timed out (stdin EOF not delivered?)\n${err}`));
    }, 30_000);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out), stderr: err, code: code ?? -1 });
    });
  });
}

test("stdin piped into ctr run reaches cat byte for byte, and cat exits at EOF", async () => {
  const small = Buffer.from("piped-input\nsecond line without newline");
  const r1 = await ctrWithStdin(["run", "--rm", ...tsshim(), image, "cat1", "cat"], small);
  assert.equal(r1.code, 0, r1.stderr);
  assert.ok(r1.stdout.equals(small), `got ${JSON.stringify(r1.stdout.toString())}`);

  // 4 MiB of random bytes: every byte value, far more than a pipe holds.
  const big = randomBytes(4 << 20);
  const r2 = await ctrWithStdin(["run", "--rm", ...tsshim(), image, "cat2", "cat"], big);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.stdout.length, big.length);
  assert.ok(r2.stdout.equals(big), "the bytes that came back differ from the input");

  // Empty stdin: EOF at once.
  const r3 = await ctrWithStdin(
    ["run", "--rm", ...tsshim(), image, "cat3", "sh", "-c", "cat; echo eof"],
    Buffer.alloc(0),
  );
  assert.equal(r3.code, 0, r3.stderr);
  assert.equal(r3.stdout.toString(), "eof\n");

  // The same for an exec's stdin.
  const id = "catexec";
  assert.equal((await cd.ctr(["run", "-d", ...tsshim(), image, id, "sleep", "1000"])).code, 0);
  try {
    const input = randomBytes(1 << 20);
    const e = await ctrWithStdin(["task", "exec", "--exec-id", "cat", id, "cat"], input);
    assert.equal(e.code, 0, e.stderr);
    assert.ok(e.stdout.equals(input), "the exec's cat returned different bytes");
  } finally {
    await cd.ctr(["task", "kill", "-s", "SIGKILL", id]);
    await removeIfLeft(id);
  }
});

/** Runs ctr, hashing its stdout as it streams; stderr as text. */
async function hashedCtr(
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number; bytes: number; sha256: string; stderr: string; ms: number }> {
  const t0 = Date.now();
  const child = cd.spawnCtr(args);
  child.stdin?.end();
  const hash = createHash("sha256");
  let bytes = 0;
  let err = "";
  child.stdout?.on("data", (b: Buffer) => {
    bytes += b.length;
    hash.update(b);
  });
  child.stderr?.on("data", (b: Buffer) => {
    err += b.toString();
  });
  const code = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ctr ${args.join(" ")} timed out after ${bytes} bytes\n${err}`));
    }, timeoutMs);
    child.once("close", (c) => {
      clearTimeout(timer);
      resolve(c ?? -1);
    });
  });
  return { code, bytes, sha256: hash.digest("hex"), stderr: err, ms: Date.now() - t0 };
}

/** tee writes the same random stream to stdout and to a FIFO that sha256sum reads (to stderr). */
const teeScript = (size: number): string =>
  `mkfifo /tmp/f; sha256sum < /tmp/f >&2 & head -c ${size} /dev/urandom | tee /tmp/f; wait`;

function insideHash(stderr: string): string {
  const h = stderr.match(/^([0-9a-f]{64})\s+-$/m)?.[1];
  assert.ok(h !== undefined, `no sha256sum line on stderr: ${JSON.stringify(stderr)}`);
  return h;
}

test("512 MiB written to stdout arrive complete: byte count and sha256 match the container's", async () => {
  const size = 512 * 1024 * 1024;
  const r = await hashedCtr(["run", "--rm", ...tsshim(), image, "big", "sh", "-c", teeScript(size)], 120_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.bytes, size);
  assert.equal(r.sha256, insideHash(r.stderr));
});

test("exec output: 64 MiB arrive complete; a background child holding stdout does not hold ctr", async () => {
  const id = "execio";
  assert.equal((await cd.ctr(["run", "-d", ...tsshim(), image, id, "sleep", "1000"])).code, 0);
  try {
    const size = 64 * 1024 * 1024;
    const big = await hashedCtr(
      ["task", "exec", "--exec-id", "big", id, "sh", "-c", teeScript(size)],
      60_000,
    );
    assert.equal(big.code, 0, big.stderr);
    assert.equal(big.bytes, size);
    assert.equal(big.sha256, insideHash(big.stderr));

    // The exec exits at once, its child keeps stdout for 1000 s: like runc's
    // shim, tsshim waits up to 2 s for output, then ends the stream.
    const bg = await hashedCtr(
      ["task", "exec", "--exec-id", "bg", id, "sh", "-c", "sleep 1000 & echo started; exit 3"],
      20_000,
    );
    assert.equal(bg.code, 3, bg.stderr);
    assert.equal(bg.bytes, "started\n".length);
    assert.ok(bg.ms < 10_000, `ctr task exec took ${bg.ms} ms`);
  } finally {
    await cd.ctr(["task", "kill", "-s", "SIGKILL", id]);
    await removeIfLeft(id);
  }
});

test("nothing is left behind", async () => {
  await assertNoLeaks(snapshot);
});
