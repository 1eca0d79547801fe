/* Node-API glue of the rootfs: the plan converter (napi_rootfs.h) and two test-only exports,
 *   _rootfsPlanCheck(plan) -> counts   (round-trips a plan through the converter)
 *   _rootfsTestRun(plan, opts) -> { status, output, error }   (rootfs_testrun.h)
 * The container code calls only the converter; these exports exist for test/native. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "napi_rootfs.h"
#include "rootfs_testrun.h"

#define CHECK(call)                                 \
  do {                                              \
    if ((call) != napi_ok) return -1;               \
  } while (0)

static int throw_type(napi_env env, const char *field, const char *want) {
  char msg[256];
  snprintf(msg, sizeof msg, "rootfs plan: %s must be %s", field, want);
  napi_throw_type_error(env, "ERR_TSSHIM_ROOTFS_PLAN", msg);
  return -1;
}

static int get_field(napi_env env, napi_value obj, const char *key, napi_value *out) {
  CHECK(napi_get_named_property(env, obj, key, out));
  return 0;
}

static int to_string(napi_env env, napi_value v, const char *field, char **out) {
  napi_valuetype t;
  CHECK(napi_typeof(env, v, &t));
  if (t != napi_string) return throw_type(env, field, "a string");
  size_t len = 0;
  CHECK(napi_get_value_string_utf8(env, v, NULL, 0, &len));
  char *s = malloc(len + 1);
  if (s == NULL) {
    napi_throw_error(env, "ERR_TSSHIM_ROOTFS_PLAN", "rootfs plan: out of memory");
    return -1;
  }
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return -1;
  }
  if (strlen(s) != len) {
    free(s);
    return throw_type(env, field, "a string without NUL bytes");
  }
  *out = s;
  return 0;
}

static int get_string(napi_env env, napi_value obj, const char *key, const char *prefix, char **out) {
  char field[128];
  snprintf(field, sizeof field, "%s%s", prefix, key);
  napi_value v;
  if (get_field(env, obj, key, &v) < 0) return -1;
  return to_string(env, v, field, out);
}

static int get_number(napi_env env, napi_value obj, const char *key, const char *prefix, int64_t *out) {
  char field[128];
  snprintf(field, sizeof field, "%s%s", prefix, key);
  napi_value v;
  napi_valuetype t;
  if (get_field(env, obj, key, &v) < 0) return -1;
  CHECK(napi_typeof(env, v, &t));
  if (t != napi_number) return throw_type(env, field, "a number");
  CHECK(napi_get_value_int64(env, v, out));
  if (*out < 0) return throw_type(env, field, "a non-negative number");
  return 0;
}

static int get_array(napi_env env, napi_value obj, const char *key, napi_value *arr, uint32_t *len) {
  if (get_field(env, obj, key, arr) < 0) return -1;
  bool is_array = false;
  CHECK(napi_is_array(env, *arr, &is_array));
  if (!is_array) return throw_type(env, key, "an array");
  CHECK(napi_get_array_length(env, *arr, len));
  return 0;
}

static int get_element_object(napi_env env, napi_value arr, uint32_t i, const char *field, napi_value *out) {
  CHECK(napi_get_element(env, arr, i, out));
  napi_valuetype t;
  CHECK(napi_typeof(env, *out, &t));
  if (t != napi_object) {
    char name[128];
    snprintf(name, sizeof name, "%s", field);
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '.') name[n - 1] = '\0'; /* callers pass "mounts[3]." */
    return throw_type(env, name, "an object");
  }
  return 0;
}

static int get_string_list(napi_env env, napi_value obj, const char *key, const char *const **out, size_t *n) {
  napi_value arr;
  uint32_t len;
  if (get_array(env, obj, key, &arr, &len) < 0) return -1;
  char **list = calloc(len + 1, sizeof *list);
  if (list == NULL) return throw_type(env, key, "allocatable");
  *out = (const char *const *)list;
  *n = 0;
  for (uint32_t i = 0; i < len; i++) {
    char field[128];
    snprintf(field, sizeof field, "%s[%u]", key, i);
    napi_value v;
    CHECK(napi_get_element(env, arr, i, &v));
    if (to_string(env, v, field, &list[i]) < 0) return -1;
    *n = i + 1;
  }
  return 0;
}

static int convert(napi_env env, napi_value value, struct tsshim_rootfs_plan *p) {
  napi_valuetype t;
  CHECK(napi_typeof(env, value, &t));
  if (t != napi_object) return throw_type(env, "plan", "an object");
  int64_t num;
  if (get_string(env, value, "rootfs", "", (char **)&p->rootfs) < 0) return -1;
  if (get_number(env, value, "rootPropagation", "", &num) < 0) return -1;
  p->root_propagation = (unsigned long)num;
  if (get_number(env, value, "readonlyRoot", "", &num) < 0) return -1;
  p->readonly_root = num != 0;
  if (get_number(env, value, "noPivot", "", &num) < 0) return -1;
  p->no_pivot = num != 0;
  if (get_number(env, value, "userns", "", &num) < 0) return -1;
  p->userns = num != 0;

  napi_value arr, el;
  uint32_t len;
  char prefix[64];

  if (get_array(env, value, "mounts", &arr, &len) < 0) return -1;
  struct tsshim_rootfs_mount *mounts = calloc(len + 1, sizeof *mounts);
  if (mounts == NULL) return throw_type(env, "mounts", "allocatable");
  p->mounts = mounts;
  for (uint32_t i = 0; i < len; i++) {
    struct tsshim_rootfs_mount *m = &mounts[i];
    p->n_mounts = i + 1;
    snprintf(prefix, sizeof prefix, "mounts[%u].", i);
    if (get_element_object(env, arr, i, prefix, &el) < 0) return -1;
    if (get_string(env, el, "source", prefix, (char **)&m->source) < 0) return -1;
    if (get_string(env, el, "destination", prefix, (char **)&m->destination) < 0) return -1;
    if (get_string(env, el, "fstype", prefix, (char **)&m->fstype) < 0) return -1;
    if (get_string(env, el, "data", prefix, (char **)&m->data) < 0) return -1;
    if (get_number(env, el, "flags", prefix, &num) < 0) return -1;
    m->flags = (unsigned long)num;
    if (get_number(env, el, "remount", prefix, &num) < 0) return -1;
    m->remount = (unsigned long)num;
    if (get_number(env, el, "propagation", prefix, &num) < 0) return -1;
    m->propagation = (unsigned long)num;
    if (get_number(env, el, "attrSet", prefix, &num) < 0) return -1;
    m->attr_set = (unsigned long long)num;
    if (get_number(env, el, "attrClr", prefix, &num) < 0) return -1;
    m->attr_clr = (unsigned long long)num;
    if (get_number(env, el, "optional", prefix, &num) < 0) return -1;
    m->optional = num != 0;
    if (get_string(env, el, "fallback", prefix, (char **)&m->fallback) < 0) return -1;
    if (get_number(env, el, "tmpcopyup", prefix, &num) < 0) return -1;
    m->tmpcopyup = num != 0;
  }

  if (get_array(env, value, "devices", &arr, &len) < 0) return -1;
  struct tsshim_rootfs_device *devices = calloc(len + 1, sizeof *devices);
  if (devices == NULL) return throw_type(env, "devices", "allocatable");
  p->devices = devices;
  for (uint32_t i = 0; i < len; i++) {
    struct tsshim_rootfs_device *d = &devices[i];
    p->n_devices = i + 1;
    snprintf(prefix, sizeof prefix, "devices[%u].", i);
    if (get_element_object(env, arr, i, prefix, &el) < 0) return -1;
    if (get_string(env, el, "path", prefix, (char **)&d->path) < 0) return -1;
    if (get_string(env, el, "hostPath", prefix, (char **)&d->host_path) < 0) return -1;
    if (get_number(env, el, "type", prefix, &num) < 0) return -1;
    d->type = (unsigned int)num;
    if (get_number(env, el, "major", prefix, &num) < 0) return -1;
    d->major = (unsigned int)num;
    if (get_number(env, el, "minor", prefix, &num) < 0) return -1;
    d->minor = (unsigned int)num;
    if (get_number(env, el, "mode", prefix, &num) < 0) return -1;
    d->mode = (unsigned int)num;
    if (get_number(env, el, "uid", prefix, &num) < 0) return -1;
    d->uid = (unsigned int)num;
    if (get_number(env, el, "gid", prefix, &num) < 0) return -1;
    d->gid = (unsigned int)num;
  }

  if (get_array(env, value, "symlinks", &arr, &len) < 0) return -1;
  struct tsshim_rootfs_symlink *links = calloc(len + 1, sizeof *links);
  if (links == NULL) return throw_type(env, "symlinks", "allocatable");
  p->symlinks = links;
  for (uint32_t i = 0; i < len; i++) {
    p->n_symlinks = i + 1;
    snprintf(prefix, sizeof prefix, "symlinks[%u].", i);
    if (get_element_object(env, arr, i, prefix, &el) < 0) return -1;
    if (get_string(env, el, "path", prefix, (char **)&links[i].path) < 0) return -1;
    if (get_string(env, el, "target", prefix, (char **)&links[i].target) < 0) return -1;
  }

  if (get_array(env, value, "sysctls", &arr, &len) < 0) return -1;
  struct tsshim_rootfs_sysctl *sysctls = calloc(len + 1, sizeof *sysctls);
  if (sysctls == NULL) return throw_type(env, "sysctls", "allocatable");
  p->sysctls = sysctls;
  for (uint32_t i = 0; i < len; i++) {
    p->n_sysctls = i + 1;
    snprintf(prefix, sizeof prefix, "sysctls[%u].", i);
    if (get_element_object(env, arr, i, prefix, &el) < 0) return -1;
    if (get_string(env, el, "path", prefix, (char **)&sysctls[i].path) < 0) return -1;
    if (get_string(env, el, "value", prefix, (char **)&sysctls[i].value) < 0) return -1;
  }

  if (get_string_list(env, value, "lateReadonly", &p->late_readonly, &p->n_late_readonly) < 0) return -1;
  if (get_string_list(env, value, "maskedPaths", &p->masked_paths, &p->n_masked_paths) < 0) return -1;
  if (get_string_list(env, value, "readonlyPaths", &p->readonly_paths, &p->n_readonly_paths) < 0) return -1;
  return 0;
}

int tsshim_napi_rootfs_plan_from_js(napi_env env, napi_value value, struct tsshim_rootfs_plan *out) {
  memset(out, 0, sizeof *out);
  if (convert(env, value, out) < 0) {
    tsshim_rootfs_plan_free(out);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "ERR_TSSHIM_ROOTFS_PLAN", "rootfs plan: conversion failed");
    return -1;
  }
  return 0;
}

static void free_list(const char *const *list, size_t n) {
  if (list == NULL) return;
  for (size_t i = 0; i < n; i++) free((void *)list[i]);
  free((void *)list);
}

void tsshim_rootfs_plan_free(struct tsshim_rootfs_plan *p) {
  if (p == NULL) return;
  free((void *)p->rootfs);
  for (size_t i = 0; i < p->n_mounts; i++) {
    free((void *)p->mounts[i].source);
    free((void *)p->mounts[i].destination);
    free((void *)p->mounts[i].fstype);
    free((void *)p->mounts[i].data);
    free((void *)p->mounts[i].fallback);
  }
  free((void *)p->mounts);
  for (size_t i = 0; i < p->n_devices; i++) {
    free((void *)p->devices[i].path);
    free((void *)p->devices[i].host_path);
  }
  free((void *)p->devices);
  for (size_t i = 0; i < p->n_symlinks; i++) {
    free((void *)p->symlinks[i].path);
    free((void *)p->symlinks[i].target);
  }
  free((void *)p->symlinks);
  for (size_t i = 0; i < p->n_sysctls; i++) {
    free((void *)p->sysctls[i].path);
    free((void *)p->sysctls[i].value);
  }
  free((void *)p->sysctls);
  free_list(p->late_readonly, p->n_late_readonly);
  free_list(p->masked_paths, p->n_masked_paths);
  free_list(p->readonly_paths, p->n_readonly_paths);
  memset(p, 0, sizeof *p);
}

/* ---- test-only exports ---- */

static napi_value make_count(napi_env env, napi_value obj, const char *key, size_t n) {
  napi_value v;
  napi_create_uint32(env, (uint32_t)n, &v);
  napi_set_named_property(env, obj, key, v);
  return obj;
}

static napi_value plan_check(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  struct tsshim_rootfs_plan plan;
  if (tsshim_napi_rootfs_plan_from_js(env, argc > 0 ? argv[0] : NULL, &plan) < 0) return NULL;
  napi_value out;
  napi_create_object(env, &out);
  make_count(env, out, "mounts", plan.n_mounts);
  make_count(env, out, "devices", plan.n_devices);
  make_count(env, out, "symlinks", plan.n_symlinks);
  make_count(env, out, "sysctls", plan.n_sysctls);
  make_count(env, out, "maskedPaths", plan.n_masked_paths);
  make_count(env, out, "readonlyPaths", plan.n_readonly_paths);
  make_count(env, out, "lateReadonly", plan.n_late_readonly);
  tsshim_rootfs_plan_free(&plan);
  return out;
}

static int string_array(napi_env env, napi_value obj, const char *key, char ***out) {
  const char *const *list = NULL;
  size_t n = 0;
  if (get_string_list(env, obj, key, &list, &n) < 0) {
    free_list(list, n);
    return -1;
  }
  *out = (char **)list; /* NULL-terminated: calloc(len + 1) */
  return 0;
}

static void free_strv(char **v) {
  if (v == NULL) return;
  for (size_t i = 0; v[i] != NULL; i++) free(v[i]);
  free(v);
}

static napi_value error_object(napi_env env, const struct tsshim_error *e) {
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_int32(env, e->errnum, &v);
  napi_set_named_property(env, o, "errno", v);
  napi_create_string_utf8(env, e->step, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, "step", v);
  napi_create_string_utf8(env, e->syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, "syscall", v);
  napi_create_string_utf8(env, e->detail, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, "detail", v);
  napi_create_string_utf8(env, e->path, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, o, "path", v);
  return o;
}

/* _rootfsTestRun(plan, { argv, env, cloneFlags, hostUid, hostGid, idCount, console }) */
static napi_value test_run(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_TSSHIM_ROOTFS_PLAN", "_rootfsTestRun(plan, options)");
    return NULL;
  }
  struct tsshim_rootfs_plan plan;
  if (tsshim_napi_rootfs_plan_from_js(env, argv[0], &plan) < 0) return NULL;
  struct tsshim_rootfs_testrun run = {.plan = &plan};
  char **cargv = NULL, **cenv = NULL;
  char *out = NULL;
  napi_value result = NULL;
  int64_t num;
  if (string_array(env, argv[1], "argv", &cargv) < 0 || string_array(env, argv[1], "env", &cenv) < 0) goto done;
  if (cargv[0] == NULL) {
    napi_throw_type_error(env, "ERR_TSSHIM_ROOTFS_PLAN", "argv must not be empty");
    goto done;
  }
  run.argv = cargv;
  run.envp = cenv;
  if (get_number(env, argv[1], "cloneFlags", "", &num) < 0) goto done;
  run.clone_flags = (int)num;
  if (get_number(env, argv[1], "hostUid", "", &num) < 0) goto done;
  run.host_uid = (unsigned int)num;
  if (get_number(env, argv[1], "hostGid", "", &num) < 0) goto done;
  run.host_gid = (unsigned int)num;
  if (get_number(env, argv[1], "idCount", "", &num) < 0) goto done;
  run.id_count = (unsigned int)num;
  if (get_number(env, argv[1], "console", "", &num) < 0) goto done;
  run.console = num != 0;

  size_t cap = 1 << 20, len = 0;
  out = malloc(cap);
  if (out == NULL) {
    napi_throw_error(env, "ERR_TSSHIM_ROOTFS_PLAN", "out of memory");
    goto done;
  }
  int status = 0, child_failed = 0;
  struct tsshim_error child_err = {0}, err = {0};
  if (tsshim_rootfs_testrun_run(&run, out, cap, &len, &status, &child_failed, &child_err, &err) < 0) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s %s: %s", err.step, err.syscall, err.path, strerror(err.errnum));
    napi_throw_error(env, "ERR_TSSHIM_ROOTFS_TESTRUN", msg);
    goto done;
  }
  napi_value v;
  napi_create_object(env, &result);
  napi_create_int32(env, status, &v);
  napi_set_named_property(env, result, "status", v);
  napi_create_string_utf8(env, out, len, &v);
  napi_set_named_property(env, result, "output", v);
  if (child_failed) {
    v = error_object(env, &child_err);
  } else {
    napi_get_null(env, &v);
  }
  napi_set_named_property(env, result, "error", v);

done:
  free(out);
  free_strv(cargv);
  free_strv(cenv);
  tsshim_rootfs_plan_free(&plan);
  return result;
}

napi_status tsshim_napi_rootfs_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"_rootfsPlanCheck", NULL, plan_check, NULL, NULL, NULL, napi_default, NULL},
      {"_rootfsTestRun", NULL, test_run, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
