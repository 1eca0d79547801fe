import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseSignal, SIGRTMAX, SIGRTMIN, signalName } from "../../src/oci/signals.js";

describe("parseSignal", () => {
  it("accepts the forms containerd, ctr and CRI send", () => {
    for (const s of ["15", "SIGTERM", "TERM", "sigterm", "term", "SigTerm", " SIGTERM "])
      assert.equal(parseSignal(s), 15);
    assert.equal(parseSignal(9), 9);
    assert.equal(parseSignal("KILL"), 9);
    assert.equal(parseSignal("SIGHUP"), 1);
    assert.equal(parseSignal("SIGUSR1"), 10);
    assert.equal(parseSignal("SIGUSR2"), 12);
    assert.equal(parseSignal("SIGCHLD"), 17);
    assert.equal(parseSignal("SIGCLD"), 17);
    assert.equal(parseSignal("SIGIOT"), 6);
    assert.equal(parseSignal("SIGPOLL"), 29);
    assert.equal(parseSignal("SIGWINCH"), 28);
    assert.equal(parseSignal("SIGSYS"), 31);
    assert.equal(parseSignal("64"), 64);
  });

  it("parses real-time signals relative to SIGRTMIN=34 and SIGRTMAX=64", () => {
    assert.equal(parseSignal("SIGRTMIN"), 34);
    assert.equal(parseSignal("SIGRTMIN+3"), 37);
    assert.equal(parseSignal("RTMIN+3"), 37);
    assert.equal(parseSignal("sigrtmin+3"), 37);
    assert.equal(parseSignal("SIGRTMAX"), 64);
    assert.equal(parseSignal("SIGRTMAX-2"), 62);
    assert.equal(parseSignal("SIGRTMIN+30"), 64);
  });

  it("rejects unknown names and out-of-range numbers clearly", () => {
    assert.throws(() => parseSignal("SIGFOO"), { message: 'unknown signal "SIGFOO"' });
    assert.throws(() => parseSignal("FOO"), { message: 'unknown signal "FOO"' });
    assert.throws(() => parseSignal(""), { message: 'unknown signal ""' });
    assert.throws(() => parseSignal("SIGRTMIN+"), { message: 'unknown signal "SIGRTMIN+"' });
    assert.throws(() => parseSignal("0"), { message: 'invalid signal "0": 0 is out of range 1-64' });
    assert.throws(() => parseSignal("65"), { message: 'invalid signal "65": 65 is out of range 1-64' });
    assert.throws(() => parseSignal(65), /out of range 1-64/);
    assert.throws(() => parseSignal(0), /out of range 1-64/);
    assert.throws(() => parseSignal(-1), /out of range 1-64/);
    assert.throws(() => parseSignal("-9"), /out of range 1-64/);
    assert.throws(() => parseSignal(1.5), /out of range 1-64/);
    assert.throws(() => parseSignal("SIGRTMIN+31"), /outside SIGRTMIN-SIGRTMAX \(34-64\)/);
    assert.throws(() => parseSignal("SIGRTMAX-31"), /outside SIGRTMIN-SIGRTMAX/);
    assert.throws(() => parseSignal("SIGRTMAX+1"), /outside SIGRTMIN-SIGRTMAX/);
  });
});

describe("signalName", () => {
  it("names the classic and real-time signals", () => {
    assert.equal(signalName(9), "SIGKILL");
    assert.equal(signalName(15), "SIGTERM");
    assert.equal(signalName(6), "SIGABRT");
    assert.equal(signalName(17), "SIGCHLD");
    assert.equal(signalName(29), "SIGIO");
    assert.equal(signalName(32), "SIG32");
    assert.equal(signalName(SIGRTMIN), "SIGRTMIN");
    assert.equal(signalName(37), "SIGRTMIN+3");
    assert.equal(signalName(49), "SIGRTMIN+15");
    assert.equal(signalName(50), "SIGRTMAX-14");
    assert.equal(signalName(SIGRTMAX), "SIGRTMAX");
    assert.throws(() => signalName(0), /out of range/);
    assert.throws(() => signalName(65), /out of range/);
  });

  it("round-trips every valid signal through its name, in any case", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.boolean(), fc.boolean(), (n, lower, bare) => {
        let name = signalName(n);
        if (bare) name = name.slice(3);
        if (lower) name = name.toLowerCase();
        return parseSignal(name) === n && parseSignal(String(n)) === n;
      }),
    );
  });
});
