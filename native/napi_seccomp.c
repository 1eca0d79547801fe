/* Node-API glue for seccomp: the test-only self-check `seccompTrial`.
 *
 * seccompTrial(filter: Uint8Array, flags: number, nr: number, args: bigint[], abi?: "i386")
 *   → { result, errno, signal }
 * forks a throwaway child (raw clone, so no atfork handlers run in a copy of a
 * multi-threaded Node), which sets no_new_privs, installs the filter with
 * tsshim_seccomp_install and makes the one syscall `nr(args...)` (with abi
 * "i386" on x86_64: through `int $0x80`, so seccomp sees AUDIT_ARCH_I386 and
 * the i386 number; five arguments at most there). The child
 * reports the syscall's return value and errno through a pipe; if the filter
 * kills it, `signal` is the terminating signal (SIGSYS) and result/errno are 0.
 * The filter must allow write(2) and exit_group(2), which the child needs to
 * report and to leave. A call that blocks ends with SIGALRM after 10 s.
 *
 * Test-only: it blocks the calling thread in waitpid on that one pid, which is
 * fine for a short-lived helper but must never be used by the daemon, or in any
 * process where the native reaper runs: its P_ALL drain would take the child. */
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "napi_util.h"
#include "seccomp.h"

struct trial_report {
  int installed;   /* 1 once the filter is in place */
  long result;     /* raw return of the syscall (-1 on error) */
  int errnum;      /* errno of the syscall */
  struct tsshim_error err; /* why installation failed, when installed == 0 */
};

static void write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    len -= (size_t)n;
  }
}

/* A syscall through the i386 entry point: -errno on failure, like the raw kernel ABI. */
static long i386_syscall(long nr, const uint64_t *a) {
#if defined(__x86_64__)
  long ret;
  __asm__ volatile("int $0x80"
                   : "=a"(ret)
                   : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
                   : "memory", "cc", "r8", "r9", "r10", "r11");
  return (long)(int)ret; /* the i386 ABI returns 32 bits */
#else
  (void)nr;
  (void)a;
  return -ENOSYS;
#endif
}

/* Runs in the child: async-signal-safe calls only, then _exit. */
static void trial_child(int wfd, const void *filter, size_t len, unsigned flags, long nr, const uint64_t *a,
                        int i386) {
  struct trial_report r;
  memset(&r, 0, sizeof r);
  /* A killed child must not leave a core file behind. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* Signal state is inherited from a Node thread: make SIGSYS deadly and deliverable. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGSYS, &dfl, NULL);
  sigaction(SIGALRM, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);

  /* A call that blocks (a read from a pipe, a pause) must not hang the caller's waitpid:
   * SIGALRM ends the child after 10 s, before the filter can deny alarm itself. */
  alarm(10);

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    tsshim_error_errno(&r.err, "seccomp trial", "prctl", "PR_SET_NO_NEW_PRIVS", NULL);
  } else if (tsshim_seccomp_install(filter, len, flags, &r.err) == 0) {
    r.installed = 1;
    if (i386) {
      long ret = i386_syscall(nr, a);
      r.result = ret < 0 && ret >= -4095 ? -1 : ret;
      r.errnum = ret < 0 && ret >= -4095 ? (int)-ret : 0;
    } else {
      errno = 0;
      r.result = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
      r.errnum = r.result == -1 ? errno : 0;
    }
  }
  write_all(wfd, &r, sizeof r);
  _exit(0);
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_TSSHIM_SECCOMP_TRIAL", msg);
  return NULL;
}

static napi_value seccomp_trial(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4) return throw_type(env, "seccompTrial(filter, flags, nr, args) needs 4 arguments");

  bool is_typed = false;
  napi_typedarray_type tt;
  size_t len = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed) return throw_type(env, "filter must be a Uint8Array");
  if (napi_get_typedarray_info(env, argv[0], &tt, &len, &data, NULL, NULL) != napi_ok || tt != napi_uint8_array)
    return throw_type(env, "filter must be a Uint8Array");

  uint32_t flags = 0;
  int64_t nr = 0;
  if (napi_get_value_uint32(env, argv[1], &flags) != napi_ok) return throw_type(env, "flags must be a number");
  if (napi_get_value_int64(env, argv[2], &nr) != napi_ok) return throw_type(env, "nr must be a number");

  uint64_t a[6] = {0};
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, argv[3], &is_array) != napi_ok || !is_array) return throw_type(env, "args must be an array");
  if (napi_get_array_length(env, argv[3], &n) != napi_ok || n > 6) return throw_type(env, "args holds at most 6 values");
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    napi_valuetype t;
    bool lossless = true;
    if (napi_get_element(env, argv[3], i, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return NULL;
    if (t != napi_bigint || napi_get_value_bigint_uint64(env, v, &a[i], &lossless) != napi_ok)
      return throw_type(env, "args must be bigints");
  }

  int i386 = 0;
  if (argc >= 5) {
    napi_valuetype t;
    if (napi_typeof(env, argv[4], &t) != napi_ok) return NULL;
    if (t != napi_undefined) {
      char abi[8] = {0};
      size_t n_abi = 0;
      if (t != napi_string || napi_get_value_string_utf8(env, argv[4], abi, sizeof abi, &n_abi) != napi_ok ||
          strcmp(abi, "i386") != 0)
        return throw_type(env, "abi must be \"i386\" or undefined");
#if !defined(__x86_64__)
      return throw_type(env, "abi \"i386\" needs an x86_64 host");
#endif
      if (n > 5) return throw_type(env, "an i386 trial takes at most 5 args");
      i386 = 1;
    }
  }

  /* The child works on its own copy of the address space, so `data` stays valid there. */
  int fds[2];
  struct tsshim_error err;
  if (pipe2(fds, O_CLOEXEC) < 0) {
    tsshim_error_errno(&err, "seccomp trial", "pipe2", NULL, NULL);
    tsshim_napi_throw(env, &err);
    return NULL;
  }
  long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid < 0) {
    tsshim_error_errno(&err, "seccomp trial", "clone", NULL, NULL);
    close(fds[0]);
    close(fds[1]);
    tsshim_napi_throw(env, &err);
    return NULL;
  }
  if (pid == 0) {
    close(fds[0]);
    trial_child(fds[1], data, len, flags, (long)nr, a, i386);
  }
  close(fds[1]);

  struct trial_report r;
  memset(&r, 0, sizeof r);
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t k = read(fds[0], (char *)&r + got, sizeof r - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fds[0]);

  int status = 0;
  while (waitpid((pid_t)pid, &status, 0) < 0) {
    if (errno == EINTR) continue;
    tsshim_error_errno(&err, "seccomp trial", "waitpid", NULL, NULL);
    tsshim_napi_throw(env, &err);
    return NULL;
  }

  int signal_no = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  if (got == sizeof r && !r.installed) {
    tsshim_napi_throw(env, &r.err);
    return NULL;
  }
  if (got != sizeof r && signal_no == 0) {
    tsshim_error_set(&err, 0, "seccomp trial", "read", "the child exited without a report", NULL);
    tsshim_napi_throw(env, &err);
    return NULL;
  }

  napi_value out, v;
  if (napi_create_object(env, &out) != napi_ok) return NULL;
  napi_create_double(env, got == sizeof r ? (double)r.result : 0, &v);
  napi_set_named_property(env, out, "result", v);
  napi_create_int32(env, got == sizeof r ? r.errnum : 0, &v);
  napi_set_named_property(env, out, "errno", v);
  napi_create_int32(env, signal_no, &v);
  napi_set_named_property(env, out, "signal", v);
  return out;
}

napi_status tsshim_napi_seccomp_init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_status s = napi_create_function(env, "seccompTrial", NAPI_AUTO_LENGTH, seccomp_trial, NULL, &fn);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, exports, "seccompTrial", fn);
}
