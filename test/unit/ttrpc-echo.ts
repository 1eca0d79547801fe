// Shared by the ttrpc-*.test.ts files: the Echo test service and a server/client pair on a temp socket.
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import {
  Echo,
  type EchoRequest,
  EchoRequestSchema,
  EchoResponseSchema,
} from "../../src/api/gen/ttrpc/testing/echo_pb.js";
import { RequestSchema, ResponseSchema, StringListSchema } from "../../src/api/gen/ttrpc/ttrpc_pb.js";
import {
  type CallContext,
  Code,
  encodeFrame,
  FrameDecoder,
  MessageType,
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

export interface RawFrame {
  streamId: number;
  type: number;
  flags: number;
  data: Buffer;
}

/** A bare socket speaking frames by hand, for protocol-level tests. */
export class RawConn {
  readonly socket: Socket;
  private readonly frames: RawFrame[] = [];
  private waiter: ((f: RawFrame | null) => void) | null = null;
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    const decoder = new FrameDecoder({
      onFrame: (streamId, type, flags, data) => this.deliver({ streamId, type, flags, data }),
      onOversized: () => {
        throw new Error("server sent an oversized frame");
      },
    });
    socket.on("data", (c: Buffer) => decoder.push(c));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.waiter?.(null);
      this.waiter = null;
    });
  }

  static connect(path: string): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once("connect", () => resolve(new RawConn(s)));
      s.once("error", reject);
    });
  }

  private deliver(f: RawFrame): void {
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w(f);
    } else this.frames.push(f);
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next frame from the server, or null if the connection closed first. */
  next(timeoutMs = 5000): Promise<RawFrame | null> {
    const f = this.frames.shift();
    if (f !== undefined) return Promise.resolve(f);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no frame in time")), timeoutMs);
      this.waiter = (x) => {
        clearTimeout(t);
        resolve(x);
      };
    });
  }

  /** The next frame, which must be a Response; returns its status (OK when none). */
  async nextStatus(): Promise<{ streamId: number; code: number; message: string; payload: Uint8Array }> {
    const f = await this.next();
    if (f === null) throw new Error("connection closed");
    if (f.type !== MessageType.Response) throw new Error(`expected a response, got type ${f.type}`);
    const res = fromBinary(ResponseSchema, f.data);
    return {
      streamId: f.streamId,
      code: res.status?.code ?? 0,
      message: res.status?.message ?? "",
      payload: res.payload,
    };
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A request frame built with the generated schema (independent of the library's own encoder);
 * `unknownField` appends a field the envelope does not define (9, varint 1), which a server skips.
 */
export function requestFrame(
  streamId: number,
  init: MessageInitShape<typeof RequestSchema>,
  flags = 0,
  opts: { unknownField?: boolean } = {},
): Buffer {
  const body = toBinary(RequestSchema, create(RequestSchema, init));
  const unknown = opts.unknownField === true ? Buffer.from([0x48, 0x01]) : Buffer.alloc(0);
  return encodeFrame(streamId, MessageType.Request, flags, Buffer.concat([body, unknown]));
}

export function echoPayload(init: { text?: string; delayMs?: number; failCode?: number }): Uint8Array {
  return toBinary(EchoRequestSchema, create(EchoRequestSchema, init));
}

export function echoText(payload: Uint8Array): string {
  return fromBinary(EchoResponseSchema, payload).text;
}
