// Typed services from @bufbuild/protobuf v2 descriptors (protoc-gen-es `GenService` output): the server
// takes an object of plain typed async methods, the client hands back typed methods.
import {
  create,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { Metadata } from "./metadata.js";

export type MethodKind = "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface Peer {
  /** The accepted socket's file descriptor (the libuv handle's), -1 if unknown. */
  readonly fd: number;
  /** SO_PEERCRED of the connecting process, when the server was given a way to read it. */
  readonly credentials: PeerCredentials | undefined;
}

/** What a handler learns about its call. */
export interface CallContext {
  /** Wire service name the client called (an alias name when registered under one). */
  readonly service: string;
  readonly method: string;
  readonly streamId: number;
  readonly metadata: Metadata;
  /** Aborted when the deadline passes, the connection closes or the server is closed; reason is a TtrpcError. */
  readonly signal: AbortSignal;
  /** Deadline from the request's timeout_nano as Date.now() milliseconds, if the client set one. */
  readonly deadline: number | undefined;
  readonly peer: Peer;
}

type MaybePromise<T> = T | Promise<T>;

export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  ctx: CallContext,
) => MaybePromise<MessageInitShape<O>>;
export type ServerStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  ctx: CallContext,
) => AsyncIterable<MessageInitShape<O>>;
export type ClientStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  ctx: CallContext,
) => MaybePromise<MessageInitShape<O>>;
export type BidiStreamingHandler<I extends DescMessage, O extends DescMessage> = (
  requests: AsyncIterable<MessageShape<I>>,
  ctx: CallContext,
) => AsyncIterable<MessageInitShape<O>>;

type HandlerFor<M> = M extends { methodKind: infer K; input: infer I; output: infer O }
  ? I extends DescMessage
    ? O extends DescMessage
      ? K extends "unary"
        ? UnaryHandler<I, O>
        : K extends "server_streaming"
          ? ServerStreamingHandler<I, O>
          : K extends "client_streaming"
            ? ClientStreamingHandler<I, O>
            : BidiStreamingHandler<I, O>
      : never
    : never
  : never;

/**
 * The implementation of a service: one method per rpc, keyed by the generated (camelCase) name. Methods
 * left out answer Unimplemented.
 */
export type ServiceImpl<S extends GenServiceMethods> = { [K in keyof S]?: HandlerFor<S[K]> };

/** Untyped form every method is reduced to: the server only moves bytes and calls `handler`. */
export interface MethodEntry {
  readonly name: string;
  readonly kind: MethodKind;
  decode(bytes: Uint8Array): unknown;
  encode(value: unknown): Uint8Array;
  readonly handler: (input: unknown, ctx: CallContext) => unknown;
}

export function isStreamingClient(kind: MethodKind): boolean {
  return kind === "client_streaming" || kind === "bidi_streaming";
}

export function isStreamingServer(kind: MethodKind): boolean {
  return kind === "server_streaming" || kind === "bidi_streaming";
}

/**
 * A hand-written codec for one message type, used instead of protobuf-es's generic one: decode returns the
 * message's shape, encode takes what a handler returns (its init shape).
 */
export interface MessageCodec {
  decode?(bytes: Uint8Array): unknown;
  encode?(value: unknown): Uint8Array;
}

function messageCodec(
  input: DescMessage,
  output: DescMessage,
  codecs: ReadonlyMap<string, MessageCodec> | undefined,
): Pick<MethodEntry, "decode" | "encode"> {
  return {
    decode: codecs?.get(input.typeName)?.decode ?? ((bytes) => fromBinary(input, bytes)),
    encode:
      codecs?.get(output.typeName)?.encode ??
      ((value) => toBinary(output, create(output, (value ?? undefined) as MessageInitShape<DescMessage>))),
  };
}

/** The method table of `desc` bound to `impl` (only the methods impl provides). */
export function methodEntries<S extends GenServiceMethods>(
  desc: GenService<S>,
  impl: ServiceImpl<S>,
  codecs?: ReadonlyMap<string, MessageCodec>,
): Map<string, MethodEntry> {
  const out = new Map<string, MethodEntry>();
  const service = desc as unknown as DescService;
  const handlers = impl as Record<string, ((input: unknown, ctx: CallContext) => unknown) | undefined>;
  for (const m of service.methods) {
    const fn = handlers[m.localName];
    if (typeof fn !== "function") continue;
    out.set(m.name, {
      name: m.name,
      kind: m.methodKind,
      ...messageCodec(m.input, m.output, codecs),
      handler: fn.bind(impl),
    });
  }
  return out;
}

const identity = (b: unknown): Uint8Array => b as Uint8Array;

/** A bytes-in, bytes-out method (for generic servers, proxies and tests). */
export function rawMethod(
  name: string,
  kind: MethodKind,
  handler: (input: unknown, ctx: CallContext) => unknown,
): MethodEntry {
  return { name, kind, decode: identity, encode: identity, handler };
}
