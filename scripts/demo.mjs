// The README's first command: a private containerd (everything under a temp
// dir, nothing touches /run/containerd or a system containerd), the busybox
// image built locally from Debian's busybox-static, and a real container run
// through containerd with tsshim — exactly as `ctr` users run it.
import { startContainerd } from "../dist/test/helpers/containerd.js";
import { importBusyboxImage } from "../dist/test/helpers/image.js";

const cd = await startContainerd({ logLevel: "info" });
let code = 1;
try {
  const image = await importBusyboxImage(cd);
  const args = ["run", "--rm", "--runtime", "io.containerd.tsshim.v2", image, "tsshim-demo"];
  const cmd = [
    "sh",
    "-c",
    'echo "hello from a tsshim container: $(hostname), pid $$, $(id -u):$(id -g)"; uname -sr',
  ];
  process.stdout.write(
    `$ ctr ${args.join(" ")} ${cmd.map((a) => (a.includes(" ") ? `'${a}'` : a)).join(" ")}\n`,
  );
  const r = await cd.ctr([...args, ...cmd], { timeoutMs: 60_000 });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  code = r.code;
  process.stdout.write(`(exit status ${r.code})\n`);
} catch (err) {
  process.stderr.write(
    `demo failed: ${err instanceof Error ? err.message : String(err)}\n${cd.logTail(30)}\n`,
  );
} finally {
  await cd.stop();
}
process.exit(code);
