// Shared by the ttrpc-*.test.ts files: the Echo test service and a server/client pair on a temp socket.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Echo, type EchoRequest } from "../../src/api/gen/ttrpc/testing/echo_pb.js";
import { StringListSchema } from "../../src/api/gen/ttrpc/ttrpc_pb.js";
import {
  type CallContext,
  Code,
  type ServerOptions,
  type ServiceClient,
  type ServiceImpl,
  TtrpcClient,
  TtrpcError,
  TtrpcServer,
} from "../../src/ttrpc/index.js";

function metadataList(ctx: CallContext): string[] {
  return [...ctx.metadata.entries()].map(([k, v]) => `${k}=${v}`);
}

async function maybeFail(req: EchoRequest, ctx: CallContext): Promise<void> {
  if (req.delayMs > 0) await sleep(req.delayMs, undefined, { signal: ctx.signal });
  if (req.failCode !== 0) {
    // Details carry the request text back so tests can check the Any round trip.
    const detail = anyPack(StringListSchema, create(StringListSchema, { list: [req.text, "detail"] }));
    throw new TtrpcError(req.failCode as Code, req.text, [detail]);
  }
}

export const echoImpl: ServiceImpl<typeof Echo.method> = {
  async echo(req, ctx) {
    await maybeFail(req, ctx);
    return { text: req.text, blob: req.blob, metadata: metadataList(ctx) };
  },
  async *serverStream(req, ctx) {
    for (let i = 0; i < req.count; i++) {
      if (req.delayMs > 0) await sleep(req.delayMs, undefined, { signal: ctx.signal });
      yield { text: req.text, index: i };
    }
    if (req.failCode !== 0) throw new TtrpcError(req.failCode as Code, req.text);
  },
  async clientStream(reqs, ctx) {
    const texts: string[] = [];
    for await (const r of reqs) {
      await maybeFail(r, ctx);
      texts.push(r.text);
    }
    return { text: texts.join(","), index: texts.length, metadata: metadataList(ctx) };
  },
  async *bidi(reqs, ctx) {
    let i = 0;
    for await (const r of reqs) {
      await maybeFail(r, ctx);
      yield { text: r.text.toUpperCase(), index: i++ };
    }
  },
};

export interface Pair {
  dir: string;
  path: string;
  server: TtrpcServer;
  client: TtrpcClient;
  echo: ServiceClient<typeof Echo.method>;
  cleanup(): Promise<void>;
}

/** A server with the Echo service on a socket in a fresh temp dir, and one connected client. */
export async function startPair(options: ServerOptions = {}): Promise<Pair> {
  const dir = mkdtempSync(join(tmpdir(), "tsshim-ttrpc-"));
  const path = join(dir, "ttrpc.sock");
  const server = new TtrpcServer(options);
  server.register(Echo, echoImpl);
  await server.listen(path);
  const client = await TtrpcClient.connect(path);
  const echo = client.service(Echo);
  return {
    dir,
    path,
    server,
    client,
    echo,
    async cleanup() {
      client.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { Code, Echo, TtrpcError };
