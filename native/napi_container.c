/* Node-API glue of the container core: JS plan → struct tsshim_container_plan,
 * spawn, the sync channel (async recv on the libuv pool), pidfd signals.
 * The only file of the container core that touches napi_*. */
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "container_sync.h"
#include "napi_rootfs.h"

/* The rootfs converter (napi_rootfs.c) is weak: without it the plan's rootfs is
 * ignored and the child uses its minimal built-in bind + pivot_root. */
#pragma weak tsshim_napi_rootfs_plan_from_js
#pragma weak tsshim_rootfs_plan_free

/* Every allocation of one conversion, freed together. */
struct arena {
  void **ptrs;
  size_t n, cap;
};

static void *arena_alloc(struct arena *a, size_t size) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 32;
    void **p = realloc(a->ptrs, cap * sizeof *p);
    if (p == NULL) return NULL;
    a->ptrs = p;
    a->cap = cap;
  }
  void *m = calloc(1, size ? size : 1);
  if (m != NULL) a->ptrs[a->n++] = m;
  return m;
}

static void arena_free(struct arena *a) {
  for (size_t i = 0; i < a->n; i++) free(a->ptrs[i]);
  free(a->ptrs);
}

#define CHECK(call)                    \
  do {                                 \
    if ((call) != napi_ok) return -1; \
  } while (0)

static int throw_type(napi_env env, const char *what) {
  napi_throw_type_error(env, "ERR_TSSHIM_PLAN", what);
  return -1;
}

static int get(napi_env env, napi_value obj, const char *key, napi_value *out, napi_valuetype *type) {
  CHECK(napi_get_named_property(env, obj, key, out));
  CHECK(napi_typeof(env, *out, type));
  return 0;
}

static int get_i64(napi_env env, napi_value obj, const char *key, int64_t *out) {
  napi_value v;
  napi_valuetype t;
  if (get(env, obj, key, &v, &t) < 0) return -1;
  if (t != napi_number) return throw_type(env, key);
  CHECK(napi_get_value_int64(env, v, out));
  return 0;
}

static int get_bool(napi_env env, napi_value obj, const char *key, int *out) {
  napi_value v;
  napi_valuetype t;
  if (get(env, obj, key, &v, &t) < 0) return -1;
  bool b = false;
  if (t == napi_boolean) CHECK(napi_get_value_bool(env, v, &b));
  else if (t != napi_undefined) return throw_type(env, key);
  *out = b;
  return 0;
}

static int get_u64(napi_env env, napi_value obj, const char *key, uint64_t *out) {
  napi_value v;
  napi_valuetype t;
  if (get(env, obj, key, &v, &t) < 0) return -1;
  if (t == napi_bigint) {
    bool lossless;
    CHECK(napi_get_value_bigint_uint64(env, v, out, &lossless));
    return 0;
  }
  if (t == napi_number) {
    int64_t i;
    CHECK(napi_get_value_int64(env, v, &i));
    *out = (uint64_t)i;
    return 0;
  }
  return throw_type(env, key);
}

static char *to_cstr(napi_env env, struct arena *a, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = arena_alloc(a, len + 1);
  if (s == NULL) return NULL;
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) return NULL;
  return s;
}

/* NULL for null/undefined; *ok = 0 on a wrong type or failure. */
static const char *get_str(napi_env env, struct arena *a, napi_value obj, const char *key, int *ok) {
  napi_value v;
  napi_valuetype t;
  *ok = 0;
  if (get(env, obj, key, &v, &t) < 0) return NULL;
  if (t == napi_null || t == napi_undefined) {
    *ok = 1;
    return NULL;
  }
  if (t != napi_string) {
    throw_type(env, key);
    return NULL;
  }
  char *s = to_cstr(env, a, v);
  *ok = s != NULL;
  return s;
}

static int get_array(napi_env env, napi_value obj, const char *key, napi_value *arr, uint32_t *len) {
  napi_valuetype t;
  if (get(env, obj, key, arr, &t) < 0) return -1;
  bool is;
  CHECK(napi_is_array(env, *arr, &is));
  if (!is) return throw_type(env, key);
  CHECK(napi_get_array_length(env, *arr, len));
  return 0;
}

static char **get_str_array(napi_env env, struct arena *a, napi_value obj, const char *key) {
  napi_value arr;
  uint32_t len;
  if (get_array(env, obj, key, &arr, &len) < 0) return NULL;
  char **out = arena_alloc(a, (len + 1) * sizeof(char *));
  if (out == NULL) return NULL;
  for (uint32_t i = 0; i < len; i++) {
    napi_value e;
    if (napi_get_element(env, arr, i, &e) != napi_ok) return NULL;
    out[i] = to_cstr(env, a, e);
    if (out[i] == NULL) return NULL;
  }
  return out;
}

static int process_from_js(napi_env env, struct arena *a, napi_value js, struct tsshim_process_plan *p) {
  int ok;
  int64_t i;
  p->argv = get_str_array(env, a, js, "args");
  p->envp = get_str_array(env, a, js, "env");
  if (p->argv == NULL || p->envp == NULL || p->argv[0] == NULL) return throw_type(env, "args");
  p->search_path = get_str(env, a, js, "searchPath", &ok);
  if (!ok || p->search_path == NULL) return throw_type(env, "searchPath");
  p->cwd = get_str(env, a, js, "cwd", &ok);
  if (!ok || p->cwd == NULL) return throw_type(env, "cwd");
  if (get_bool(env, js, "terminal", &p->terminal) < 0) return -1;
  if (get_i64(env, js, "rows", &i) < 0) return -1;
  p->rows = (unsigned short)i;
  if (get_i64(env, js, "cols", &i) < 0) return -1;
  p->cols = (unsigned short)i;
  napi_value arr;
  uint32_t len;
  if (get_array(env, js, "stdio", &arr, &len) < 0 || len != 3) return throw_type(env, "stdio");
  for (uint32_t k = 0; k < 3; k++) {
    napi_value e;
    int32_t fd;
    CHECK(napi_get_element(env, arr, k, &e));
    CHECK(napi_get_value_int32(env, e, &fd));
    p->stdio[k] = fd;
  }
  if (get_array(env, js, "preserveFds", &arr, &len) < 0) return -1;
  if (len > TSSHIM_MAX_EXTRA_FDS) return throw_type(env, "preserveFds");
  int *extra = arena_alloc(a, (len + 1) * sizeof(int));
  if (extra == NULL) return -1;
  for (uint32_t k = 0; k < len; k++) {
    napi_value e;
    CHECK(napi_get_element(env, arr, k, &e));
    CHECK(napi_get_value_int32(env, e, &extra[k]));
  }
  p->extra_fds = extra;
  p->n_extra_fds = len;
  if (get_i64(env, js, "uid", &i) < 0) return -1;
  p->uid = (uint32_t)i;
  if (get_i64(env, js, "gid", &i) < 0) return -1;
  p->gid = (uint32_t)i;
  if (get_array(env, js, "groups", &arr, &len) < 0) return -1;
  uint32_t *groups = arena_alloc(a, (len + 1) * sizeof(uint32_t));
  if (groups == NULL) return -1;
  for (uint32_t k = 0; k < len; k++) {
    napi_value e;
    CHECK(napi_get_element(env, arr, k, &e));
    CHECK(napi_get_value_uint32(env, e, &groups[k]));
  }
  p->groups = groups;
  p->n_groups = len;
  if (get_i64(env, js, "umask", &i) < 0) return -1;
  p->umask = (int)i;
  if (get_bool(env, js, "noNewPrivs", &p->no_new_privs) < 0) return -1;
  if (get_i64(env, js, "personality", &i) < 0) return -1;
  p->personality = (long)i;
  if (get_i64(env, js, "ioprio", &i) < 0) return -1;
  p->ioprio = (int)i;

  napi_value caps;
  napi_valuetype t;
  if (get(env, js, "caps", &caps, &t) < 0) return -1;
  if (t == napi_object) {
    p->caps.set = 1;
    if (get_i64(env, js, "lastCap", &i) < 0) return -1;
    p->caps.last_cap = (int)i;
    if (get_u64(env, caps, "bounding", &p->caps.bounding) < 0 ||
        get_u64(env, caps, "effective", &p->caps.effective) < 0 ||
        get_u64(env, caps, "permitted", &p->caps.permitted) < 0 ||
        get_u64(env, caps, "inheritable", &p->caps.inheritable) < 0 ||
        get_u64(env, caps, "ambient", &p->caps.ambient) < 0)
      return -1;
  }

  if (get_array(env, js, "rlimits", &arr, &len) < 0) return -1;
  struct tsshim_rlimit *rl = arena_alloc(a, (len + 1) * sizeof *rl);
  if (rl == NULL) return -1;
  for (uint32_t k = 0; k < len; k++) {
    napi_value e;
    CHECK(napi_get_element(env, arr, k, &e));
    if (get_i64(env, e, "type", &i) < 0) return -1;
    rl[k].resource = (int)i;
    if (get_u64(env, e, "soft", &rl[k].soft) < 0 || get_u64(env, e, "hard", &rl[k].hard) < 0) return -1;
  }
  p->rlimits = rl;
  p->n_rlimits = len;

  napi_value sched;
  if (get(env, js, "sched", &sched, &t) < 0) return -1;
  if (t == napi_object) {
    p->sched_set = 1;
    p->sched.size = sizeof p->sched;
    uint64_t u;
    if (get_u64(env, sched, "policy", &u) < 0) return -1;
    p->sched.sched_policy = (uint32_t)u;
    if (get_i64(env, sched, "nice", &i) < 0) return -1;
    p->sched.sched_nice = (int32_t)i;
    if (get_u64(env, sched, "priority", &u) < 0) return -1;
    p->sched.sched_priority = (uint32_t)u;
    if (get_u64(env, sched, "flags", &p->sched.sched_flags) < 0 ||
        get_u64(env, sched, "runtime", &p->sched.sched_runtime) < 0 ||
        get_u64(env, sched, "deadline", &p->sched.sched_deadline) < 0 ||
        get_u64(env, sched, "period", &p->sched.sched_period) < 0)
      return -1;
  }

  napi_value sec;
  if (get(env, js, "seccomp", &sec, &t) < 0) return -1;
  if (t == napi_object) {
    bool is;
    CHECK(napi_is_typedarray(env, sec, &is));
    if (!is) return throw_type(env, "seccomp");
    napi_typedarray_type tt;
    size_t n;
    void *data;
    CHECK(napi_get_typedarray_info(env, sec, &tt, &n, &data, NULL, NULL));
    if (tt != napi_uint8_array || n == 0 || n % 8 != 0) return throw_type(env, "seccomp");
    unsigned char *copy = arena_alloc(a, n);
    if (copy == NULL) return -1;
    memcpy(copy, data, n);
    p->seccomp = copy;
    p->seccomp_len = n;
    if (get_i64(env, js, "seccompFlags", &i) < 0) return -1;
    p->seccomp_flags = (unsigned int)i;
  }
  return 0;
}

struct plan_holder {
  struct arena arena;
  struct tsshim_container_plan plan;
  struct tsshim_rootfs_plan *rootfs;
};

static void holder_release(struct plan_holder *h) {
  for (size_t i = 0; i < h->plan.n_joins; i++)
    if (h->plan.joins[i].fd >= 0) close(h->plan.joins[i].fd);
  if (h->plan.cgroup_fd >= 0) close(h->plan.cgroup_fd);
  if (h->plan.proc.dev_null_fd >= 0) close(h->plan.proc.dev_null_fd);
  if (h->rootfs != NULL && tsshim_rootfs_plan_free != NULL) tsshim_rootfs_plan_free(h->rootfs);
  arena_free(&h->arena);
}

static int plan_from_js(napi_env env, napi_value js, struct plan_holder *h) {
  struct tsshim_container_plan *plan = &h->plan;
  struct arena *a = &h->arena;
  int ok;
  int64_t i;
  plan->cgroup_fd = -1;
  plan->proc.dev_null_fd = -1;
  if (get_i64(env, js, "cloneFlags", &i) < 0) return -1;
  plan->clone_flags = (uint64_t)i;
  if (get_bool(env, js, "newUser", &plan->new_user) < 0) return -1;
  if (get_bool(env, js, "newTime", &plan->new_time) < 0) return -1;
  if (get_bool(env, js, "newCgroupLate", &plan->new_cgroup_late) < 0) return -1;
  plan->time_offsets = get_str(env, a, js, "timeOffsets", &ok);
  if (!ok) return -1;
  plan->time_offsets_len = plan->time_offsets ? strlen(plan->time_offsets) : 0;
  plan->hostname = get_str(env, a, js, "hostname", &ok);
  if (!ok) return -1;
  plan->domainname = get_str(env, a, js, "domainname", &ok);
  if (!ok) return -1;
  plan->rootfs_path = get_str(env, a, js, "rootfsPath", &ok);
  if (!ok) return -1;
  if (get_bool(env, js, "rootfsReadonly", &plan->rootfs_readonly) < 0) return -1;

  napi_value arr;
  uint32_t len;
  if (get_array(env, js, "joins", &arr, &len) < 0) return -1;
  if (len > TSSHIM_MAX_JOINS) return throw_type(env, "joins");
  for (uint32_t k = 0; k < len; k++) {
    napi_value e;
    CHECK(napi_get_element(env, arr, k, &e));
    if (get_i64(env, e, "type", &i) < 0) return -1;
    plan->joins[k].nstype = (int)i;
    plan->joins[k].fd = -1;
    plan->joins[k].path = get_str(env, a, e, "path", &ok);
    if (!ok || plan->joins[k].path == NULL) return throw_type(env, "joins.path");
    plan->n_joins = k + 1;
  }
  napi_value tasks;
  napi_valuetype t;
  if (get(env, js, "cgroupTasks", &tasks, &t) < 0) return -1;
  if (t != napi_undefined && t != napi_null) {
    if (get_array(env, js, "cgroupTasks", &arr, &len) < 0) return -1;
    if (len > TSSHIM_MAX_CGROUP_TASKS) return throw_type(env, "cgroupTasks");
    for (uint32_t k = 0; k < len; k++) {
      napi_value e;
      CHECK(napi_get_element(env, arr, k, &e));
      plan->cgroup_tasks[k] = to_cstr(env, a, e);
      if (plan->cgroup_tasks[k] == NULL) return throw_type(env, "cgroupTasks");
      plan->n_cgroup_tasks = k + 1;
    }
  }
  napi_value rootfs;
  if (get(env, js, "rootfs", &rootfs, &t) < 0) return -1;
  if (t == napi_object && tsshim_napi_rootfs_plan_from_js != NULL) {
    h->rootfs = arena_alloc(a, sizeof *h->rootfs);
    if (h->rootfs == NULL) return -1;
    if (tsshim_napi_rootfs_plan_from_js(env, rootfs, h->rootfs) < 0) {
      h->rootfs = NULL;
      return -1;
    }
    plan->rootfs = h->rootfs;
  }
  napi_value proc;
  if (get(env, js, "process", &proc, &t) < 0) return -1;
  if (t != napi_object) return throw_type(env, "process");
  return process_from_js(env, a, proc, &plan->proc);
}

static napi_value make_native_error(napi_env env, const struct tsshim_error *err) {
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_int32(env, err->errnum, &v);
  napi_set_named_property(env, obj, "errnum", v);
  napi_create_string_utf8(env, err->step, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "step", v);
  napi_create_string_utf8(env, err->syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "syscall", v);
  napi_create_string_utf8(env, err->detail, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "detail", v);
  napi_create_string_utf8(env, err->path, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "path", v);
  return obj;
}

/* Throws an Error carrying the structured record as .native; errors.ts formats it. */
static void throw_native(napi_env env, const struct tsshim_error *err) {
  napi_value code, msg, e;
  napi_create_string_utf8(env, "ERR_TSSHIM_NATIVE", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, err->step, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &e);
  napi_set_named_property(env, e, "native", make_native_error(env, err));
  napi_throw(env, e);
}

/* Opens what the child needs, before clone: failures here are the parent's. */
static int open_resources(struct plan_holder *h, const char *cgroup_dir, struct tsshim_error *err) {
  struct tsshim_container_plan *plan = &h->plan;
  for (size_t k = 0; k < plan->n_joins; k++) {
    plan->joins[k].fd = open(plan->joins[k].path, O_RDONLY | O_CLOEXEC);
    if (plan->joins[k].fd < 0) return tsshim_error_errno(err, "join namespace", "open", NULL, plan->joins[k].path);
  }
  if (cgroup_dir != NULL) {
    plan->cgroup_fd = open(cgroup_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (plan->cgroup_fd < 0) return tsshim_error_errno(err, "cgroup", "open", NULL, cgroup_dir);
  }

  plan->proc.dev_null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (plan->proc.dev_null_fd < 0) return tsshim_error_errno(err, "stdio", "open", NULL, "/dev/null");
  return 0;
}

static napi_value set_int(napi_env env, napi_value obj, const char *key, int64_t val) {
  napi_value v;
  napi_create_int64(env, (int64_t)val, &v);
  napi_set_named_property(env, obj, key, v);
  return obj;
}

/* spawn(plan, kind) → {pid, pidfd, sock}; the child waits for SYNC_MAPPED. */
static napi_value js_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, "ERR_TSSHIM_PLAN", "spawn(plan, kind)");
    return NULL;
  }
  int32_t kind;
  if (napi_get_value_int32(env, argv[1], &kind) != napi_ok) {
    napi_throw_type_error(env, "ERR_TSSHIM_PLAN", "kind");
    return NULL;
  }
  struct plan_holder h;
  memset(&h, 0, sizeof h);
  h.plan.cgroup_fd = -1;
  h.plan.proc.dev_null_fd = -1;
  napi_value result = NULL;
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  int ok;
  const char *cg = NULL;
  if (plan_from_js(env, argv[0], &h) < 0) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "ERR_TSSHIM_PLAN", "invalid container plan");
    goto out;
  }
  cg = get_str(env, &h.arena, argv[0], "cgroupDir", &ok);
  if (!ok) goto out;
  struct tsshim_spawn_result r;
  if (open_resources(&h, cg, &err) < 0 ||
      tsshim_container_spawn(&h.plan, kind == 1 ? TSSHIM_SPAWN_EXEC : TSSHIM_SPAWN_INIT, &r, &err) < 0) {
    throw_native(env, &err);
    goto out;
  }
  napi_create_object(env, &result);
  set_int(env, result, "pid", r.pid);
  set_int(env, result, "pidfd", r.pidfd);
  set_int(env, result, "sock", r.sock);
out:
  holder_release(&h);
  return result;
}

/* syncSend(sock, type) */
/* syncSend(sock, type, files?): each entry of files is a path, opened here write-only with our
 * credentials (the kernel checks the opener's for a cgroup v1 tasks write) and closed after,
 * or an fd the caller opened and keeps; they all go with the message, in order. */
static napi_value js_sync_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t sock, type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &sock) != napi_ok || napi_get_value_int32(env, argv[1], &type) != napi_ok) {
    napi_throw_type_error(env, "ERR_TSSHIM_ARG", "syncSend(sock, type, files?)");
    return NULL;
  }
  int fds[TSSHIM_SYNC_MAX_FDS];
  int opened[TSSHIM_SYNC_MAX_FDS];
  size_t n = 0;
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  int failed = 0;
  bool is_array = false;
  uint32_t len = 0;
  if (argc >= 3 && napi_is_array(env, argv[2], &is_array) == napi_ok && is_array) {
    if (napi_get_array_length(env, argv[2], &len) != napi_ok || len > TSSHIM_SYNC_MAX_FDS) {
      napi_throw_type_error(env, "ERR_TSSHIM_ARG", "files");
      return NULL;
    }
    for (uint32_t k = 0; k < len && !failed; k++) {
      napi_value e;
      napi_valuetype t = napi_undefined;
      char path[4096];
      size_t plen = 0;
      int32_t given = -1;
      if (napi_get_element(env, argv[2], k, &e) != napi_ok || napi_typeof(env, e, &t) != napi_ok) t = napi_undefined;
      if (t == napi_number && napi_get_value_int32(env, e, &given) == napi_ok && given >= 0) {
        opened[n] = 0;
        fds[n++] = given;
        continue;
      }
      if (t != napi_string || napi_get_value_string_utf8(env, e, path, sizeof path, &plen) != napi_ok ||
          plen + 1 >= sizeof path) {
        failed = 1;
        tsshim_error_set(&err, EINVAL, "cgroup enter", "open", "not a path or an fd", NULL);
        break;
      }
      int fd = open(path, O_WRONLY | O_CLOEXEC);
      if (fd < 0) {
        failed = 1;
        tsshim_error_errno(&err, "cgroup enter", "open", NULL, path);
        break;
      }
      opened[n] = 1;
      fds[n++] = fd;
    }
  }
  if (!failed && tsshim_sync_send_fds(sock, (uint32_t)type, 0, NULL, fds, n) < 0) {
    failed = 1;
    tsshim_error_errno(&err, "sync channel", "sendmsg", NULL, NULL);
  }
  for (size_t k = 0; k < n; k++)
    if (opened[k]) close(fds[k]);
  if (failed) throw_native(env, &err);
  return NULL;
}

struct recv_work {
  napi_async_work work;
  napi_deferred deferred;
  int sock, timeout_ms;
  int rc, saved_errno, fd;
  struct tsshim_sync_msg msg;
};

static void recv_execute(napi_env env, void *data) {
  struct recv_work *w = data;
  struct pollfd p = {.fd = w->sock, .events = POLLIN};
  int r;
  do r = poll(&p, 1, w->timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r <= 0) {
    w->rc = -1;
    w->saved_errno = r == 0 ? ETIMEDOUT : errno;
    return;
  }
  w->rc = tsshim_sync_recv(w->sock, &w->msg, &w->fd);
  w->saved_errno = errno;
}

static void recv_complete(napi_env env, napi_status status, void *data) {
  struct recv_work *w = data;
  if (w->rc < 0) {
    struct tsshim_error err;
    errno = w->saved_errno;
    tsshim_error_errno(&err, "sync channel", w->saved_errno == ETIMEDOUT ? "poll" : "recvmsg", NULL, NULL);
    napi_value code, msg, e;
    napi_create_string_utf8(env, "ERR_TSSHIM_NATIVE", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, "sync channel", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &e);
    napi_set_named_property(env, e, "native", make_native_error(env, &err));
    napi_reject_deferred(env, w->deferred, e);
  } else {
    napi_value obj;
    napi_create_object(env, &obj);
    set_int(env, obj, "type", w->msg.type);
    set_int(env, obj, "pid", w->msg.pid);
    set_int(env, obj, "fd", w->fd);
    if (w->msg.type == TSSHIM_SYNC_ERROR) napi_set_named_property(env, obj, "error", make_native_error(env, &w->msg.err));
    napi_resolve_deferred(env, w->deferred, obj);
  }
  napi_delete_async_work(env, w->work);
  free(w);
}

/* syncRecv(sock, timeoutMs) → Promise<{type, pid, fd, error?}> */
static napi_value js_sync_recv(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t sock, timeout;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &sock) != napi_ok || napi_get_value_int32(env, argv[1], &timeout) != napi_ok) {
    napi_throw_type_error(env, "ERR_TSSHIM_ARG", "syncRecv(sock, timeoutMs)");
    return NULL;
  }
  struct recv_work *w = calloc(1, sizeof *w);
  if (w == NULL) {
    napi_throw_error(env, "ERR_TSSHIM_NATIVE", "out of memory");
    return NULL;
  }
  w->sock = sock;
  w->timeout_ms = timeout;
  w->fd = -1;
  napi_value promise, name;
  napi_create_promise(env, &w->deferred, &promise);
  napi_create_string_utf8(env, "tsshim.syncRecv", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, recv_execute, recv_complete, w, &w->work);
  napi_queue_async_work(env, w->work);
  return promise;
}

/* pidfdSignal(pidfd, sig): no PID reuse race. */
static napi_value js_pidfd_signal(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t pidfd, sig;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int32(env, argv[0], &pidfd) != napi_ok || napi_get_value_int32(env, argv[1], &sig) != napi_ok) {
    napi_throw_type_error(env, "ERR_TSSHIM_ARG", "pidfdSignal(pidfd, sig)");
    return NULL;
  }
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0) {
    struct tsshim_error err;
    tsshim_error_errno(&err, "kill", "pidfd_send_signal", NULL, NULL);
    throw_native(env, &err);
  }
  return NULL;
}

napi_status tsshim_napi_container_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"containerSpawn", NULL, js_spawn, NULL, NULL, NULL, napi_default, NULL},
      {"containerSyncSend", NULL, js_sync_send, NULL, NULL, NULL, napi_default, NULL},
      {"containerSyncRecv", NULL, js_sync_recv, NULL, NULL, NULL, napi_default, NULL},
      {"containerPidfdSignal", NULL, js_pidfd_signal, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
