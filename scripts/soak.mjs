// The long variants of the fault and load tests (npm run soak, 10-30 min):
// 1,000 kills of containerd, 60 s of containerd downtime, a 10,000-exec
// soak, 200+100+200 shim kills, 300 containers, 20,000 orphans. Each runs as its
// own `node --test` of the compiled file, sized through the environment;
// the figures each test prints are collected into a markdown table on
// stdout (copy it into docs/reliability.md when the figures are new).
//
// Usage: node scripts/soak.mjs [substring ...]   (only the matching runs)
import { spawn } from "node:child_process";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;

const runs = [
  {
    file: "fault-containerd-kill",
    fault: "kill -9 containerd at random points of create/start/exec/kill/delete",
    env: { TSSHIM_FAULT_ITERATIONS: "1000" },
    iterations: "1,000 kills",
    checked:
      "exact exit status of every init and exec (Tasks.Get), one shim TaskExit per process (event stream + containerd log), no leak, no bundle dir",
  },
  {
    file: "fault-shim-kill",
    fault:
      "kill -9 a shim during create/start (half within 5 ms of its spawn), within 5 ms of the Node start verb's spawn, and during exec",
    env: { TSSHIM_SHIM_KILL_ROUNDS: "200" },
    iterations: "200 + 100 + 200",
    checked: "containerd's delete path: no process, shim, socket, mount, cgroup, bundle dir",
  },
  {
    file: "fault-downtime",
    fault: "containerd down 60 s while containers exit and write (file:// and FIFOs)",
    env: { TSSHIM_DOWNTIME_S: "60" },
    iterations: "1",
    checked: "exit statuses, complete file:// logs, FIFO bytes within the pipe buffer",
  },
  {
    file: "fault-io",
    fault: "log FIFO reader gone, stdout FIFO reader gone, file:// log on a full 1 MiB tmpfs",
    env: {},
    iterations: "3",
    checked: "container keeps running, shim serves exec, error where it applies",
  },
  {
    file: "load-exec",
    fault: "sequential execs in one container (Tasks API)",
    env: { TSSHIM_LOAD_EXECS: "10000" },
    iterations: "10,000",
    checked: "exit statuses, shim RSS (settled and under load) at 100/500/every 1,000, shim fds, zombies",
  },
  {
    file: "load-containers",
    fault: "containers through their lifecycle (ctr run --rm), 100 at a time",
    env: { TSSHIM_LOAD_CONTAINERS: "300" },
    iterations: "300",
    checked: "output and exit code of each, no leak",
  },
  {
    file: "load-orphans",
    fault: "orphans reparented to the shim (host PID namespace)",
    env: { TSSHIM_LOAD_ORPHANS: "20000" },
    iterations: "20,000",
    checked: "no zombie, shim fds flat, shim CPU",
  },
];

function runOne(r) {
  const file = join(root, "dist/test/e2e", `${r.file}.test.js`);
  const env = { ...process.env, ...r.env };
  delete env.NODE_EXTRA_CA_CERTS;
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--test", "--test-reporter=spec", file], {
      cwd: root,
      env,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (b) => {
      out += b;
      process.stdout.write(b);
    });
    child.on("close", (code) => {
      const figures = out
        .split("\n")
        .filter((l) => l.startsWith(`${r.file}:`))
        .map((l) => l.slice(r.file.length + 1).trim());
      const pass = /ℹ pass (\d+)/.exec(out)?.[1] ?? "0";
      const fail = /ℹ fail (\d+)/.exec(out)?.[1] ?? "?";
      resolve({ ...r, code, pass, fail, figures, minutes: ((Date.now() - t0) / 60_000).toFixed(1) });
    });
  });
}

const only = process.argv.slice(2);
const selected = runs.filter((r) => only.length === 0 || only.some((o) => r.file.includes(o)));
const results = [];
for (const r of selected) {
  console.log(`\n=== soak: ${r.file} ${JSON.stringify(r.env)}`);
  results.push(await runOne(r));
}

const cell = (s) => String(s).replaceAll("|", "\\|").replaceAll("\n", " ");
console.log("\n| test | fault / load | iterations | checked | result | figures | min |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const r of results) {
  const result = r.code === 0 ? `pass (${r.pass})` : `FAIL (${r.fail} failed)`;
  console.log(
    `| ${r.file} | ${cell(r.fault)} | ${r.iterations} | ${cell(r.checked)} | ${result} | ${cell(r.figures.join("; "))} | ${r.minutes} |`,
  );
}
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
