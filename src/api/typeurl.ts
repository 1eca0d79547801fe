// google.protobuf.Any the way containerd packs it (github.com/containerd/typeurl).
//
// Type URLs containerd writes:
// - a proto message: its bare full name, no "type.googleapis.com/" prefix, e.g.
//   "containerd.events.TaskExit" in Forward envelopes, "containerd.runc.v1.Options"
//   in CreateTaskRequest.options, "io.containerd.cgroups.v1.Metrics" in stats.
//   containerd 1.6 (typeurl v1, gogo registry) resolves only the bare name, so we
//   must send it that way; @bufbuild's anyPack() adds the prefix and must not be
//   used toward containerd. containerd 1.7+/2.x (typeurl v2) resolve both forms.
// - a Go type registered with typeurl.Register (not a proto): a path-shaped URL
//   and a JSON value (encoding/json), e.g. the OCI runtime-spec types
//   "types.containerd.io/opencontainers/runtime-spec/1/Process" (ExecProcessRequest.spec)
//   and ".../1/LinuxResources" (UpdateTaskRequest.resources), ".../1/Spec" (container spec).
// On the way in we accept both proto forms (anything up to the last "/" is ignored,
// as protobuf-go's FindMessageByURL does) and decode JSON for the registered paths.
import {
  create,
  type DescMessage,
  fromBinary,
  type Message,
  type MessageShape,
  type Registry,
  toBinary,
} from "@bufbuild/protobuf";
import { type Any, AnySchema } from "@bufbuild/protobuf/wkt";

/** Prefix containerd registers the OCI runtime-spec Go types under (spec major version 1). */
export const specTypeUrlPrefix = "types.containerd.io/opencontainers/runtime-spec/1/";

/** The JSON-valued type URLs containerd uses for OCI runtime-spec structs. */
export const specTypeUrls = {
  spec: `${specTypeUrlPrefix}Spec`,
  process: `${specTypeUrlPrefix}Process`,
  linuxResources: `${specTypeUrlPrefix}LinuxResources`,
  windowsResources: `${specTypeUrlPrefix}WindowsResources`,
} as const;

/** Path prefixes of other Go types containerd stores as JSON Anys (CRI's container/sandbox metadata). */
const jsonTypeUrlPrefixes = [specTypeUrlPrefix, "github.com/containerd/cri/pkg/store/"];

/** An Any that cannot be packed or unpacked; the message names the type URL. */
export class TypeUrlError extends Error {
  override readonly name = "TypeUrlError";
  constructor(
    message: string,
    readonly typeUrl: string,
  ) {
    super(message);
  }
}

export type UnpackedAny =
  | { kind: "proto"; typeUrl: string; schema: DescMessage; message: Message }
  | { kind: "json"; typeUrl: string; value: unknown };

/** The message full name a type URL names: the part after the last "/". */
export function typeUrlToName(typeUrl: string): string {
  const name = typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
  if (name === "") throw new TypeUrlError(`invalid type URL ${JSON.stringify(typeUrl)}`, typeUrl);
  return name;
}

/** The type URL containerd uses for a proto message: its bare full name. */
export function typeUrlOf(schema: DescMessage): string {
  return schema.typeName;
}

/** Packs a proto message as containerd does (bare full name as type URL). */
export function packAny<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Any {
  return create(AnySchema, { typeUrl: typeUrlOf(schema), value: toBinary(schema, message) });
}

/** Packs a plain value as JSON under a path-shaped URL (e.g. one of specTypeUrls). */
export function packJsonAny(typeUrl: string, value: unknown): Any {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeUrlError(`value for ${typeUrl} has no JSON form`, typeUrl);
  return create(AnySchema, { typeUrl, value: new TextEncoder().encode(text) });
}

/**
 * Rewrites a "type.googleapis.com/<name>" URL (what @bufbuild's anyPack and fromJson
 * produce) to the bare name containerd 1.6 can resolve. Other URLs are kept.
 */
export function normalizeAny(any: Any): Any {
  const prefix = "type.googleapis.com/";
  if (!any.typeUrl.startsWith(prefix)) return any;
  return create(AnySchema, { typeUrl: any.typeUrl.slice(prefix.length), value: any.value });
}

/** True when the Any holds `schema`, with or without a URL prefix. */
export function anyHolds(any: Any, schema: DescMessage): boolean {
  return any.typeUrl !== "" && typeUrlToName(any.typeUrl) === schema.typeName;
}

function isJsonTypeUrl(typeUrl: string): boolean {
  return jsonTypeUrlPrefixes.some((p) => typeUrl.startsWith(p));
}

function decodeJson(any: Any): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(any.value));
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TypeUrlError(`decode JSON of ${any.typeUrl}: ${why}`, any.typeUrl);
  }
}

function decodeProto<Desc extends DescMessage>(any: Any, schema: Desc): MessageShape<Desc> {
  try {
    return fromBinary(schema, any.value);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TypeUrlError(`decode ${schema.typeName}: ${why}`, any.typeUrl);
  }
}

/**
 * Unpacks any Any containerd sends: JSON-valued Go types first (as typeurl checks its
 * own registrations first), then proto messages known to `registry` (apiRegistry from
 * ./registry.js for every API type; passed in so the shim never loads the whole API).
 * Throws TypeUrlError for an empty or unknown URL or an undecodable value.
 */
export function unpackAny(any: Any, registry: Registry): UnpackedAny {
  const typeUrl = any.typeUrl;
  if (typeUrl === "") throw new TypeUrlError("Any has no type URL", typeUrl);
  if (isJsonTypeUrl(typeUrl)) return { kind: "json", typeUrl, value: decodeJson(any) };
  const schema = registry.getMessage(typeUrlToName(typeUrl));
  if (schema === undefined) throw new TypeUrlError(`unknown type URL ${JSON.stringify(typeUrl)}`, typeUrl);
  return { kind: "proto", typeUrl, schema, message: decodeProto(any, schema) };
}

/** Unpacks an Any that must hold `schema` (prefixed or bare URL); throws TypeUrlError otherwise. */
export function unpackAnyAs<Desc extends DescMessage>(any: Any, schema: Desc): MessageShape<Desc> {
  if (!anyHolds(any, schema)) {
    throw new TypeUrlError(`expected ${schema.typeName}, got ${JSON.stringify(any.typeUrl)}`, any.typeUrl);
  }
  return decodeProto(any, schema);
}

/** Decodes a JSON-valued Any that must carry exactly `typeUrl` (e.g. specTypeUrls.process). */
export function unpackJsonAny(any: Any, typeUrl: string): unknown {
  if (any.typeUrl !== typeUrl) {
    throw new TypeUrlError(`expected ${typeUrl}, got ${JSON.stringify(any.typeUrl)}`, any.typeUrl);
  }
  return decodeJson(any);
}
