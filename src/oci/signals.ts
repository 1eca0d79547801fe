// Signal names and numbers as containerd, ctr and CRI send them (Linux numbering,
// the same on x86_64 and aarch64): "9", "SIGKILL", "KILL", "sigkill", "SIGRTMIN+3".

/** glibc reserves 32 and 33 for itself; SIGRTMIN as user programs see it is 34. */
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

const NAMES: Readonly<Record<string, number>> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};

/** Canonical name per number (the first spelling in NAMES wins: ABRT over IOT). */
const BY_NUMBER = new Map<number, string>();
for (const [name, num] of Object.entries(NAMES)) if (!BY_NUMBER.has(num)) BY_NUMBER.set(num, `SIG${name}`);

export class SignalError extends Error {
  override name = "SignalError";
}

function checkRange(n: number, input: string): number {
  if (!Number.isInteger(n) || n < 1 || n > SIGRTMAX) {
    throw new SignalError(`invalid signal "${input}": ${n} is out of range 1-${SIGRTMAX}`);
  }
  return n;
}

/** Parses a signal as a number or a name (case-insensitive, with or without SIG). */
export function parseSignal(input: string | number): number {
  if (typeof input === "number") return checkRange(input, String(input));
  const s = input.trim();
  if (/^[+-]?\d+$/.test(s)) return checkRange(Number(s), input);
  const upper = s.toUpperCase();
  const bare = upper.startsWith("SIG") ? upper.slice(3) : upper;
  const known = NAMES[bare];
  if (known !== undefined) return known;
  const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(bare);
  if (rt !== null) {
    const base = rt[1] === "MIN" ? SIGRTMIN : SIGRTMAX;
    const off = rt[3] === undefined ? 0 : Number(rt[3]);
    const n = rt[2] === "-" ? base - off : base + off;
    if (n < SIGRTMIN || n > SIGRTMAX) {
      throw new SignalError(
        `invalid signal "${input}": ${n} is outside SIGRTMIN-SIGRTMAX (${SIGRTMIN}-${SIGRTMAX})`,
      );
    }
    return n;
  }
  // The numeric form a name-of-number returns for 32 and 33 ("SIG32").
  const numbered = /^(\d+)$/.exec(bare);
  if (numbered !== null) return checkRange(Number(numbered[1]), input);
  throw new SignalError(`unknown signal "${input}"`);
}

/** Name of a signal number: SIGTERM, SIGRTMIN+3, SIGRTMAX-2, SIG32. */
export function signalName(n: number): string {
  checkRange(n, String(n));
  const known = BY_NUMBER.get(n);
  if (known !== undefined) return known;
  if (n >= SIGRTMIN) {
    // Same split as the Docker/moby tables: RTMIN+0..15, then RTMAX-14..0.
    if (n === SIGRTMIN) return "SIGRTMIN";
    if (n === SIGRTMAX) return "SIGRTMAX";
    return n - SIGRTMIN <= 15 ? `SIGRTMIN+${n - SIGRTMIN}` : `SIGRTMAX-${SIGRTMAX - n}`;
  }
  return `SIG${n}`;
}
