// The request a launcher sends a spare and the answer it gets (the format is
// described in native/launcher/launcher.h): tagged, length-prefixed records.

export interface StartRequest {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly stdin: Uint8Array;
  /** containerd's pid (the launcher's parent), for the shim's oom_score_adj. */
  readonly parentPid: number;
}

export class SpareProtocolError extends Error {
  override readonly name = "SpareProtocolError";
}

/** Requests are small (argv, environment, runtime options): anything larger is not one. */
export const REQUEST_LIMIT = 17 * 1024 * 1024;

export function decodeRequest(bytes: Uint8Array): StartRequest {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const argv: string[] = [];
  const env: Record<string, string> = {};
  let cwd: string | undefined;
  let stdin: Uint8Array = new Uint8Array();
  let parentPid = 0;
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 5) throw new SpareProtocolError(`truncated record header at byte ${off}`);
    const tag = String.fromCharCode(buf[off]!);
    const len = buf.readUInt32LE(off + 1);
    off += 5;
    if (len > buf.length - off) {
      throw new SpareProtocolError(
        `record '${tag}' at byte ${off - 5} claims ${len} bytes, ${buf.length - off} left`,
      );
    }
    const body = buf.subarray(off, off + len);
    off += len;
    switch (tag) {
      case "A":
        argv.push(body.toString());
        break;
      case "E": {
        const text = body.toString();
        const eq = text.indexOf("=");
        if (eq > 0) env[text.slice(0, eq)] = text.slice(eq + 1);
        break;
      }
      case "C":
        cwd = body.toString();
        break;
      case "I":
        stdin = new Uint8Array(body);
        break;
      case "P":
        parentPid = Number.parseInt(body.toString(), 10);
        if (!Number.isSafeInteger(parentPid) || parentPid < 0) {
          throw new SpareProtocolError(`bad parent pid ${JSON.stringify(body.toString())}`);
        }
        break;
      default:
        throw new SpareProtocolError(`unknown record tag ${JSON.stringify(tag)} at byte ${off - len - 5}`);
    }
  }
  if (argv.length === 0) throw new SpareProtocolError("request has no argv");
  if (cwd === undefined || !cwd.startsWith("/")) throw new SpareProtocolError("request has no absolute cwd");
  return { argv, env, cwd, stdin, parentPid };
}

export function encodeRequest(req: StartRequest): Buffer {
  const parts: Buffer[] = [];
  const record = (tag: string, body: Uint8Array | string): void => {
    const data = typeof body === "string" ? Buffer.from(body) : Buffer.from(body);
    const head = Buffer.alloc(5);
    head[0] = tag.charCodeAt(0);
    head.writeUInt32LE(data.length, 1);
    parts.push(head, data);
  };
  for (const a of req.argv) record("A", a);
  for (const [k, v] of Object.entries(req.env)) record("E", `${k}=${v}`);
  record("C", req.cwd);
  record("P", String(req.parentPid));
  record("I", req.stdin);
  return Buffer.concat(parts);
}

export const ADOPTED = 0x01;

export interface StartReply {
  /** The verb's exit code: 0, or 1 with a message. */
  readonly status: number;
  readonly adopted: boolean;
  /** stdout on success (the address), the error message otherwise. */
  readonly output: Uint8Array;
}

export function encodeReply(reply: StartReply): Buffer {
  const head = Buffer.alloc(6);
  head[0] = reply.status;
  head[1] = reply.adopted ? ADOPTED : 0;
  head.writeUInt32LE(reply.output.length, 2);
  return Buffer.concat([head, reply.output]);
}

export function decodeReply(bytes: Uint8Array): StartReply {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 6) throw new SpareProtocolError("truncated answer");
  const len = buf.readUInt32LE(2);
  if (len !== buf.length - 6)
    throw new SpareProtocolError(`answer claims ${len} bytes, has ${buf.length - 6}`);
  return { status: buf[0]!, adopted: (buf[1]! & ADOPTED) !== 0, output: new Uint8Array(buf.subarray(6)) };
}
