// The stdio of one task process (init or exec): opens what containerd asked
// for, gives the process its fds, and at exit makes sure everything the
// process wrote has reached its destination before the exit is reported.
import { mkdirSync, openSync, writeSync } from "node:fs";
import { Socket } from "node:net";
import { dirname } from "node:path";
import { ReadStream } from "node:tty";
import { closeQuietly } from "../../oci/fd.js";
import { nativeProc } from "../../oci/native-proc.js";
import type { Logger } from "../logger.js";
import { type BinaryLogger, startBinaryLogger } from "./binary-logger.js";
import { type HeldFifo, openFifo } from "./fifo.js";
import { parseStdioUri, type StdioTarget } from "./uri.js";

export interface StdioRequest {
  readonly stdin: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly terminal: boolean;
}

export interface StdioOwner {
  readonly containerId: string;
  readonly namespace: string;
  readonly log: Logger;
  /**
   * Copy FIFO output through a pipe instead of handing the FIFO over (execs):
   * a background child of an exec may hold its stdout for ever, and only a
   * copy can be cut after the exit, so the client sees EOF (runc's shim
   * gives up after the same 2 s).
   */
  readonly copyFifoOutput?: boolean;
}

/** How long output may keep flowing after the process exited (orphans can hold it open). */
const DRAIN_TIMEOUT_MS = 2_000;

export class ProcessStdio {
  /** fds for the process's 0, 1, 2 (-1: /dev/null). Unused in terminal mode. */
  readonly childFds: [number, number, number] = [-1, -1, -1];
  private readonly held: number[] = [];
  private stdinHeld = -1;
  private logger: BinaryLogger | undefined;
  private consoleOut: Promise<void> | undefined;
  private consoleMaster = -1;
  private closed = false;
  /** Pipe→FIFO copies (copyFifoOutput): each settles when its source hit EOF. */
  private readonly copies: { done: Promise<void>; cut: () => void }[] = [];

  private constructor(
    readonly request: StdioRequest,
    private readonly owner: StdioOwner,
  ) {}

  static async open(req: StdioRequest, owner: StdioOwner): Promise<ProcessStdio> {
    const io = new ProcessStdio(req, owner);
    try {
      await io.openAll();
      return io;
    } catch (err) {
      io.dispose();
      throw err;
    }
  }

  private async openAll(): Promise<void> {
    const stdin = parseStdioUri(this.request.stdin, "stdin");
    const stdout = parseStdioUri(this.request.stdout, "stdout");
    const stderr = parseStdioUri(this.request.stderr, "stderr");
    if (stdin.kind === "fifo") {
      const f = openFifo(stdin.path, "in");
      this.stdinHeld = f.heldFd;
      this.childFds[0] = f.childFd;
    }
    if (stdout.kind === "binary" || stderr.kind === "binary") {
      const target = (stdout.kind === "binary" ? stdout : stderr) as Extract<StdioTarget, { kind: "binary" }>;
      this.logger = await startBinaryLogger(
        target.path,
        target.args,
        this.owner.containerId,
        this.owner.namespace,
      );
    }
    this.childFds[1] = this.openOutput(stdout, "stdout");
    // In terminal mode stdout and stderr are one stream: the PTY.
    this.childFds[2] = this.request.terminal ? -1 : this.openOutput(stderr, "stderr");
  }

  private openOutput(target: StdioTarget, stream: "stdout" | "stderr"): number {
    switch (target.kind) {
      case "none":
        return -1;
      case "fifo": {
        const f: HeldFifo = openFifo(target.path, "out");
        this.held.push(f.heldFd);
        return this.owner.copyFifoOutput === true ? this.copyThroughPipe(f.childFd) : f.childFd;
      }
      case "file": {
        mkdirSync(dirname(target.path), { recursive: true });
        return openSync(target.path, "a", 0o640);
      }
      case "binary": {
        if (this.logger === undefined) throw new Error(`${stream}: logging binary not started`);
        const fd = stream === "stdout" ? this.logger.stdoutFd : this.logger.stderrFd;
        if (stream === "stdout") this.logger.stdoutFd = -1;
        else this.logger.stderrFd = -1;
        return fd;
      }
    }
  }

  /** A pipe whose read end the shim copies to `fifoFd`; returns the write end for the process. */
  private copyThroughPipe(fifoFd: number): number {
    let ends: [number, number];
    try {
      ends = nativeProc().pipe();
    } catch (err) {
      closeQuietly(fifoFd);
      throw err;
    }
    const src = new Socket({ fd: ends[0], readable: true, writable: false });
    const dst = new Socket({ fd: fifoFd, readable: false, writable: true });
    const done = new Promise<void>((resolve) => {
      dst.once("close", () => resolve());
      // a client gone away (EPIPE) ends the copy; the process keeps its pipe
      dst.once("error", () => src.destroy());
      src.once("error", () => dst.destroy());
    });
    src.pipe(dst);
    this.copies.push({
      done,
      cut: () => {
        src.destroy();
        dst.destroy();
      },
    });
    return ends[1];
  }

  /**
   * After the process holds its own copies, the shim closes the child's ends,
   * and its writer on the stdin FIFO: clients (ctr, CRI) open their writer
   * before Create/Exec and signal EOF only by closing it (ctr never sends
   * CloseIO), so a writer kept here would keep `cat` waiting forever. A
   * client's blocked open already counts as a writer, so no early EOF.
   */
  releaseChildEnds(): void {
    for (let i = 0; i < 3; i++) {
      closeQuietly(this.childFds[i]!);
      this.childFds[i] = -1;
    }
    this.closeStdin();
    if (this.logger !== undefined) {
      closeQuietly(this.logger.stdoutFd);
      closeQuietly(this.logger.stderrFd);
    }
  }

  /** Terminal mode: copies the PTY master to stdout and stdin to the master. */
  attachConsole(master: number, stdoutFd: number, stdinFd: number): void {
    this.consoleMaster = master;
    const reader = new ReadStream(master);
    const out = stdoutFd >= 0 ? new Socket({ fd: stdoutFd, readable: false, writable: true }) : undefined;
    this.consoleOut = new Promise<void>((resolve) => {
      const end = (): void => {
        if (out !== undefined) out.end(() => resolve());
        else resolve();
      };
      reader.on("data", (chunk: Buffer) => out?.write(chunk));
      reader.once("end", end);
      // EIO: every slave fd is closed, the session is over.
      reader.once("error", end);
    });
    if (stdinFd >= 0) {
      const input = new Socket({ fd: stdinFd, readable: true, writable: false });
      input.on("data", (chunk: Buffer) => writeAllToMaster(master, chunk, this.owner.log));
      input.on("error", () => {});
    }
  }

  /** The fds the console copies use (opened like the non-terminal ones). */
  takeConsoleEnds(): { stdout: number; stdin: number } {
    const ends = { stdout: this.childFds[1], stdin: this.childFds[0] };
    this.childFds[0] = -1;
    this.childFds[1] = -1;
    return ends;
  }

  get master(): number {
    return this.consoleMaster;
  }

  /** CloseIO: the process sees EOF on stdin once the client's writer is gone too. */
  closeStdin(): void {
    closeQuietly(this.stdinHeld);
    this.stdinHeld = -1;
  }

  /** At exit: let the output drain, then release the held ends so readers see EOF. */
  async finish(): Promise<void> {
    if (this.consoleOut !== undefined) {
      await Promise.race([this.consoleOut, delay(DRAIN_TIMEOUT_MS)]);
    }
    if (this.logger !== undefined) {
      await Promise.race([this.logger.process.exited, delay(DRAIN_TIMEOUT_MS)]);
    }
    if (this.copies.length > 0) {
      await Promise.race([Promise.all(this.copies.map((c) => c.done)), delay(DRAIN_TIMEOUT_MS)]);
    }
    this.dispose();
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = 0; i < 3; i++) closeQuietly(this.childFds[i]!);
    for (const c of this.copies) c.cut();
    for (const fd of this.held) closeQuietly(fd);
    this.held.length = 0;
    this.closeStdin();
    if (this.logger !== undefined) {
      closeQuietly(this.logger.stdoutFd);
      closeQuietly(this.logger.stderrFd);
    }
    if (this.consoleMaster >= 0) {
      // The ReadStream owns the master fd; it is closed with the stream.
      this.consoleMaster = -1;
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function writeAllToMaster(master: number, chunk: Buffer, log: Logger): void {
  let off = 0;
  const step = (): void => {
    while (off < chunk.length) {
      try {
        off += writeSync(master, chunk, off);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") {
          setTimeout(step, 5);
          return;
        }
        log.debug({ err: String(err) }, "console input dropped");
        return;
      }
    }
  };
  step();
}
