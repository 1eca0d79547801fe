import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Bundle, defaultSpec, makeBundle, runContainer } from "./container-fixture.js";

let bundle: Bundle;
before(() => {
  bundle = makeBundle();
});
after(() => bundle.cleanup());

test("echo hi: stdout to a file, exit 0 via the reaper", async () => {
  const r = await runContainer(bundle, defaultSpec(["echo", "hi"]));
  assert.equal(r.stdout, "hi\n");
  assert.equal(r.status.code, 0);
  assert.equal(r.status.status, 0);
});

test("exit code and the container's own pid namespace", async () => {
  const r = await runContainer(bundle, defaultSpec(["sh", "-c", "echo $$; exit 7"]));
  assert.equal(r.stdout, "1\n");
  assert.equal(r.status.code, 7);
});
