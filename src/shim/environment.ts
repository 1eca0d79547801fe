// The environment a shim daemon runs with. containerd hands its whole
// environment to shims; Node options inherited from it (NODE_EXTRA_CA_CERTS
// alone costs ~80 ms per start) must not reach the daemon or the containers.

const DROPPED = ["NODE_EXTRA_CA_CERTS", "NODE_OPTIONS", "NODE_PATH", "NODE_DEBUG", "NODE_V8_COVERAGE"];

export function daemonEnvironment(
  env: NodeJS.ProcessEnv,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || DROPPED.includes(k)) continue;
    out[k] = v;
  }
  return { ...out, ...extra };
}
