// The CRI types (runtime.v1) against containerd 1.6's CRI plugin: service and
// method names, and the messages of the calls that need no pod network.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ImageService, RuntimeService } from "../../src/api/gen/runtime/v1/api_pb.js";
import { type Containerd, startContainerd } from "../helpers/containerd.js";
import { grpcClient, type MethodsOf, type TypedClient, typedClient } from "../helpers/grpc.js";
import { importBusyboxImage } from "../helpers/image.js";

let cd: Containerd;
let runtime: TypedClient<MethodsOf<typeof RuntimeService>>;
let images: TypedClient<MethodsOf<typeof ImageService>>;
let close: () => void;
let image: string;

before(async () => {
  // CRI works in the k8s.io namespace; the image goes there too.
  cd = await startContainerd({ cri: true, namespace: "k8s.io" });
  image = await importBusyboxImage(cd);
  const client = grpcClient(cd.address);
  close = () => client.close();
  runtime = typedClient(RuntimeService, client);
  images = typedClient(ImageService, client);
});

after(async () => {
  close?.();
  await cd?.stop();
});

test("RuntimeService.Version names containerd and CRI v1", async () => {
  const v = await runtime.version({ version: "v1" }, { timeoutMs: 10_000 });
  assert.equal(v.runtimeName, "containerd");
  assert.match(v.runtimeVersion, /1\.6\./);
  assert.equal(v.runtimeApiVersion, "v1");
});

test("RuntimeService.Status reports RuntimeReady with verbose info", async () => {
  const s = await runtime.status({ verbose: true }, { timeoutMs: 10_000 });
  const ready = s.status?.conditions.find((c) => c.type === "RuntimeReady");
  assert.equal(ready?.status, true);
  assert.ok(s.status?.conditions.some((c) => c.type === "NetworkReady"));
  assert.ok(Object.keys(s.info).length > 0, "verbose info map decoded");
});

test("ImageService lists and inspects the imported image", async () => {
  const list = await images.listImages({}, { timeoutMs: 10_000 });
  const found = list.images.find((i) => i.repoTags.includes(image));
  assert.ok(found, `${image} not in ${JSON.stringify(list.images.map((i) => i.repoTags))}`);
  assert.match(found.id, /^sha256:[0-9a-f]{64}$/);
  assert.ok(found.size > 0n);

  const st = await images.imageStatus({ image: { image }, verbose: true }, { timeoutMs: 10_000 });
  assert.equal(st.image?.id, found.id);
  assert.ok(st.info["info"], "verbose image info");

  const missing = await images.imageStatus(
    { image: { image: "docker.io/no/such:image" } },
    { timeoutMs: 10_000 },
  );
  assert.equal(missing.image, undefined);

  const fs = await images.imageFsInfo({}, { timeoutMs: 10_000 });
  assert.ok(fs.imageFilesystems.length >= 1);
  assert.ok(fs.imageFilesystems[0]!.fsId?.mountpoint);
});

test("an RPC newer than containerd 1.6 answers Unimplemented", async () => {
  await assert.rejects(runtime.runtimeConfig({}, { timeoutMs: 10_000 }), /UNIMPLEMENTED/);
});
