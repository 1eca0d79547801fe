// The window between `start` exiting and containerd connecting: a daemon
// killed in it leaves its socket in /run/containerd/s for good, because
// containerd 1.6 only runs the `delete` verb for a shim it is connected to;
// a refused dial just removes the bundle ("start failed: ... connection
// refused"). A tiny detached sh outlives `start` and watches that window:
// once containerd has connected (it writes <bundle>/shim-binary-path right
// after its dial) the delete verb covers a dead daemon and the guard exits;
// if the daemon dies first, the guard removes the socket, provided it is
// still the file this start created (inode and ctime: a later start may have reused the path).
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";

/** How long the guard waits for containerd at most (100 polls of 50 ms). */
export const GUARD_POLLS = 100;

// Builtins only on the common path (test, read, kill); `sleep` is the one
// exec per poll and containerd usually connects before the second poll.
const SCRIPT = `pid=$1 sock=$2 ident=$3 marker=$4 i=0
alive() {
  [ -r /proc/$pid/status ] || return 1
  while read -r k v rest; do
    [ "$k" = State: ] || continue
    case $v in Z|X) return 1 ;; esac
    return 0
  done < /proc/$pid/status
  return 1
}
while [ $i -lt ${GUARD_POLLS} ]; do
  [ -e "$marker" ] && exit 0
  if ! alive; then
    [ -e "$marker" ] && exit 0
    [ "$(stat -c '%i %.9Z' "$sock" 2>/dev/null)" = "$ident" ] && rm -f "$sock"
    exit 0
  fi
  sleep 0.05
  i=$((i+1))
done`;

export interface GuardCommand {
  readonly file: string;
  /** argv[0] included. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** The guard's command line for a daemon on `socket` (undefined: the socket is already gone). */
export function guardCommand(pid: number, socket: string, bundle: string): GuardCommand | undefined {
  try {
    // Inode numbers are reused at once on ext4: the ctime (ns) tells a new socket from ours.
    const st = statSync(socket, { bigint: true });
    const ns = st.ctimeNs % 1_000_000_000n;
    const ident = `${st.ino} ${st.ctimeNs / 1_000_000_000n}.${ns.toString().padStart(9, "0")}`;
    return {
      file: "/bin/sh",
      argv: [
        "sh",
        "-c",
        SCRIPT,
        "tsshim-socket-guard",
        String(pid),
        socket,
        ident,
        join(bundle, "shim-binary-path"),
      ],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    };
  } catch {
    return undefined;
  }
}

/**
 * Starts the guard for a daemon just spawned on `socket` from the Node verb;
 * best effort (a failure here is not a failed start). Returns the guard's pid.
 * A daemon (a spare taking a container) starts it natively instead: its
 * reaper is the one owner of wait (src/shim/spare.ts).
 */
export function guardSocketUntilConnected(pid: number, socket: string, bundle: string): number | undefined {
  try {
    const cmd = guardCommand(pid, socket, bundle);
    if (cmd === undefined) return undefined;
    const guard = spawn(cmd.file, cmd.argv.slice(1), {
      cwd: "/",
      detached: true,
      stdio: "ignore",
      env: cmd.env,
    });
    guard.on("error", () => {});
    guard.unref();
    return guard.pid;
  } catch {
    // Without the guard only this rare window is uncovered; the next start of the group removes the stale socket.
    return undefined;
  }
}
