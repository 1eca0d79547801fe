/* Node-API glue for plain processes, pidfds, the reaper and peer credentials.
 *
 * Exports: setSubreaper, pidfdOpen, pidfdSendSignal, spawn, closeFd, pipe,
 * peerCredentials, setProcessTitle, listenUnix, reaperStart, reaperDrain, reaperRef. The reaper is driven by a
 * uv_signal_t on SIGCHLD in the loop of the Node process. libuv keeps its own SIGCHLD
 * watcher for child_process children and both are woken; but this reaper waits with
 * P_ALL, so a process that runs it must not use child_process (one owner of wait). */
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "error.h"
#include "fork_detached.h"
#include "peercred.h"
#include "pidfd.h"
#include "proc_title.h"
#include "unix_listen.h"
#include "proc_spawn.h"
#include "reaper.h"

#define NAPI_TRY(env, call)                                         \
  do {                                                              \
    if ((call) != napi_ok) {                                        \
      throw_last_napi_error(env, #call);                            \
      return NULL;                                                  \
    }                                                               \
  } while (0)

static void throw_last_napi_error(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s", what,
           info != NULL && info->error_message != NULL ? info->error_message : "napi error");
  napi_throw_error(env, "ERR_TSSHIM_NAPI", msg);
}

static void set_string_prop(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  if (val == NULL || val[0] == '\0') return;
  if (napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

/* Builds the JS error for a tsshim_error: message like  execve "/no/such": ENOENT,
 * code the errno name, and the record's fields as properties. */
static napi_value make_tsshim_error(napi_env env, const struct tsshim_error *e) {
  const char *ename = e->errnum != 0 ? strerrorname_np(e->errnum) : NULL;
  char code[32];
  snprintf(code, sizeof code, "%s", ename != NULL ? ename : (e->errnum != 0 ? "EUNKNOWN" : "ERR_TSSHIM"));
  char msg[1024];
  int n = snprintf(msg, sizeof msg, "%s", e->step);
  if (e->detail[0] != '\0' && n < (int)sizeof msg) n += snprintf(msg + n, sizeof msg - n, " \"%s\"", e->detail);
  if (e->path[0] != '\0' && n < (int)sizeof msg)
    n += snprintf(msg + n, sizeof msg - n, e->detail[0] != '\0' ? " on \"%s\"" : " \"%s\"", e->path);
  if (e->syscall[0] != '\0' && strcmp(e->syscall, e->step) != 0 && n < (int)sizeof msg)
    n += snprintf(msg + n, sizeof msg - n, ": %s", e->syscall);
  if (n < (int)sizeof msg) snprintf(msg + n, sizeof msg - n, ": %s", code);

  napi_value jcode, jmsg, err, jerrno;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &jcode) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg) != napi_ok) return NULL;
  if (napi_create_error(env, jcode, jmsg, &err) != napi_ok) return NULL;
  if (napi_create_int32(env, e->errnum, &jerrno) == napi_ok) napi_set_named_property(env, err, "errno", jerrno);
  set_string_prop(env, err, "step", e->step);
  set_string_prop(env, err, "syscall", e->syscall);
  set_string_prop(env, err, "detail", e->detail);
  set_string_prop(env, err, "path", e->path);
  return err;
}

static napi_value throw_tsshim_error(napi_env env, const struct tsshim_error *e) {
  napi_value err = make_tsshim_error(env, e);
  if (err != NULL) napi_throw(env, err);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return 0;
}

static int get_int(napi_env env, napi_value v, const char *name, int32_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a number", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return -1;
  }
  return napi_get_value_int32(env, v, out) == napi_ok ? 0 : -1;
}

/* Copies a JS string into a fresh C string; rejects embedded NULs, which execve would
 * silently cut at. */
static char *dup_string(napi_env env, napi_value v, const char *name) {
  napi_valuetype t;
  size_t len = 0;
  char msg[128];
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    snprintf(msg, sizeof msg, "%s must be a string", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    snprintf(msg, sizeof msg, "%s contains a NUL byte", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return NULL;
  }
  return s;
}

static void free_strv(char **v) {
  if (v == NULL) return;
  for (char **p = v; *p != NULL; p++) free(*p);
  free(v);
}

/* JS string[] → NULL-terminated char*[] (all heap, freed with free_strv). */
static char **dup_strv(napi_env env, napi_value arr, const char *name) {
  bool is_array = false;
  uint32_t len = 0;
  char msg[96];
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array) {
    snprintf(msg, sizeof msg, "%s must be an array of strings", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  napi_get_array_length(env, arr, &len);
  char **v = calloc((size_t)len + 1, sizeof(char *));
  if (v == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < len; i++) {
    napi_value el;
    if (napi_get_element(env, arr, i, &el) != napi_ok || (v[i] = dup_string(env, el, name)) == NULL) {
      free_strv(v);
      return NULL;
    }
  }
  return v;
}

static int get_prop(napi_env env, napi_value obj, const char *key, napi_value *out, bool *present) {
  napi_valuetype t;
  if (napi_get_named_property(env, obj, key, out) != napi_ok) return -1;
  if (napi_typeof(env, *out, &t) != napi_ok) return -1;
  *present = t != napi_undefined && t != napi_null;
  return 0;
}

static int get_bool_prop(napi_env env, napi_value obj, const char *key, int *out) {
  napi_value v;
  bool present = false, b = false;
  *out = 0;
  if (get_prop(env, obj, key, &v, &present) < 0) return -1;
  if (!present) return 0;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a boolean", key);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return -1;
  }
  *out = b;
  return 0;
}

static napi_value js_set_subreaper(napi_env env, napi_callback_info info) {
  struct tsshim_error err;
  if (tsshim_reaper_set_subreaper(&err) < 0) return throw_tsshim_error(env, &err);
  return NULL;
}

static napi_value js_pidfd_open(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int32_t pid;
  struct tsshim_error err;
  if (get_args(env, info, 1, argv) < 0 || get_int(env, argv[0], "pid", &pid) < 0) return NULL;
  int fd = tsshim_pidfd_open(pid, &err);
  if (fd < 0) return throw_tsshim_error(env, &err);
  NAPI_TRY(env, napi_create_int32(env, fd, &out));
  return out;
}

static napi_value js_pidfd_send_signal(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t pidfd, sig;
  struct tsshim_error err;
  if (get_args(env, info, 2, argv) < 0 || get_int(env, argv[0], "pidfd", &pidfd) < 0 ||
      get_int(env, argv[1], "signal", &sig) < 0)
    return NULL;
  if (tsshim_pidfd_send_signal(pidfd, sig, &err) < 0) return throw_tsshim_error(env, &err);
  return NULL;
}

static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv) < 0 || get_int(env, argv[0], "fd", &fd) < 0) return NULL;
  if (close(fd) < 0 && errno != EINTR) {
    struct tsshim_error err;
    char detail[24];
    snprintf(detail, sizeof detail, "fd %d", fd);
    tsshim_error_errno(&err, "close", "close", detail, NULL);
    return throw_tsshim_error(env, &err);
  }
  return NULL;
}

static napi_value js_pipe(napi_env env, napi_callback_info info) {
  int fds[2];
  napi_value arr, r, w;
  if (pipe2(fds, O_CLOEXEC) < 0) {
    struct tsshim_error err;
    tsshim_error_errno(&err, "pipe", "pipe2", NULL, NULL);
    return throw_tsshim_error(env, &err);
  }
  if (napi_create_array_with_length(env, 2, &arr) != napi_ok || napi_create_int32(env, fds[0], &r) != napi_ok ||
      napi_create_int32(env, fds[1], &w) != napi_ok || napi_set_element(env, arr, 0, r) != napi_ok ||
      napi_set_element(env, arr, 1, w) != napi_ok) {
    close(fds[0]);
    close(fds[1]);
    throw_last_napi_error(env, "pipe result");
    return NULL;
  }
  return arr;
}

static napi_value js_peer_credentials(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj, v;
  int32_t fd;
  pid_t pid;
  uid_t uid;
  gid_t gid;
  struct tsshim_error err;
  if (get_args(env, info, 1, argv) < 0 || get_int(env, argv[0], "fd", &fd) < 0) return NULL;
  if (tsshim_peercred_get(fd, &pid, &uid, &gid, &err) < 0) return throw_tsshim_error(env, &err);
  NAPI_TRY(env, napi_create_object(env, &obj));
  NAPI_TRY(env, napi_create_int32(env, pid, &v));
  NAPI_TRY(env, napi_set_named_property(env, obj, "pid", v));
  NAPI_TRY(env, napi_create_uint32(env, uid, &v));
  NAPI_TRY(env, napi_set_named_property(env, obj, "uid", v));
  NAPI_TRY(env, napi_create_uint32(env, gid, &v));
  NAPI_TRY(env, napi_set_named_property(env, obj, "gid", v));
  return obj;
}

/* listenUnix(path, backlog) → fd: a 0600 listening socket libuv does not own (unix_listen.c). */
static napi_value js_listen_unix(napi_env env, napi_callback_info info) {
  napi_value argv[2], v;
  int32_t backlog;
  struct tsshim_error err;
  char *path;
  if (get_args(env, info, 2, argv) < 0 || get_int(env, argv[1], "backlog", &backlog) < 0) return NULL;
  if ((path = dup_string(env, argv[0], "path")) == NULL) return NULL;
  int fd = tsshim_unix_listen(path, backlog, &err);
  free(path);
  if (fd < 0) return throw_tsshim_error(env, &err);
  NAPI_TRY(env, napi_create_int32(env, fd, &v));
  return v;
}

/* setProcessTitle(name, argv | null): the thread name and /proc/self/cmdline (proc_title.c). */
static napi_value js_set_process_title(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  napi_valuetype t;
  struct tsshim_error err;
  char *name = NULL;
  char **args = NULL;
  int argc = 0;
  napi_value ret = NULL;
  if (get_args(env, info, 2, argv) < 0) return NULL;
  if ((name = dup_string(env, argv[0], "name")) == NULL) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok) goto out;
  if (t != napi_null && t != napi_undefined) {
    if ((args = dup_strv(env, argv[1], "argv")) == NULL) goto out;
    while (args[argc] != NULL) argc++;
  }
  if (tsshim_proc_set_title(name, args, argc, &err) < 0) {
    throw_tsshim_error(env, &err);
    goto out;
  }
  napi_get_undefined(env, &ret);
out:
  free(name);
  free_strv(args);
  return ret;
}

/* spawn({ file, argv, envp, cwd?, fds, setsid?, newProcessGroup?, legacyFork? }) → { pid, pidfd } */
static napi_value js_spawn(napi_env env, napi_callback_info info) {
  napi_value argv[1], v, out = NULL;
  bool present = false;
  struct tsshim_spawn_opts o;
  struct tsshim_spawn_result res;
  struct tsshim_error err;
  char *file = NULL, *cwd = NULL;
  char **args = NULL, **envp = NULL;
  int *fds = NULL;
  memset(&o, 0, sizeof o);

  if (get_args(env, info, 1, argv) < 0) return NULL;
  napi_valuetype t;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_object) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "spawn options must be an object");
    return NULL;
  }
  napi_value opts = argv[0];
  if (get_prop(env, opts, "file", &v, &present) < 0 || (file = dup_string(env, v, "file")) == NULL) goto done;
  if (get_prop(env, opts, "argv", &v, &present) < 0 || (args = dup_strv(env, v, "argv")) == NULL) goto done;
  if (args[0] == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "argv must not be empty");
    goto done;
  }
  if (get_prop(env, opts, "envp", &v, &present) < 0 || (envp = dup_strv(env, v, "envp")) == NULL) goto done;
  if (get_prop(env, opts, "cwd", &v, &present) < 0) goto done;
  if (present && (cwd = dup_string(env, v, "cwd")) == NULL) goto done;
  if (get_prop(env, opts, "fds", &v, &present) < 0) goto done;
  uint32_t nfds = 0;
  if (present) {
    bool is_array = false;
    if (napi_is_array(env, v, &is_array) != napi_ok || !is_array) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "fds must be an array of numbers");
      goto done;
    }
    napi_get_array_length(env, v, &nfds);
    if (nfds > 1024) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "fds maps at most 1024 descriptors");
      goto done;
    }
    fds = calloc(nfds > 0 ? nfds : 1, sizeof(int));
    if (fds == NULL) goto done;
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value el;
      int32_t fd;
      if (napi_get_element(env, v, i, &el) != napi_ok || get_int(env, el, "fds[i]", &fd) < 0) goto done;
      if (fd < TSSHIM_SPAWN_FD_DEVNULL) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "fds entries are fds or -1 for /dev/null");
        goto done;
      }
      fds[i] = fd;
    }
  }
  if (get_bool_prop(env, opts, "setsid", &o.setsid) < 0) goto done;
  if (get_bool_prop(env, opts, "newProcessGroup", &o.new_pgroup) < 0) goto done;
  if (get_bool_prop(env, opts, "legacyFork", &o.legacy_fork) < 0) goto done;

  o.file = file;
  o.argv = args;
  o.envp = envp;
  o.cwd = cwd;
  o.fds = fds;
  o.nfds = (int)nfds;
  if (tsshim_proc_spawn(&o, &res, &err) < 0) {
    throw_tsshim_error(env, &err);
    goto done;
  }
  napi_value jpid, jpidfd;
  if (napi_create_object(env, &out) != napi_ok || napi_create_int32(env, res.pid, &jpid) != napi_ok ||
      napi_create_int32(env, res.pidfd, &jpidfd) != napi_ok ||
      napi_set_named_property(env, out, "pid", jpid) != napi_ok ||
      napi_set_named_property(env, out, "pidfd", jpidfd) != napi_ok) {
    /* The process runs; only the result object failed. Keep the fd from leaking. */
    if (res.pidfd >= 0) close(res.pidfd);
    throw_last_napi_error(env, "spawn result");
    out = NULL;
  }
done:
  free(file);
  free(cwd);
  free_strv(args);
  free_strv(envp);
  free(fds);
  return out;
}

/* ---- the reaper in the libuv loop ---- */

static struct {
  int started;
  int refd;
  napi_env env;
  uv_signal_t sigchld;
  napi_ref callback;
  napi_ref resource;
  napi_async_context async;
} reaper;

struct collect_ctx {
  napi_env env;
  napi_value array;
  uint32_t n;
  int failed;
};

static void collect_exit(const struct tsshim_exit *e, void *opaque) {
  struct collect_ctx *c = opaque;
  napi_env env = c->env;
  napi_value obj, v;
  if (c->failed) return;
  /* The exit is reaped already: losing it here would lose it for good, so any napi
   * failure is remembered and surfaced as an error to the callback. */
  if (napi_create_object(env, &obj) != napi_ok) goto fail;
  if (napi_create_int32(env, e->pid, &v) != napi_ok || napi_set_named_property(env, obj, "pid", v) != napi_ok) goto fail;
  if (e->signal == 0) {
    if (napi_create_int32(env, e->code, &v) != napi_ok) goto fail;
  } else if (napi_get_null(env, &v) != napi_ok) {
    goto fail;
  }
  if (napi_set_named_property(env, obj, "code", v) != napi_ok) goto fail;
  if (e->signal != 0) {
    if (napi_create_int32(env, e->signal, &v) != napi_ok) goto fail;
  } else if (napi_get_null(env, &v) != napi_ok) {
    goto fail;
  }
  if (napi_set_named_property(env, obj, "signal", v) != napi_ok) goto fail;
  if (napi_create_int32(env, e->status, &v) != napi_ok || napi_set_named_property(env, obj, "status", v) != napi_ok)
    goto fail;
  if (napi_get_boolean(env, e->core_dumped != 0, &v) != napi_ok ||
      napi_set_named_property(env, obj, "coreDumped", v) != napi_ok)
    goto fail;
  if (napi_create_bigint_int64(env, e->exited_at_ns, &v) != napi_ok ||
      napi_set_named_property(env, obj, "exitedAt", v) != napi_ok)
    goto fail;
  if (napi_set_element(env, c->array, c->n, obj) != napi_ok) goto fail;
  c->n++;
  return;
fail:
  c->failed = 1;
}

/* Drains into a fresh array; *error is set (or undefined) for a failed drain. */
static int drain_to_array(napi_env env, napi_value *array, napi_value *error) {
  struct collect_ctx c = {env, NULL, 0, 0};
  struct tsshim_error err;
  if (napi_create_array(env, &c.array) != napi_ok) return -1;
  napi_get_undefined(env, error);
  if (tsshim_reaper_drain(collect_exit, &c, &err) < 0) {
    napi_value e = make_tsshim_error(env, &err);
    if (e != NULL) *error = e;
  }
  if (c.failed) {
    napi_value code, msg;
    napi_create_string_utf8(env, "ERR_TSSHIM_REAPER", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, "reaper could not record an exit status", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, error);
  }
  *array = c.array;
  return 0;
}

static void reaper_on_sigchld(uv_signal_t *handle, int signum) {
  napi_env env = reaper.env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[2], cb, resource, result;
  uint32_t n = 0;
  if (drain_to_array(env, &argv[0], &argv[1]) == 0) {
    napi_valuetype t;
    napi_get_array_length(env, argv[0], &n);
    napi_typeof(env, argv[1], &t);
    if ((n > 0 || t != napi_undefined) && napi_get_reference_value(env, reaper.callback, &cb) == napi_ok &&
        napi_get_reference_value(env, reaper.resource, &resource) == napi_ok) {
      /* make_callback runs the microtask and nextTick queues, so promises settled by
       * the callback resolve before the loop moves on. */
      if (napi_make_callback(env, reaper.async, resource, cb, 2, argv, &result) == napi_pending_exception) {
        napi_value exc;
        if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

static void reaper_cleanup(void *arg) {
  if (!reaper.started) return;
  uv_signal_stop(&reaper.sigchld);
  uv_close((uv_handle_t *)&reaper.sigchld, NULL);
  napi_async_destroy(reaper.env, reaper.async);
  napi_delete_reference(reaper.env, reaper.callback);
  napi_delete_reference(reaper.env, reaper.resource);
  reaper.started = 0;
}

/* reaperStart(callback(exits, error?)): one reaper per process. */
static napi_value js_reaper_start(napi_env env, napi_callback_info info) {
  napi_value argv[1], resource, name;
  napi_valuetype t;
  uv_loop_t *loop;
  if (get_args(env, info, 1, argv) < 0) return NULL;
  if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "reaper callback must be a function");
    return NULL;
  }
  if (reaper.started) {
    napi_throw_error(env, "ERR_TSSHIM_REAPER", "the reaper already runs in this process");
    return NULL;
  }
  NAPI_TRY(env, napi_get_uv_event_loop(env, &loop));
  NAPI_TRY(env, napi_create_object(env, &resource));
  NAPI_TRY(env, napi_create_string_utf8(env, "tsshim.reaper", NAPI_AUTO_LENGTH, &name));
  NAPI_TRY(env, napi_async_init(env, resource, name, &reaper.async));
  NAPI_TRY(env, napi_create_reference(env, argv[0], 1, &reaper.callback));
  NAPI_TRY(env, napi_create_reference(env, resource, 1, &reaper.resource));
  int rc = uv_signal_init(loop, &reaper.sigchld);
  if (rc == 0) rc = uv_signal_start(&reaper.sigchld, reaper_on_sigchld, SIGCHLD);
  if (rc != 0) {
    struct tsshim_error err;
    tsshim_error_set(&err, -rc, "reaper", "uv_signal_start", "SIGCHLD", NULL);
    return throw_tsshim_error(env, &err);
  }
  /* Idle until something is watched: a process with nothing to wait for may exit. */
  uv_unref((uv_handle_t *)&reaper.sigchld);
  reaper.refd = 0;
  reaper.env = env;
  reaper.started = 1;
  NAPI_TRY(env, napi_add_env_cleanup_hook(env, reaper_cleanup, NULL));
  return NULL;
}

/* reaperDrain() → exits reaped now (the ones that exited before the reaper started). */
static napi_value js_reaper_drain(napi_env env, napi_callback_info info) {
  napi_value array, error;
  if (drain_to_array(env, &array, &error) < 0) {
    throw_last_napi_error(env, "reaper drain");
    return NULL;
  }
  napi_valuetype t;
  napi_typeof(env, error, &t);
  if (t != napi_undefined) {
    /* Exits already in the array are gone from the kernel: deliver them with the error. */
    napi_set_named_property(env, error, "exits", array);
    napi_throw(env, error);
    return NULL;
  }
  return array;
}

/* reaperRef(true|false): keep the loop alive while the shim waits for a watched pid. */
static napi_value js_reaper_ref(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool on = false;
  if (get_args(env, info, 1, argv) < 0 || napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "reaperRef takes a boolean");
    return NULL;
  }
  if (!reaper.started) {
    napi_throw_error(env, "ERR_TSSHIM_REAPER", "the reaper is not started");
    return NULL;
  }
  if (on && !reaper.refd) uv_ref((uv_handle_t *)&reaper.sigchld);
  if (!on && reaper.refd) uv_unref((uv_handle_t *)&reaper.sigchld);
  reaper.refd = on;
  return NULL;
}

/* forkDetached() → the new shim's pid here, 0 in the new shim (fork_detached.h). */
static napi_value js_fork_detached(napi_env env, napi_callback_info info) {
  uv_loop_t *loop;
  struct tsshim_error err;
  pid_t child = 0;
  napi_value ret;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, "ERR_TSSHIM_FORK", "no libuv loop to re-arm in a forked spare");
    return NULL;
  }
  int rc = tsshim_fork_detached(loop, &child, &err);
  if (rc < 0) {
    throw_tsshim_error(env, &err);
    return NULL;
  }
  napi_create_int32(env, rc == 1 ? 0 : child, &ret);
  return ret;
}

napi_status tsshim_napi_proc_init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"setSubreaper", NULL, js_set_subreaper, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdOpen", NULL, js_pidfd_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pidfdSendSignal", NULL, js_pidfd_send_signal, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spawn", NULL, js_spawn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pipe", NULL, js_pipe, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerCredentials", NULL, js_peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setProcessTitle", NULL, js_set_process_title, NULL, NULL, NULL, napi_enumerable, NULL},
      {"forkDetached", NULL, js_fork_detached, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listenUnix", NULL, js_listen_unix, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reaperStart", NULL, js_reaper_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reaperDrain", NULL, js_reaper_drain, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reaperRef", NULL, js_reaper_ref, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
