// The v1 devices controller's list as the kernel keeps it, emulated so an Update can move from
// the current list to the new one without a moment where a device both lists allow is denied:
// writing "a" (deny all) first and the allows after, as create does, would make every open of
// /dev/null in a running container fail for that moment — and CRI's UpdateContainerResources
// resends the whole devices list with every cpu/memory change.
//
// Kernel semantics (security/device_cgroup.c): "a" resets the list (allow all or deny all, no
// exceptions); in deny-all mode an allow rule adds access to the exception with the same type,
// major and minor, and a deny rule removes access from that exact exception; in allow-all mode
// the roles swap. devices.list shows "a *:* rwm" in allow-all mode, else the exceptions.

import type { LinuxDeviceCgroup } from "../spec.js";

export interface V1DeviceState {
  allowAll: boolean;
  /** "c 1:3" → access letters, in allow-all mode the denied ones, else the allowed ones. */
  exceptions: Map<string, string>;
}

const ORDER = "rwm";
const norm = (acc: Iterable<string>) => [...ORDER].filter((c) => [...acc].includes(c)).join("");

/** Parses devices.list. */
export function parseDevicesList(text: string): V1DeviceState {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.some((l) => l.startsWith("a "))) return { allowAll: true, exceptions: new Map() };
  const exceptions = new Map<string, string>();
  for (const l of lines) {
    const [type, numbers, access] = l.trim().split(/\s+/);
    if (type === undefined || numbers === undefined || access === undefined) continue;
    exceptions.set(`${type} ${numbers}`, norm(access));
  }
  return { allowAll: false, exceptions };
}

function key(d: LinuxDeviceCgroup): string {
  const num = (n: number | undefined) => (n === undefined || n < 0 ? "*" : String(n));
  return `${d.type} ${num(d.major)}:${num(d.minor)}`;
}

/** The state after writing one rule, as the kernel computes it. */
export function applyDeviceRule(state: V1DeviceState, d: LinuxDeviceCgroup): V1DeviceState {
  const type = d.type ?? "a";
  if (type === "a") return { allowAll: d.allow, exceptions: new Map() };
  const exceptions = new Map(state.exceptions);
  const k = key(d);
  const access = d.access || "rwm";
  // An allow in deny-all mode (or a deny in allow-all mode) adds an exception; the other way
  // round it removes access from the exact same exception.
  if (d.allow !== state.allowAll) {
    exceptions.set(k, norm((exceptions.get(k) ?? "") + access));
  } else {
    const left = norm([...(exceptions.get(k) ?? "")].filter((c) => !access.includes(c)));
    if (left === "") exceptions.delete(k);
    else exceptions.set(k, left);
  }
  return { allowAll: state.allowAll, exceptions };
}

export function sameDeviceState(a: V1DeviceState, b: V1DeviceState): boolean {
  if (a.allowAll !== b.allowAll || a.exceptions.size !== b.exceptions.size) return false;
  for (const [k, v] of a.exceptions) if (b.exceptions.get(k) !== v) return false;
  return true;
}

/** One file write: devices.allow or devices.deny with its line. */
export interface DeviceWrite {
  file: "devices.allow" | "devices.deny";
  line: string;
}

/**
 * The writes that move the kernel from `current` to `target`. Within deny-all mode: first the
 * new allows, then the removals, so nothing allowed in both states is ever denied. A change of
 * mode needs the reset ("a"), then the exceptions.
 */
export function deviceTransition(current: V1DeviceState, target: V1DeviceState): DeviceWrite[] {
  if (sameDeviceState(current, target)) return [];
  const writes: DeviceWrite[] = [];
  const grant = target.allowAll ? "devices.deny" : "devices.allow";
  const revoke = target.allowAll ? "devices.allow" : "devices.deny";
  let from = current;
  if (current.allowAll !== target.allowAll) {
    writes.push({ file: target.allowAll ? "devices.allow" : "devices.deny", line: "a" });
    from = { allowAll: target.allowAll, exceptions: new Map() };
  }
  for (const [k, acc] of target.exceptions) {
    const have = from.exceptions.get(k) ?? "";
    const add = norm([...acc].filter((c) => !have.includes(c)));
    if (add !== "") writes.push({ file: grant, line: `${k} ${add}` });
  }
  for (const [k, have] of from.exceptions) {
    const want = target.exceptions.get(k) ?? "";
    const drop = norm([...have].filter((c) => !want.includes(c)));
    if (drop !== "") writes.push({ file: revoke, line: `${k} ${drop}` });
  }
  return writes;
}
