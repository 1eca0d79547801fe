// The restart benchmark's reading of containerd's log (bench/scenarios/restart.ts):
// the task plugin's reload span, to the microsecond, from the lines containerd 1.6 writes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseTaskList, taskPluginReloadMs } from "../../bench/scenarios/restart.js";

const line = (time: string, plugin: string): string =>
  `time="${time}" level=info msg="loading plugin \\"${plugin}\\"..." type=${plugin.split(".").slice(0, 3).join(".")}`;

test("the task plugin's reload: from its line to the next plugin's, nanosecond stamps", () => {
  const log = [
    line("2026-11-22T18:45:41.900000000Z", "io.containerd.service.v1.tasks-service"),
    'time="2026-11-22T18:45:41.910000000Z" level=info msg="starting containerd"',
    line("2026-11-22T18:45:41.923918645Z", "io.containerd.runtime.v2.task"),
    'time="2026-11-22T18:45:41.925000000Z" level=info msg="shim disconnected" id=x',
    line("2026-11-22T18:45:41.927159898Z", "io.containerd.monitor.v1.cgroups"),
  ].join("\n");
  const ms = taskPluginReloadMs(log);
  assert.ok(ms !== undefined && Math.abs(ms - 3.241) < 0.002, `got ${ms}`);
});

test("no task plugin line, no next plugin, or an unreadable stamp: no figure", () => {
  assert.equal(taskPluginReloadMs(""), undefined);
  assert.equal(
    taskPluginReloadMs(line("2026-11-22T18:45:41.9Z", "io.containerd.runtime.v2.task")),
    undefined,
  );
  const bad = [
    line("yesterday", "io.containerd.runtime.v2.task"),
    line("2026-11-22T18:45:41Z", "io.x.y"),
  ].join("\n");
  assert.equal(taskPluginReloadMs(bad), undefined);
  // A whole-second stamp (no fraction) still reads.
  const whole = [
    line("2026-11-22T18:45:41Z", "io.containerd.runtime.v2.task"),
    line("2026-11-22T18:45:42.5Z", "io.containerd.monitor.v1.cgroups"),
  ].join("\n");
  assert.equal(taskPluginReloadMs(whole), 1500);
});

test("ctr task ls rows: task, pid, status", () => {
  const rows = parseTaskList("TASK    PID     STATUS\nc1      123     RUNNING\nc2      0       STOPPED\n");
  assert.deepEqual(
    [...rows],
    [
      ["c1", "RUNNING"],
      ["c2", "STOPPED"],
    ],
  );
});
