// Typed @grpc/grpc-js clients from @bufbuild/protobuf v2 service descriptors,
// and a client for a test containerd's API (events, tasks, containers,
// version) with the `containerd-namespace` header set on every call.
//
// A method `Foo` of service `pkg.Svc` is called at `/pkg.Svc/Foo`; messages
// are encoded with toBinary/fromBinary of the generated schemas. Unary and
// server-streaming methods are supported (containerd's Events.Subscribe is
// the streaming one tests need).
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import {
  type CallOptions,
  Client,
  type ClientReadableStream,
  credentials,
  Metadata,
  status,
} from "@grpc/grpc-js";
import { Containers } from "../../src/api/gen/containerd/services/containers/v1/containers_pb.js";
import { Events } from "../../src/api/gen/containerd/services/events/v1/events_pb.js";
import { Tasks } from "../../src/api/gen/containerd/services/tasks/v1/tasks_pb.js";
import { Version } from "../../src/api/gen/containerd/services/version/v1/version_pb.js";

export interface CallOpts {
  /** Deadline of the call, from now. */
  timeoutMs?: number;
  /** Extra request metadata (added to the client's default metadata). */
  metadata?: Record<string, string>;
}

export interface ServerStream<T> extends AsyncIterable<T> {
  /** Cancels the call; an iteration in progress then ends without error. */
  cancel(): void;
  readonly call: ClientReadableStream<T>;
}

export type UnaryMethod<I extends DescMessage, O extends DescMessage> = (
  request?: MessageInitShape<I>,
  opts?: CallOpts,
) => Promise<MessageShape<O>>;

export type ServerStreamMethod<I extends DescMessage, O extends DescMessage> = (
  request?: MessageInitShape<I>,
  opts?: CallOpts,
) => ServerStream<MessageShape<O>>;

/** The method table of a generated service (`typeof Events` → its methods). */
export type MethodsOf<S> = S extends GenService<infer M> ? M : never;

type Supported = "unary" | "server_streaming";

/** One typed function per unary / server-streaming method of the service. */
export type TypedClient<M extends GenServiceMethods> = {
  [K in keyof M as M[K]["methodKind"] extends Supported ? K : never]: M[K]["methodKind"] extends "unary"
    ? UnaryMethod<M[K]["input"], M[K]["output"]>
    : ServerStreamMethod<M[K]["input"], M[K]["output"]>;
};

function callOptions(opts: CallOpts | undefined): CallOptions {
  return opts?.timeoutMs === undefined ? {} : { deadline: Date.now() + opts.timeoutMs };
}

function metadataFor(base: Record<string, string>, opts: CallOpts | undefined): Metadata {
  const md = new Metadata();
  for (const [k, v] of Object.entries({ ...base, ...opts?.metadata })) md.set(k, v);
  return md;
}

function isCancelled(err: unknown): boolean {
  return typeof err === "object" && err !== null && "code" in err && err.code === status.CANCELLED;
}

function serverStream<T>(call: ClientReadableStream<T>): ServerStream<T> {
  let cancelled = false;
  return {
    call,
    cancel() {
      cancelled = true;
      call.cancel();
    },
    async *[Symbol.asyncIterator]() {
      try {
        for await (const msg of call) yield msg as T;
      } catch (err) {
        if (!(cancelled && isCancelled(err))) throw err;
      }
    },
  };
}

/**
 * Binds `service` to a grpc-js `client` (any Client: method paths are
 * absolute, so one channel can serve every service).
 */
export function typedClient<M extends GenServiceMethods>(
  service: GenService<M>,
  client: Client,
  defaultMetadata: Record<string, string> = {},
): TypedClient<M> {
  const out: Record<string, unknown> = {};
  for (const method of service.methods) {
    const path = `/${service.typeName}/${method.name}`;
    const input = method.input;
    const output = method.output;
    const serialize = (value: MessageInitShape<DescMessage>): Buffer =>
      Buffer.from(toBinary(input, create(input, value)));
    const deserialize = (bytes: Buffer): MessageShape<DescMessage> => fromBinary(output, bytes);
    if (method.methodKind === "unary") {
      out[method.localName] = (request: MessageInitShape<DescMessage> = {}, opts?: CallOpts) =>
        new Promise<MessageShape<DescMessage>>((resolve, reject) => {
          client.makeUnaryRequest(
            path,
            serialize,
            deserialize,
            request,
            metadataFor(defaultMetadata, opts),
            callOptions(opts),
            (err, value) => {
              if (err) reject(err);
              else if (value === undefined) reject(new Error(`${path}: empty response`));
              else resolve(value);
            },
          );
        });
    } else if (method.methodKind === "server_streaming") {
      out[method.localName] = (request: MessageInitShape<DescMessage> = {}, opts?: CallOpts) =>
        serverStream(
          client.makeServerStreamRequest(
            path,
            serialize,
            deserialize,
            request,
            metadataFor(defaultMetadata, opts),
            callOptions(opts),
          ),
        );
    }
  }
  // The mapped type is exactly what the loop built, method by method.
  return out as TypedClient<M>;
}

/** A grpc-js client on a unix socket path (or any grpc-js target). */
export function grpcClient(address: string): Client {
  const target = address.startsWith("/") ? `unix://${address}` : address;
  return new Client(target, credentials.createInsecure(), {
    "grpc.max_receive_message_length": 16 << 20,
    "grpc.max_send_message_length": 16 << 20,
  });
}

export interface ContainerdClient {
  events: TypedClient<MethodsOf<typeof Events>>;
  tasks: TypedClient<MethodsOf<typeof Tasks>>;
  containers: TypedClient<MethodsOf<typeof Containers>>;
  version: TypedClient<MethodsOf<typeof Version>>;
  /** The shared grpc-js client, for anything else. */
  client: Client;
  close(): void;
}

/** containerd's API on `address`, every call in `namespace`. */
export function containerdClient(address: string, namespace: string): ContainerdClient {
  const client = grpcClient(address);
  const md = { "containerd-namespace": namespace };
  return {
    events: typedClient(Events, client, md),
    tasks: typedClient(Tasks, client, md),
    containers: typedClient(Containers, client, md),
    version: typedClient(Version, client, md),
    client,
    close: () => client.close(),
  };
}
