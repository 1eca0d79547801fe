// Scenario "stdout": a container writes S MiB of zeros to stdout (busybox
// `dd bs=1M`), `ctr run --rm` (no tty) relays them into a pipe that the suite
// counts. Every byte must arrive: a short or long count fails the run.
// Throughput is taken from the first byte to the end of the stream, so the
// container's start-up is not in it.
import type { RuntimeName } from "../../test/helpers/containerd.js";
import type { BenchContext } from "../context.js";
import { removeContainer } from "../ops.js";
import type { Scenario } from "../scenario.js";

interface Relay {
  bytes: number;
  firstByteMs: number;
  endMs: number;
  code: number | null;
  stderr: string;
}

function relay(
  ctx: BenchContext,
  rt: RuntimeName,
  id: string,
  mib: number,
  timeoutMs: number,
): Promise<Relay> {
  const { cd } = ctx;
  const args = [
    "run",
    "--rm",
    ...cd.runtimeFlags(rt),
    ctx.image,
    id,
    "dd",
    "if=/dev/zero",
    "bs=1M",
    `count=${mib}`,
  ];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = cd.spawnCtr(args);
    let bytes = 0;
    let firstByteMs = Number.NaN;
    let endMs = Number.NaN;
    const err: Buffer[] = [];
    child.stdin?.end();
    child.stdout?.on("data", (b: Buffer) => {
      if (bytes === 0) firstByteMs = performance.now() - t0;
      bytes += b.length;
    });
    child.stdout?.once("end", () => {
      endMs = performance.now() - t0;
    });
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ bytes, firstByteMs, endMs, code, stderr: Buffer.concat(err).toString("utf8") });
    });
  });
}

export function stdoutScenario(ctx: BenchContext): Scenario {
  const mib = ctx.sizes.stdoutMiB;
  const expected = mib * 1024 * 1024;
  return {
    name: "stdout",
    title: `stdout throughput: ${mib} MiB through ctr run, exact byte count`,
    metrics: [{ id: "rate", label: `stdout ${mib} MiB`, unit: "MiB/s", better: "higher" }],
    runs: ctx.sizes.stdoutRuns,
    warmup: 0,
    async sample(rt) {
      const id = ctx.nextId("stdout", rt);
      // Generous: 5 MiB/s would already be a failure worth reporting.
      const timeoutMs = 30_000 + (mib / 5) * 1000;
      let r: Relay;
      try {
        r = await relay(ctx, rt, id, mib, timeoutMs);
      } catch (err) {
        await removeContainer(ctx.cd, id).catch(() => undefined);
        throw err;
      }
      if (r.code !== 0) {
        await removeContainer(ctx.cd, id).catch(() => undefined);
        throw new Error(`ctr run exited ${r.code} after ${r.bytes} bytes: ${r.stderr.trim()}`);
      }
      if (r.bytes !== expected) {
        const diff = expected - r.bytes;
        throw new Error(
          diff > 0
            ? `lost ${diff} of ${expected} bytes (received ${r.bytes})`
            : `received ${-diff} bytes more than the ${expected} written`,
        );
      }
      const seconds = (r.endMs - r.firstByteMs) / 1000;
      return {
        values: { rate: mib / seconds },
        detail: { bytes: r.bytes, expected, firstByteMs: r.firstByteMs, endMs: r.endMs },
      };
    },
  };
}
