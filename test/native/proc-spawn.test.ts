// Plain spawn through the native core: exit statuses, exec failures, the fd map,
// signal reset, sessions, and no fd growth over many spawn/reap cycles.
import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { nativeProc } from "../../src/oci/native-proc.js";
import { Reaper } from "../../src/oci/reaper.js";
import { openFdCount, readAll, run, zombieChildren } from "./proc-util.js";

describe("native spawn", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "tsshim-proc-spawn-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    assert.deepEqual(zombieChildren(), []);
  });

  it("reports an exit code exactly", async () => {
    const wall0 = BigInt(Date.now()) * 1_000_000n;
    const { exit } = await run("/bin/sh", ["sh", "-c", "exit 3"]);
    assert.equal(exit.code, 3);
    assert.equal(exit.signal, null);
    assert.equal(exit.status, 3);
    assert.ok(exit.exitedAt >= wall0 - 1_000_000n, "exitedAt is wall-clock nanoseconds at reap");
    assert.ok(exit.exitedAt <= BigInt(Date.now()) * 1_000_000n + 1_000_000n);
  });

  it("reports a signal death as 128+signal", async () => {
    const { exit } = await run("/bin/sh", ["sh", "-c", "kill -9 $$"]);
    assert.equal(exit.code, null);
    assert.equal(exit.signal, 9);
    assert.equal(exit.status, 137);
  });

  it("throws synchronously with ENOENT named for a missing binary, leaving no child", () => {
    const before = openFdCount();
    assert.throws(
      () => Reaper.instance().spawn({ file: "/no/such", args: ["x"] }),
      (e: unknown) => {
        assert.ok(e instanceof Error);
        assert.equal(e.message, 'execve "/no/such": ENOENT');
        assert.equal((e as { code?: unknown }).code, "ENOENT");
        return true;
      },
    );
    assert.throws(
      () => Reaper.instance().spawn({ file: "/etc/passwd", args: ["x"] }),
      /execve "\/etc\/passwd": EACCES/,
    );
    assert.throws(() => Reaper.instance().spawn({ file: "no-such-tool-xyz" }), /ENOENT/);
    assert.equal(openFdCount(), before, "the error pipe and pidfd are closed");
    assert.deepEqual(zombieChildren(), [], "the failed child was reaped");
  });

  it("names a bad cwd", () => {
    assert.throws(
      () => Reaper.instance().spawn({ file: "/bin/true", cwd: "/no/such/dir" }),
      /^Error: chdir "\/no\/such\/dir": ENOENT$/,
    );
  });

  it("rejects a bad source fd before cloning", () => {
    assert.throws(() => Reaper.instance().spawn({ file: "/bin/true", fds: [-1, 1, 2, 987] }), /EBADF/);
  });

  it("passes argv (with argv[0]), env and cwd exactly", async () => {
    const { exit, stdout } = await run(
      "/bin/busybox",
      [
        "sh",
        "-c",
        'tr "\\0" "\\n" < /proc/$$/cmdline; echo ---; tr "\\0" "\\n" < /proc/$$/environ; echo ---; pwd',
        "a b",
        "",
      ],
      { env: ["A=1", "B=two words", "EMPTY="], cwd: dir },
    );
    assert.equal(exit.status, 0);
    const [argv, env, cwd] = stdout.split("---\n");
    assert.deepEqual(argv!.split("\n").slice(0, -1), [
      "sh",
      "-c",
      'tr "\\0" "\\n" < /proc/$$/cmdline; echo ---; tr "\\0" "\\n" < /proc/$$/environ; echo ---; pwd',
      "a b",
      "",
    ]);
    assert.deepEqual(
      env!.split("\n").filter((l) => l !== ""),
      ["A=1", "B=two words", "EMPTY="],
    );
    assert.equal(cwd, `${dir}\n`);
  });

  it("maps fds and leaks no other fd into the child", async () => {
    const file = join(dir, "fd3.txt");
    const fd = openSync(file, "w"); // Node opens with O_CLOEXEC: the map must still carry it
    try {
      const { exit, stdout } = await run(
        "/bin/sh",
        ["sh", "-c", "echo via-fd3 >&3; ls /proc/$$/fd; readlink /proc/$$/fd/4"],
        {
          extraFds: [fd, -1],
        },
      );
      assert.equal(exit.status, 0);
      const lines = stdout.trim().split("\n");
      assert.deepEqual(lines.slice(0, -1), ["0", "1", "2", "3", "4"], `child fds: ${stdout}`);
      assert.equal(lines.at(-1), "/dev/null");
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(file, "utf8"), "via-fd3\n");
    assert.ok(openFdCount() > 5, "this process has many more fds than it handed over");
  });

  it("can map one parent fd to several child fds, including swaps onto low numbers", async () => {
    // Child fds 1 and 2 are both the same pipe.
    const native = nativeProc();
    const [r, w] = native.pipe();
    const child = Reaper.instance().spawn({
      file: "/bin/sh",
      args: ["sh", "-c", "echo out; echo err >&2"],
      fds: [-1, w, w],
    });
    native.closeFd(w);
    const [exit, out] = await Promise.all([child.exited, readAll(r)]);
    assert.equal(exit.status, 0);
    assert.equal(out, "out\nerr\n");
  });

  it("resets signal dispositions and the mask in the child", async () => {
    // Node ignores SIGPIPE; a helper must start with the default disposition (SigIgn 0).
    // grep reads its own status (a waiting shell would show the mask it blocks itself).
    const { stdout } = await run("/bin/grep", ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"]);
    const fields = Object.fromEntries(
      stdout
        .trim()
        .split("\n")
        .map((l) => l.split(/:\s+/) as [string, string]),
    );
    assert.equal(fields["SigBlk"], "0000000000000000");
    assert.equal(fields["SigIgn"], "0000000000000000");
    // The child shared our memory until execve but not our signal table: Node still ignores SIGPIPE.
    const ours = readFileSync("/proc/self/status", "utf8").match(/^SigIgn:\s+([0-9a-f]+)$/m)![1]!;
    assert.ok((BigInt(`0x${ours}`) & (1n << 12n)) !== 0n, "SIGPIPE (13) is still ignored here");
  });

  it("starts a new session or process group on request", async () => {
    const ids = "echo $$ $(cut -d' ' -f5,6 /proc/$$/stat)";
    const own = await run("/bin/sh", ["sh", "-c", ids], { setsid: true });
    const [pid, pgid, sid] = own.stdout.trim().split(" ").map(Number);
    assert.equal(pgid, pid);
    assert.equal(sid, pid);
    const grp = await run("/bin/sh", ["sh", "-c", ids], { newProcessGroup: true });
    const [pid2, pgid2, sid2] = grp.stdout.trim().split(" ").map(Number);
    assert.equal(pgid2, pid2);
    assert.notEqual(sid2, pid2);
    const plain = await run("/bin/sh", ["sh", "-c", ids]);
    const [, pgid3] = plain.stdout.trim().split(" ").map(Number);
    const ours = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
    assert.equal(pgid3, Number(ours[2]), "without either, the child stays in our process group");
  });

  it("signals through the pidfd and reports false once the process is gone", async () => {
    const child = Reaper.instance().spawn({ file: "/bin/sleep", args: ["sleep", "30"] });
    assert.ok(child.pidfd >= 0);
    assert.equal(child.kill(15), true);
    const exit = await child.exited;
    assert.equal(exit.signal, 15);
    assert.equal(exit.status, 143);
    assert.equal(child.pidfd, -1, "the pidfd is closed once the exit is delivered");
    assert.equal(child.kill(15), false);
  });

  it("pidfdOpen/pidfdSendSignal name their errors", () => {
    const native = nativeProc();
    assert.throws(() => native.pidfdOpen(2 ** 22 + 12345), /pidfd_open "pid \d+": ESRCH/);
    const fd = native.pidfdOpen(process.pid);
    try {
      native.pidfdSendSignal(fd, 0);
    } finally {
      native.closeFd(fd);
    }
    assert.throws(() => native.pidfdSendSignal(fd, 0), /EBADF/);
  });

  it("works through the fork + pidfd_open fallback too", async () => {
    const native = nativeProc();
    const reaper = Reaper.instance();
    const [r, w] = native.pipe();
    const { pid, pidfd } = native.spawn({
      file: "/bin/sh",
      argv: ["sh", "-c", "ls /proc/$$/fd; exit 5"],
      envp: [],
      fds: [-1, w, -1],
      legacyFork: true,
    });
    native.closeFd(w);
    reaper.expect(pid, pidfd);
    const [exit, out] = await Promise.all([reaper.watch(pid, { pidfd }), readAll(r)]);
    native.closeFd(pidfd);
    assert.equal(exit.status, 5);
    assert.equal(out, "0\n1\n2\n");
    assert.throws(
      () => native.spawn({ file: "/no/such", argv: ["x"], envp: [], legacyFork: true }),
      /^Error: execve "\/no\/such": ENOENT$/,
    );
    assert.deepEqual(zombieChildren(), []);
  });

  it("grows no fd over 500 spawn/reap cycles", async () => {
    await run("/bin/true", ["true"]); // warm up lazily created handles
    const before = openFdCount();
    for (let i = 0; i < 500; i++) {
      const child = Reaper.instance().spawn({ file: "/bin/true", args: ["true"] });
      const exit = await child.exited;
      assert.equal(exit.status, 0);
    }
    assert.equal(openFdCount(), before);
    assert.deepEqual(zombieChildren(), []);
  });
});
