// One containerd for a whole test file, as most end-to-end files use it: started,
// the busybox image imported, an API client connected (its socket lives as long as
// the file, so it is not a leak), then the leak snapshot the file's last test
// compares against.
import { existsSync } from "node:fs";
import { type Containerd, type StartOptions, startContainerd } from "./containerd.js";
import { type ContainerdClient, containerdClient } from "./grpc.js";
import { importBusyboxImage } from "./image.js";
import { type LeakSnapshot, takeLeakSnapshot } from "./leaks.js";

export interface FileContainerd {
  cd: Containerd;
  api: ContainerdClient;
  image: string;
  snapshot: LeakSnapshot;
}

export async function openFileContainerd(opts?: StartOptions): Promise<FileContainerd> {
  const cd = await startContainerd(opts);
  let api: ContainerdClient | undefined;
  try {
    const image = await importBusyboxImage(cd);
    api = containerdClient(cd.address, cd.namespace);
    await api.version.version({}, { timeoutMs: 5000 });
    return { cd, api, image, snapshot: takeLeakSnapshot(cd) };
  } catch (err) {
    api?.close();
    await cd.stop();
    throw err;
  }
}

/** Closes the client and stops containerd unless a test already removed it. */
export async function closeFileContainerd(
  api: ContainerdClient | undefined,
  cd: Containerd | undefined,
): Promise<void> {
  api?.close();
  if (cd !== undefined && existsSync(cd.dir)) await cd.stop();
}
