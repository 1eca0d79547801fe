// gRPC status codes and the one error type that crosses the ttrpc boundary.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { type Status, StatusSchema } from "../api/gen/google/rpc/status_pb.js";

/** The gRPC code set carried in google.rpc.Status.code. */
export enum Code {
  OK = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

/**
 * An RPC failure with a gRPC code. Handlers throw it to answer with that status; clients receive it
 * for every failed call (remote status, deadline, cancellation, lost connection).
 */
export class TtrpcError extends Error {
  readonly code: Code;
  readonly details: Any[];

  constructor(code: Code, message: string, details: Any[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TtrpcError";
    this.code = code;
    this.details = details;
  }

  /** The code's name, as Go's codes.Code prints it (e.g. "NotFound"). */
  get codeName(): string {
    return codeName(this.code);
  }

  override toString(): string {
    return `TtrpcError: ${codeName(this.code)}: ${this.message}`;
  }

  toStatus(): Status {
    return create(StatusSchema, { code: this.code, message: this.message, details: this.details });
  }

  static fromStatus(status: Status): TtrpcError {
    return new TtrpcError(status.code as Code, status.message, status.details);
  }
}

export function codeName(code: number): string {
  const name = Code[code];
  return typeof name === "string" ? name : `Code(${code})`;
}

/** System error codes mapped the way containerd/ttrpc maps os errors (convertCode). */
const errnoCodes: Record<string, Code> = {
  ENOENT: Code.NotFound,
  EEXIST: Code.AlreadyExists,
  EACCES: Code.PermissionDenied,
  EPERM: Code.PermissionDenied,
  EINVAL: Code.InvalidArgument,
};

/**
 * Any thrown value as a TtrpcError: TtrpcErrors pass through, aborts become Canceled, node system
 * errors map by errno name, anything else is Unknown with its message (never a crash).
 */
export function toTtrpcError(err: unknown): TtrpcError {
  if (err instanceof TtrpcError) return err;
  if (err instanceof Error) {
    if (err.name === "AbortError") return new TtrpcError(Code.Canceled, err.message, [], { cause: err });
    const errno = (err as { code?: unknown }).code;
    const mapped = typeof errno === "string" ? errnoCodes[errno] : undefined;
    return new TtrpcError(mapped ?? Code.Unknown, err.message, [], { cause: err });
  }
  return new TtrpcError(Code.Unknown, String(err));
}

export function encodeStatus(err: TtrpcError): Uint8Array {
  return toBinary(StatusSchema, err.toStatus());
}

export function decodeStatus(bytes: Uint8Array): Status {
  return fromBinary(StatusSchema, bytes);
}
