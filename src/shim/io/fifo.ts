// containerd's stdio FIFOs, handed to the process directly (no copy: the
// kernel moves the bytes). The shim keeps one O_RDWR open of each FIFO:
//  - on stdout/stderr it is a reader, so a restarting containerd never makes
//    the workload die of EPIPE (its output waits in the pipe buffer instead);
//    it is released at exit so the reader sees EOF once the process is gone;
//  - on stdin it is a writer only until the process holds its end (released
//    then, so the process sees EOF when the client closes its writer).
// Opening the O_RDWR end first makes the other end's blocking open return at
// once, and the process gets a blocking fd as programs expect.
import { closeSync, constants, openSync } from "node:fs";

export interface HeldFifo {
  /** The end given to the process (O_WRONLY for output, O_RDONLY for stdin). */
  readonly childFd: number;
  /** The shim's own O_RDWR end. */
  readonly heldFd: number;
}

export function openFifo(path: string, direction: "in" | "out"): HeldFifo {
  let heldFd = -1;
  try {
    heldFd = openSync(path, constants.O_RDWR);
    const childFd = openSync(path, direction === "out" ? constants.O_WRONLY : constants.O_RDONLY);
    return { childFd, heldFd };
  } catch (err) {
    if (heldFd >= 0) closeSync(heldFd);
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new Error(`open ${direction === "in" ? "stdin" : "output"} FIFO ${JSON.stringify(path)}: ${code}`, {
      cause: err,
    });
  }
}
