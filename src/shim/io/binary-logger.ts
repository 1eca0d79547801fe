// binary:// logging drivers, as containerd's shims start them: the driver gets
// the read ends of the process's stdout and stderr pipes as fds 3 and 4 and a
// "ready" pipe as fd 5, which it closes once it is ready to read; it runs with
// only CONTAINER_ID and CONTAINER_NAMESPACE in its environment.
import { Socket } from "node:net";
import { closeQuietly } from "../../oci/fd.js";
import { nativeProc } from "../../oci/native-proc.js";
import { Reaper, type SpawnedProcess } from "../../oci/reaper.js";

export interface BinaryLogger {
  /** Write ends for the process; set to -1 once handed over. */
  stdoutFd: number;
  stderrFd: number;
  readonly process: SpawnedProcess;
}

const READY_TIMEOUT_MS = 10_000;

export async function startBinaryLogger(
  path: string,
  args: readonly string[],
  containerId: string,
  namespace: string,
): Promise<BinaryLogger> {
  const native = nativeProc();
  const opened: number[] = [];
  try {
    const [outR, outW] = native.pipe();
    opened.push(outR, outW);
    const [errR, errW] = native.pipe();
    opened.push(errR, errW);
    const [readyR, readyW] = native.pipe();
    opened.push(readyR, readyW);
    const proc = Reaper.instance().spawn({
      file: path,
      args: [path, ...args],
      env: [`CONTAINER_ID=${containerId}`, `CONTAINER_NAMESPACE=${namespace}`],
      fds: [-1, -1, -1, outR, errR, readyW],
    });
    for (const fd of [outR, errR, readyW]) closeQuietly(fd);
    await waitReady(readyR, proc, path);
    return { stdoutFd: outW, stderrFd: errW, process: proc };
  } catch (err) {
    for (const fd of opened) closeQuietly(fd);
    throw err;
  }
}

function waitReady(readyFd: number, proc: SpawnedProcess, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = new Socket({ fd: readyFd, readable: true, writable: false });
    const done = (err?: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => {
      proc.kill(9);
      done(new Error(`logging binary ${path} did not signal ready within ${READY_TIMEOUT_MS / 1000}s`));
    }, READY_TIMEOUT_MS);
    sock.on("data", () => {});
    sock.once("end", () => done());
    sock.once("error", () => done());
    void proc.exited.then((s) => {
      if (s.status !== 0)
        done(new Error(`logging binary ${path} exited with status ${s.status} before ready`));
    });
  });
}
