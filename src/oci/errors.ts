// Errors of the container core: the native `struct tsshim_error` record (step,
// syscall, detail, path, errno) becomes one clear message, e.g.
//   mount "proc" on "/proc": ENOENT
// The errno names are Linux's (asm-generic/errno-base.h + errno.h, x86_64/aarch64).

const ERRNO_NAMES: readonly string[] = [
  "",
  "EPERM",
  "ENOENT",
  "ESRCH",
  "EINTR",
  "EIO",
  "ENXIO",
  "E2BIG",
  "ENOEXEC",
  "EBADF",
  "ECHILD",
  "EAGAIN",
  "ENOMEM",
  "EACCES",
  "EFAULT",
  "ENOTBLK",
  "EBUSY",
  "EEXIST",
  "EXDEV",
  "ENODEV",
  "ENOTDIR",
  "EISDIR",
  "EINVAL",
  "ENFILE",
  "EMFILE",
  "ENOTTY",
  "ETXTBSY",
  "EFBIG",
  "ENOSPC",
  "ESPIPE",
  "EROFS",
  "EMLINK",
  "EPIPE",
  "EDOM",
  "ERANGE",
  "EDEADLK",
  "ENAMETOOLONG",
  "ENOLCK",
  "ENOSYS",
  "ENOTEMPTY",
  "ELOOP",
  "",
  "ENOMSG",
  "EIDRM",
  "ECHRNG",
  "EL2NSYNC",
  "EL3HLT",
  "EL3RST",
  "ELNRNG",
  "EUNATCH",
  "ENOCSI",
  "EL2HLT",
  "EBADE",
  "EBADR",
  "EXFULL",
  "ENOANO",
  "EBADRQC",
  "EBADSLT",
  "",
  "EBFONT",
  "ENOSTR",
  "ENODATA",
  "ETIME",
  "ENOSR",
  "ENONET",
  "ENOPKG",
  "EREMOTE",
  "ENOLINK",
  "EADV",
  "ESRMNT",
  "ECOMM",
  "EPROTO",
  "EMULTIHOP",
  "EDOTDOT",
  "EBADMSG",
  "EOVERFLOW",
  "ENOTUNIQ",
  "EBADFD",
  "EREMCHG",
  "ELIBACC",
  "ELIBBAD",
  "ELIBSCN",
  "ELIBMAX",
  "ELIBEXEC",
  "EILSEQ",
  "ERESTART",
  "ESTRPIPE",
  "EUSERS",
  "ENOTSOCK",
  "EDESTADDRREQ",
  "EMSGSIZE",
  "EPROTOTYPE",
  "ENOPROTOOPT",
  "EPROTONOSUPPORT",
  "ESOCKTNOSUPPORT",
  "EOPNOTSUPP",
  "EPFNOSUPPORT",
  "EAFNOSUPPORT",
  "EADDRINUSE",
  "EADDRNOTAVAIL",
  "ENETDOWN",
  "ENETUNREACH",
  "ENETRESET",
  "ECONNABORTED",
  "ECONNRESET",
  "ENOBUFS",
  "EISCONN",
  "ENOTCONN",
  "ESHUTDOWN",
  "ETOOMANYREFS",
  "ETIMEDOUT",
  "ECONNREFUSED",
  "EHOSTDOWN",
  "EHOSTUNREACH",
  "EALREADY",
  "EINPROGRESS",
  "ESTALE",
  "EUCLEAN",
  "ENOTNAM",
  "ENAVAIL",
  "EISNAM",
  "EREMOTEIO",
  "EDQUOT",
  "ENOMEDIUM",
  "EMEDIUMTYPE",
  "ECANCELED",
  "ENOKEY",
  "EKEYEXPIRED",
  "EKEYREVOKED",
  "EKEYREJECTED",
  "EOWNERDEAD",
  "ENOTRECOVERABLE",
  "ERFKILL",
  "EHWPOISON",
];

/** "ENOENT" for 2; "errno 999" for numbers Linux does not name. */
export function errnoName(errnum: number): string {
  const name = ERRNO_NAMES[errnum];
  return name !== undefined && name !== "" ? name : `errno ${errnum}`;
}

/** The record native/error.h defines, as the addon hands it to JS. */
export interface NativeErrorRecord {
  errnum: number;
  step: string;
  syscall: string;
  detail: string;
  path: string;
}

/** One line: `<step> "<detail>" on "<path>": <ERRNO>`, with `(<syscall>)` when it adds information. */
export function formatNativeError(e: NativeErrorRecord): string {
  let msg = e.step || e.syscall || "native core";
  if (e.syscall !== "" && e.syscall !== e.step) msg += ` (${e.syscall})`;
  if (e.detail !== "") msg += ` ${JSON.stringify(e.detail)}`;
  if (e.path !== "") msg += `${e.detail !== "" ? " on" : ""} ${JSON.stringify(e.path)}`;
  if (e.errnum !== 0) msg += `: ${errnoName(e.errnum)}`;
  return msg;
}

/** A failure of the container core, with the structured record when it came from C. */
export class ContainerError extends Error {
  readonly native: NativeErrorRecord | undefined;
  readonly code: string;
  constructor(message: string, native?: NativeErrorRecord, code = "ERR_TSSHIM_CONTAINER") {
    super(message);
    this.name = "ContainerError";
    this.native = native;
    this.code = code;
  }
  /** errno name of the native failure ("ENOENT"), or undefined. */
  get errno(): string | undefined {
    return this.native !== undefined && this.native.errnum !== 0 ? errnoName(this.native.errnum) : undefined;
  }
}

function isRecord(v: unknown): v is NativeErrorRecord {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r["errnum"] === "number" &&
    typeof r["step"] === "string" &&
    typeof r["syscall"] === "string" &&
    typeof r["detail"] === "string" &&
    typeof r["path"] === "string"
  );
}

export function fromNativeRecord(rec: NativeErrorRecord, context?: string): ContainerError {
  const msg = formatNativeError(rec);
  return new ContainerError(context !== undefined ? `${context}: ${msg}` : msg, rec);
}

/** Turns whatever the addon threw into a ContainerError (keeps other errors as they are). */
export function fromNativeThrow(e: unknown, context?: string): Error {
  if (e instanceof Error) {
    const rec = (e as Error & { native?: unknown }).native;
    if (isRecord(rec)) return fromNativeRecord(rec, context);
    return e;
  }
  return new ContainerError(String(e));
}
