/* Node-API glue for cgroups: v1 OOM notifications watched in the libuv loop, the v2
 * device program's bpf(2) attach/detach, and directory creation, placement and removal
 * for every hierarchy in one call each.
 *
 * Exports: cgroupOomWatch(memoryDir, callback) -> handle, cgroupOomUnwatch(handle),
 * cgroupBpfReplace(cgroupDir, insns: Uint8Array) -> old programs detached,
 * cgroupBpfCount(cgroupDir) -> device programs attached,
 * cgroupMkdirs(dirs, cpuset: boolean[]) -> directories made (outermost first),
 * cgroupPrepareAsync(dirs, cpuset, files) -> Promise<{made, fds}>: the same mkdirs, then the
 *   files opened write-only, on a libuv pool thread (the fds belong to the caller),
 * cgroupEnter(procsFiles, pid), cgroupRmdirs(dirs) -> errno per dir (0: gone). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cgroup_bpf.h"
#include "cgroup_events.h"
#include "cgroup_place.h"
#include "napi_util.h"

struct oom_watch {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int fd;
  int closed;
};

static void oom_closed(uv_handle_t *h) {
  struct oom_watch *w = (struct oom_watch *)h->data;
  close(w->fd);
  free(w);
}

/* Called in the loop thread: drain the counter and tell JS how many events came. */
static void oom_readable(uv_poll_t *p, int status, int events) {
  (void)events;
  struct oom_watch *w = (struct oom_watch *)p->data;
  uint64_t count = 0;
  if (status == 0 && read(w->fd, &count, sizeof count) != (ssize_t)sizeof count) {
    if (errno == EAGAIN) return;
    count = 0;
  }
  napi_handle_scope scope;
  if (napi_open_handle_scope(w->env, &scope) != napi_ok) return;
  napi_value cb, global, arg, result;
  if (napi_get_reference_value(w->env, w->callback, &cb) == napi_ok && cb != NULL &&
      napi_get_global(w->env, &global) == napi_ok &&
      napi_create_double(w->env, (double)count, &arg) == napi_ok) {
    /* make_callback (not call_function): the callback's promises and nextTicks run after it,
     * as for any libuv-driven callback in Node. */
    napi_status s = napi_make_callback(w->env, w->async, global, cb, 1, &arg, &result);
    if (s == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(w->env, &exc);
      napi_fatal_exception(w->env, exc);
    }
  }
  napi_close_handle_scope(w->env, scope);
}

static void oom_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
  /* The watch is freed by uv_close; an unwatched handle that is collected stays open by design. */
}

static napi_value oom_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    return tsshim_napi_throw_type(env, "cgroupOomWatch(memoryDir, callback)");
  }
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function) return tsshim_napi_throw_type(env, "callback must be a function");
  char *dir = tsshim_napi_string(env, argv[0]);
  if (dir == NULL) return tsshim_napi_throw_type(env, "memoryDir must be a string");
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  int fd = tsshim_cgroup_oom_eventfd(dir, &err);
  free(dir);
  if (fd < 0) {
    tsshim_napi_throw(env, &err);
    return NULL;
  }
  uv_loop_t *loop = NULL;
  struct oom_watch *w = calloc(1, sizeof *w);
  if (w == NULL || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &w->poll, fd) != 0) {
    free(w);
    close(fd);
    napi_throw_error(env, "ERR_TSSHIM_NATIVE", "cgroupOomWatch: cannot watch the eventfd");
    return NULL;
  }
  w->env = env;
  w->fd = fd;
  w->poll.data = w;
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_value resource_name;
  napi_create_string_utf8(env, "tsshim:cgroupOomWatch", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &w->async);
  uv_poll_start(&w->poll, UV_READABLE, oom_readable);
  /* The shim lives for its server, not for this watch. */
  uv_unref((uv_handle_t *)&w->poll);
  napi_value handle;
  if (napi_create_external(env, w, oom_finalize, NULL, &handle) != napi_ok) return NULL;
  return handle;
}

static napi_value oom_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  struct oom_watch *w = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, argv[0], (void **)&w) != napi_ok || w == NULL) {
    return tsshim_napi_throw_type(env, "cgroupOomUnwatch(handle)");
  }
  if (!w->closed) {
    w->closed = 1;
    napi_delete_reference(env, w->callback);
    w->callback = NULL;
    napi_async_destroy(env, w->async);
    w->async = NULL;
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, oom_closed);
  }
  return NULL;
}

static napi_value bpf_replace(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    return tsshim_napi_throw_type(env, "cgroupBpfReplace(cgroupDir, insns)");
  }
  bool is_typed = false;
  napi_is_typedarray(env, argv[1], &is_typed);
  if (!is_typed) return tsshim_napi_throw_type(env, "insns must be a Uint8Array");
  napi_typedarray_type tt;
  size_t length = 0;
  void *data = NULL;
  napi_value ab;
  size_t off = 0;
  if (napi_get_typedarray_info(env, argv[1], &tt, &length, &data, &ab, &off) != napi_ok || tt != napi_uint8_array ||
      length == 0 || length % 8 != 0) {
    return tsshim_napi_throw_type(env, "insns must be a non-empty Uint8Array of 8-byte instructions");
  }
  char *dir = tsshim_napi_string(env, argv[0]);
  if (dir == NULL) return tsshim_napi_throw_type(env, "cgroupDir must be a string");
  /* Copy into aligned memory: the typed array may start at any offset. */
  uint64_t *insns = malloc(length);
  if (insns == NULL) {
    free(dir);
    napi_throw_error(env, "ERR_TSSHIM_NATIVE", "cgroupBpfReplace: out of memory");
    return NULL;
  }
  memcpy(insns, data, length);
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  int detached = tsshim_cgroup_bpf_replace(dir, insns, length / 8, &err);
  free(insns);
  free(dir);
  if (detached < 0) {
    tsshim_napi_throw(env, &err);
    return NULL;
  }
  napi_value out;
  napi_create_int32(env, detached, &out);
  return out;
}

static napi_value bpf_count(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    return tsshim_napi_throw_type(env, "cgroupBpfCount(cgroupDir)");
  }
  char *dir = tsshim_napi_string(env, argv[0]);
  if (dir == NULL) return tsshim_napi_throw_type(env, "cgroupDir must be a string");
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  int n = tsshim_cgroup_bpf_count(dir, &err);
  free(dir);
  if (n < 0) {
    tsshim_napi_throw(env, &err);
    return NULL;
  }
  napi_value out;
  napi_create_int32(env, n, &out);
  return out;
}

/* A JS string[] as a malloc'd array of malloc'd strings; NULL (with *n = 0) when it is not. */
static char **string_list(napi_env env, napi_value arr, size_t *n) {
  bool is_array = false;
  uint32_t len = 0;
  *n = 0;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array || napi_get_array_length(env, arr, &len) != napi_ok)
    return NULL;
  char **out = calloc(len ? len : 1, sizeof *out);
  if (out == NULL) return NULL;
  for (uint32_t i = 0; i < len; i++) {
    napi_value v;
    if (napi_get_element(env, arr, i, &v) != napi_ok || (out[i] = tsshim_napi_string(env, v)) == NULL) {
      for (uint32_t j = 0; j < i; j++) free(out[j]);
      free(out);
      return NULL;
    }
  }
  *n = len;
  return out;
}

static void string_list_free(char **list, size_t n) {
  if (list == NULL) return;
  for (size_t i = 0; i < n; i++) free(list[i]);
  free(list);
}

static napi_value cg_mkdirs(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
    return tsshim_napi_throw_type(env, "cgroupMkdirs(dirs, cpuset)");
  size_t n = 0;
  char **dirs = string_list(env, argv[0], &n);
  if (dirs == NULL) return tsshim_napi_throw_type(env, "dirs must be an array of strings");
  int *cpuset = calloc(n ? n : 1, sizeof *cpuset);
  uint32_t flags_len = 0;
  if (cpuset == NULL || napi_get_array_length(env, argv[1], &flags_len) != napi_ok || flags_len != n) {
    free(cpuset);
    string_list_free(dirs, n);
    return tsshim_napi_throw_type(env, "cpuset must be a boolean[] as long as dirs");
  }
  for (uint32_t i = 0; i < flags_len; i++) {
    napi_value v;
    bool b = false;
    if (napi_get_element(env, argv[1], i, &v) == napi_ok) napi_get_value_bool(env, v, &b);
    cpuset[i] = b;
  }
  struct tsshim_cgroup_made made = {0};
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  int rc = tsshim_cgroup_mkdirs((const char *const *)dirs, cpuset, n, &made, &err);
  free(cpuset);
  string_list_free(dirs, n);
  if (rc < 0) {
    tsshim_napi_throw(env, &err);
    return NULL;
  }
  napi_value out = NULL;
  if (napi_create_array_with_length(env, made.n, &out) == napi_ok) {
    for (size_t i = 0; i < made.n; i++) {
      napi_value s;
      if (napi_create_string_utf8(env, made.dirs[i], NAPI_AUTO_LENGTH, &s) == napi_ok)
        napi_set_element(env, out, (uint32_t)i, s);
    }
  }
  tsshim_cgroup_made_free(&made);
  return out;
}

/* On the libuv pool: make the directories still missing, then open the v1 tasks files a new
 * process joins (the fds go with its "mapped"), while the caller clones that process. */
struct prepare_work {
  napi_async_work work;
  napi_deferred deferred;
  char **dirs, **files;
  int *cpuset, *fds;
  size_t n_dirs, n_files;
  struct tsshim_cgroup_made made;
  struct tsshim_error err;
  int rc;
};

static void prepare_free(struct prepare_work *w) {
  tsshim_cgroup_made_free(&w->made);
  string_list_free(w->dirs, w->n_dirs);
  string_list_free(w->files, w->n_files);
  free(w->cpuset);
  free(w->fds);
  free(w);
}

static void prepare_execute(napi_env env, void *data) {
  (void)env;
  struct prepare_work *w = data;
  w->rc = tsshim_cgroup_mkdirs((const char *const *)w->dirs, w->cpuset, w->n_dirs, &w->made, &w->err);
  if (w->rc == 0 && tsshim_cgroup_open_all((const char *const *)w->files, w->n_files, w->fds, &w->err) < 0) {
    /* Nothing stays behind a failure: the directories this call made go too. */
    for (size_t i = w->made.n; i-- > 0;) rmdir(w->made.dirs[i]);
    w->rc = -1;
  }
}

static void prepare_complete(napi_env env, napi_status status, void *data) {
  struct prepare_work *w = data;
  if (status != napi_ok && w->rc == 0) {
    /* Cancelled before it ran: nothing was made or opened. */
    w->rc = -1;
    tsshim_error_set(&w->err, ECANCELED, "cgroup create", "mkdir", NULL, NULL);
  }
  napi_value out = NULL, made = NULL, fds = NULL;
  if (w->rc == 0 && napi_create_object(env, &out) == napi_ok &&
      napi_create_array_with_length(env, w->made.n, &made) == napi_ok &&
      napi_create_array_with_length(env, w->n_files, &fds) == napi_ok) {
    for (size_t i = 0; i < w->made.n; i++) {
      napi_value v;
      if (napi_create_string_utf8(env, w->made.dirs[i], NAPI_AUTO_LENGTH, &v) == napi_ok)
        napi_set_element(env, made, (uint32_t)i, v);
    }
    for (size_t i = 0; i < w->n_files; i++) {
      napi_value v;
      if (napi_create_int32(env, w->fds[i], &v) == napi_ok) napi_set_element(env, fds, (uint32_t)i, v);
    }
    napi_set_named_property(env, out, "made", made);
    napi_set_named_property(env, out, "fds", fds);
    napi_resolve_deferred(env, w->deferred, out);
  } else {
    if (w->rc == 0) {
      /* No result to hand over: undo like any failure. */
      for (size_t i = 0; i < w->n_files; i++) close(w->fds[i]);
      for (size_t i = w->made.n; i-- > 0;) rmdir(w->made.dirs[i]);
      tsshim_error_set(&w->err, ENOMEM, "cgroup create", "", "result", NULL);
    }
    napi_reject_deferred(env, w->deferred, tsshim_napi_error_value(env, &w->err));
  }
  napi_delete_async_work(env, w->work);
  prepare_free(w);
}

static napi_value cg_prepare_async(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
    return tsshim_napi_throw_type(env, "cgroupPrepareAsync(dirs, cpuset, files)");
  struct prepare_work *w = calloc(1, sizeof *w);
  if (w == NULL) {
    napi_throw_error(env, "ERR_TSSHIM_NATIVE", "cgroupPrepareAsync: out of memory");
    return NULL;
  }
  w->dirs = string_list(env, argv[0], &w->n_dirs);
  w->files = string_list(env, argv[2], &w->n_files);
  uint32_t flags_len = 0;
  w->cpuset = calloc(w->n_dirs ? w->n_dirs : 1, sizeof *w->cpuset);
  w->fds = calloc(w->n_files ? w->n_files : 1, sizeof *w->fds);
  if (w->dirs == NULL || w->files == NULL || w->cpuset == NULL || w->fds == NULL ||
      napi_get_array_length(env, argv[1], &flags_len) != napi_ok || flags_len != w->n_dirs) {
    prepare_free(w);
    return tsshim_napi_throw_type(env, "dirs and files must be string[] and cpuset a boolean[] as long as dirs");
  }
  for (uint32_t i = 0; i < flags_len; i++) {
    napi_value v;
    bool b = false;
    if (napi_get_element(env, argv[1], i, &v) == napi_ok) napi_get_value_bool(env, v, &b);
    w->cpuset[i] = b;
  }
  napi_value promise, name;
  napi_create_string_utf8(env, "tsshim:cgroupPrepare", NAPI_AUTO_LENGTH, &name);
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_async_work(env, NULL, name, prepare_execute, prepare_complete, w, &w->work) != napi_ok ||
      napi_queue_async_work(env, w->work) != napi_ok) {
    prepare_free(w);
    napi_throw_error(env, "ERR_TSSHIM_NATIVE", "cgroupPrepareAsync: cannot queue the work");
    return NULL;
  }
  return promise;
}

static napi_value cg_enter(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t pid = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[1], &pid) != napi_ok || pid <= 0)
    return tsshim_napi_throw_type(env, "cgroupEnter(procsFiles, pid)");
  size_t n = 0;
  char **files = string_list(env, argv[0], &n);
  if (files == NULL) return tsshim_napi_throw_type(env, "procsFiles must be an array of strings");
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  int rc = tsshim_cgroup_enter((const char *const *)files, n, pid, &err);
  string_list_free(files, n);
  if (rc < 0) tsshim_napi_throw(env, &err);
  return NULL;
}

static napi_value cg_rmdirs(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1)
    return tsshim_napi_throw_type(env, "cgroupRmdirs(dirs)");
  size_t n = 0;
  char **dirs = string_list(env, argv[0], &n);
  if (dirs == NULL) return tsshim_napi_throw_type(env, "dirs must be an array of strings");
  int *errnos = calloc(n ? n : 1, sizeof *errnos);
  if (errnos == NULL) {
    string_list_free(dirs, n);
    napi_throw_error(env, "ERR_TSSHIM_NATIVE", "cgroupRmdirs: out of memory");
    return NULL;
  }
  tsshim_cgroup_rmdirs((const char *const *)dirs, n, errnos);
  string_list_free(dirs, n);
  napi_value out = NULL;
  if (napi_create_array_with_length(env, n, &out) == napi_ok) {
    for (size_t i = 0; i < n; i++) {
      napi_value v;
      if (napi_create_int32(env, errnos[i], &v) == napi_ok) napi_set_element(env, out, (uint32_t)i, v);
    }
  }
  free(errnos);
  return out;
}

napi_status tsshim_napi_cgroup_init(napi_env env, napi_value exports) {
  const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"cgroupOomWatch", oom_watch},
             {"cgroupOomUnwatch", oom_unwatch},
             {"cgroupBpfReplace", bpf_replace},
             {"cgroupBpfCount", bpf_count},
             {"cgroupMkdirs", cg_mkdirs},
             {"cgroupPrepareAsync", cg_prepare_async},
             {"cgroupEnter", cg_enter},
             {"cgroupRmdirs", cg_rmdirs}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_status s = napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    if (s != napi_ok) return s;
    s = napi_set_named_property(env, exports, fns[i].name, f);
    if (s != napi_ok) return s;
  }
  return napi_ok;
}
