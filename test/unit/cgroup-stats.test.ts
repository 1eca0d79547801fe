// Stats parsing: captured cgroup v1 and v2 files (in a temp tree) become the Metrics messages
// containerd's shims send, with containerd's units and "max" conventions.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  parseBlkioEntries,
  parseMemoryStatV1,
  parsePartitions,
  parseUint,
  statsV1,
} from "../../src/oci/cgroups/stats-v1.js";
import {
  parseIoStat,
  parseMemoryStatV2,
  parseRdma,
  parseV2Value,
  statsV2,
} from "../../src/oci/cgroups/stats-v2.js";

const root = mkdtempSync(join(tmpdir(), "tsshim-stats-"));
after(() => rmSync(root, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

describe("cgroup v1 stats", () => {
  it("fills pids, cpu (ns, per cpu, throttling), memory entries and every memory.stat counter", () => {
    const pids = tree("pids", { "pids.current": "3\n", "pids.max": "max\n" });
    const cpu = tree("cpu", {
      "cpuacct.usage": "123456789\n",
      "cpuacct.usage_percpu": "100 200 300 \n",
      "cpuacct.stat": "user 150\nsystem 25\n",
      "cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 5000\n",
    });
    const mem = tree("memory", {
      "memory.stat":
        "cache 4096\nrss 8192\nrss_huge 0\nmapped_file 1\ndirty 2\nwriteback 3\npgpgin 4\npgpgout 5\npgfault 6\npgmajfault 7\ninactive_anon 8\nactive_anon 9\ninactive_file 10\nactive_file 11\nunevictable 12\nhierarchical_memory_limit 67108864\nhierarchical_memsw_limit 9223372036854771712\ntotal_cache 40960\ntotal_rss 81920\ntotal_unevictable 120\n",
      "memory.usage_in_bytes": "12288\n",
      "memory.max_usage_in_bytes": "20000\n",
      "memory.failcnt": "2\n",
      "memory.limit_in_bytes": "67108864\n",
      "memory.memsw.usage_in_bytes": "12288\n",
      "memory.memsw.max_usage_in_bytes": "20000\n",
      "memory.memsw.failcnt": "0\n",
      "memory.memsw.limit_in_bytes": "9223372036854771712\n",
      "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
    });
    const dirs: Record<string, string> = { pids, cpu, cpuacct: cpu, memory: mem };
    const m = statsV1((c) => dirs[c]);
    assert.deepEqual([m.pids?.current, m.pids?.limit], [3n, 0n]);
    assert.equal(m.cpu?.usage?.total, 123456789n);
    assert.deepEqual(m.cpu?.usage?.perCpu, [100n, 200n, 300n]);
    assert.equal(m.cpu?.usage?.user, 1_500_000_000n, "USER_HZ ticks in ns");
    assert.equal(m.cpu?.usage?.kernel, 250_000_000n);
    assert.deepEqual(
      [m.cpu?.throttling?.periods, m.cpu?.throttling?.throttledPeriods, m.cpu?.throttling?.throttledTime],
      [10n, 4n, 5000n],
    );
    assert.equal(m.memory?.cache, 4096n);
    assert.equal(m.memory?.rss, 8192n);
    assert.equal(m.memory?.unevictable, 12n);
    assert.equal(m.memory?.totalCache, 40960n);
    assert.equal(m.memory?.totalUnevictable, 120n);
    assert.equal(m.memory?.hierarchicalMemoryLimit, 67108864n);
    assert.equal(m.memory?.hierarchicalSwapLimit, 9223372036854771712n);
    assert.deepEqual(
      [m.memory?.usage?.usage, m.memory?.usage?.max, m.memory?.usage?.failcnt, m.memory?.usage?.limit],
      [12288n, 20000n, 2n, 67108864n],
    );
    assert.equal(m.memory?.swap?.limit, 9223372036854771712n);
    assert.equal(m.memory?.kernel, undefined, "no kmem files: no entry");
    assert.equal(m.memoryOomControl?.oomKill, 1n);
    assert.equal(m.blkio, undefined, "blkio not mounted");
  });

  it("parses memory.stat alone, blkio lines and partitions", () => {
    assert.equal(parseMemoryStatV1("total_pgfault 99\n").totalPgFault, 99n);
    assert.equal(parseUint("-1"), 0n);
    const devs = parsePartitions(
      "major minor  #blocks  name\n\n 254        0   20971520 vda\n   8       16 100 sdb\n",
    );
    assert.equal(devs.get("254:0"), "/dev/vda");
    const e = parseBlkioEntries("254:0 Read 10\n254:0 Write 20\n254:0 Total 30\n8:16 7\nTotal 30\n", devs);
    assert.deepEqual(
      e.map((x) => [x.device, x.major, x.minor, x.op, x.value]),
      [
        ["/dev/vda", 254n, 0n, "Read", 10n],
        ["/dev/vda", 254n, 0n, "Write", 20n],
        ["/dev/vda", 254n, 0n, "Total", 30n],
        ["/dev/sdb", 8n, 16n, "", 7n],
      ],
    );
  });
});

describe("cgroup v2 stats", () => {
  it("fills pids, cpu, memory (usage, limits, peaks, counters), memory events, io and rdma", () => {
    const dir = tree("v2", {
      "pids.current": "2\n",
      "pids.max": "max\n",
      "cpu.stat":
        "usage_usec 900\nuser_usec 600\nsystem_usec 300\nnr_periods 5\nnr_throttled 1\nthrottled_usec 77\n",
      "memory.stat":
        "anon 1000\nfile 2000\nkernel_stack 16384\nslab_reclaimable 5\npgfault 42\nworkingset_refault_anon 3\nthp_fault_alloc 1\nunknown_future_key 9\n",
      "memory.current": "3000\n",
      "memory.max": "67108864\n",
      "memory.swap.current": "0\n",
      "memory.swap.max": "max\n",
      "memory.peak": "4000\n",
      "memory.events": "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n",
      "io.stat": "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
      "rdma.current": "mlx4_0 hca_handle=2 hca_object=20\n",
      "rdma.max": "mlx4_0 hca_handle=max hca_object=100\n",
    });
    const m = statsV2(dir);
    assert.deepEqual([m.pids?.current, m.pids?.limit], [2n, 2n ** 64n - 1n]);
    assert.deepEqual(
      [m.cpu?.usageUsec, m.cpu?.userUsec, m.cpu?.systemUsec, m.cpu?.nrPeriods, m.cpu?.throttledUsec],
      [900n, 600n, 300n, 5n, 77n],
    );
    assert.deepEqual(
      [m.memory?.anon, m.memory?.file, m.memory?.kernelStack, m.memory?.slabReclaimable, m.memory?.pgfault],
      [1000n, 2000n, 16384n, 5n, 42n],
    );
    assert.equal(m.memory?.workingsetRefaultAnon, 3n);
    assert.equal(m.memory?.thpFaultAlloc, 1n);
    assert.deepEqual(
      [m.memory?.usage, m.memory?.usageLimit, m.memory?.swapLimit, m.memory?.maxUsage],
      [3000n, 67108864n, 2n ** 64n - 1n, 4000n],
    );
    assert.deepEqual([m.memoryEvents?.max, m.memoryEvents?.oom, m.memoryEvents?.oomKill], [12n, 2n, 1n]);
    assert.deepEqual(
      m.io?.usage.map((e) => [e.major, e.minor, e.rbytes, e.wbytes, e.rios, e.wios]),
      [[254n, 0n, 4096n, 8192n, 1n, 2n]],
    );
    assert.deepEqual(
      m.rdma?.limit.map((e) => [e.device, e.hcaHandles, e.hcaObjects]),
      [["mlx4_0", 4294967295, 100]],
    );
  });

  it("parses single values and lines", () => {
    assert.equal(parseV2Value("max\n"), 2n ** 64n - 1n);
    assert.equal(parseV2Value("17\n"), 17n);
    assert.equal(parseMemoryStatV2("usage 5\nanon 1\n").usage, 0n, "stat keys never overwrite usage");
    assert.deepEqual(parseIoStat("garbage\n"), []);
    assert.deepEqual(parseRdma(""), []);
  });
});
