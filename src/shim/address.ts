// Where a shim listens. containerd's own shims hash (containerd address,
// namespace, group id) into /run/containerd/s/<sha256>; we do the same so an
// operator finds our sockets where they expect them. A pod's containers share
// one shim: the group id is the sandbox id when the spec names one.
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { join } from "node:path";

export const DEFAULT_SOCKET_DIR = "/run/containerd/s";
/** sun_path is 108 bytes with the NUL; Go's net package refuses more than this. */
const SOCKET_PATH_LIMIT = 106;

export const SANDBOX_ID_ANNOTATIONS = [
  "io.kubernetes.cri.sandbox-id",
  "io.kubernetes.cri-o.SandboxID",
] as const;
/** Opt-in wider grouping: every container carrying the same value shares one shim. */
export const GROUP_ANNOTATION = "io.tsshim.group";

export function socketPath(
  socketDir: string,
  containerdAddress: string,
  namespace: string,
  group: string,
): string {
  const digest = createHash("sha256")
    .update(join(containerdAddress, namespace, group))
    .digest("hex");
  const path = join(socketDir, digest);
  if (Buffer.byteLength(path) > SOCKET_PATH_LIMIT) {
    throw new Error(`shim socket path ${JSON.stringify(path)} is longer than ${SOCKET_PATH_LIMIT} bytes`);
  }
  return path;
}

export function socketAddress(path: string): string {
  return `unix://${path}`;
}

export function addressToPath(address: string): string {
  return address.startsWith("unix://") ? address.slice("unix://".length) : address;
}

/** The id whose shim should own this container: its sandbox's, a named group's, or its own. */
export function groupingId(id: string, annotations: Readonly<Record<string, string>> | undefined): string {
  if (annotations !== undefined) {
    const group = annotations[GROUP_ANNOTATION];
    if (group !== undefined && group !== "") return `group:${group}`;
    for (const key of SANDBOX_ID_ANNOTATIONS) {
      const sandbox = annotations[key];
      if (sandbox !== undefined && sandbox !== "") return sandbox;
    }
  }
  return id;
}

/** True when a shim answers on the socket path (false for a stale file or nothing). */
export function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ path });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}
