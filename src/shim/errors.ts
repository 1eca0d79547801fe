// Errors the Task service returns. containerd maps gRPC codes back to its
// errdefs (NotFound, AlreadyExists, FailedPrecondition...), so each error
// crosses the ttrpc boundary once, as a typed status with an operator's message.
import { Code, TtrpcError } from "../ttrpc/status.js";

export const notFound = (msg: string): TtrpcError => new TtrpcError(Code.NotFound, msg);
export const alreadyExists = (msg: string): TtrpcError => new TtrpcError(Code.AlreadyExists, msg);
export const failedPrecondition = (msg: string): TtrpcError => new TtrpcError(Code.FailedPrecondition, msg);
export const invalidArgument = (msg: string): TtrpcError => new TtrpcError(Code.InvalidArgument, msg);
export const unimplemented = (msg: string): TtrpcError => new TtrpcError(Code.Unimplemented, msg);
export const internal = (msg: string): TtrpcError => new TtrpcError(Code.Internal, msg);

/** Any error into a status: TtrpcErrors pass through, the rest become Internal/InvalidArgument. */
export function toStatusError(err: unknown, what: string): TtrpcError {
  if (err instanceof TtrpcError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const invalid = err instanceof Error && (err.name === "SpecError" || err.name === "SignalError");
  return new TtrpcError(invalid ? Code.InvalidArgument : Code.Internal, `${what}: ${message}`, [], {
    cause: err,
  });
}
