// The shim's structured log: pino, written to the `log` FIFO containerd opens
// in the bundle (containerd copies it into its own log). A log reader that is
// slow or gone (containerd restarting) must never block or crash the shim, so
// writes are non-blocking and a line that does not fit is dropped and counted.
// The FIFO is opened read-write: while containerd is down the lines wait in
// the pipe (up to its 64 KiB) and the restarted containerd reads them — what
// the shim saw meanwhile (exits, failed publishes) is not lost; a write-only
// end would get EPIPE for every one of them.
import { constants, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { type Logger, pino } from "pino";

export type { Logger };

/** A pino destination over a non-blocking fd that drops instead of blocking. */
export class DroppingDestination {
  dropped = 0;
  constructor(private readonly fd: number) {}

  write(line: string): boolean {
    if (this.fd < 0) return true;
    try {
      writeSync(this.fd, line);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "EAGAIN" && code !== "EPIPE" && code !== "EBADF") throw err;
      this.dropped++;
    }
    return true;
  }
}

/** Opens the bundle's log FIFO without blocking (read-write: see above); -1 when there is none. */
export function openLogFifo(bundle: string): number {
  try {
    return openSync(join(bundle, "log"), constants.O_RDWR | constants.O_NONBLOCK);
  } catch {
    return -1;
  }
}

export function createLogger(fd: number, debug: boolean, bindings: Record<string, string>): Logger {
  return pino(
    {
      level: debug ? "debug" : "info",
      base: { shimPid: process.pid, ...bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    new DroppingDestination(fd),
  );
}
