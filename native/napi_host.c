/* Node-API glue for the shim's host side: rootfs mounts from Create, console resize. */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "host_mount.h"
#include "host_pty.h"
#include "napi_util.h"

static napi_value js_mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_type_error(env, NULL, "mount(source, target, fstype, flags, data)");
    return NULL;
  }
  char *src = tsshim_napi_string(env, argv[0]);
  char *dst = tsshim_napi_string(env, argv[1]);
  char *fstype = tsshim_napi_string(env, argv[2]);
  char *data = tsshim_napi_string(env, argv[4]);
  double flags = 0;
  napi_get_value_double(env, argv[3], &flags);
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  int r = -1;
  if (dst != NULL)
    r = tsshim_host_mount(src, dst, fstype, (unsigned long)flags, (data != NULL && data[0] != '\0') ? data : NULL, &err);
  else
    tsshim_error_set(&err, 22, "mount", "mount", NULL, NULL);
  free(src);
  free(dst);
  free(fstype);
  free(data);
  if (r < 0) tsshim_napi_throw(env, &err);
  return NULL;
}

static napi_value js_umount(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "umount(target, flags)");
    return NULL;
  }
  char *dst = tsshim_napi_string(env, argv[0]);
  int32_t flags = 0;
  napi_get_value_int32(env, argv[1], &flags);
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  int r = dst != NULL ? tsshim_host_umount(dst, flags, &err) : tsshim_error_set(&err, 22, "umount", "umount2", NULL, NULL);
  free(dst);
  if (r < 0) tsshim_napi_throw(env, &err);
  return NULL;
}

static napi_value js_pty_resize(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd = -1, rows = 0, cols = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &rows) != napi_ok ||
      napi_get_value_int32(env, argv[2], &cols) != napi_ok || rows < 0 || rows > 65535 || cols < 0 || cols > 65535) {
    napi_throw_range_error(env, NULL, "ptyResize(fd, rows, cols): rows and cols must be 0..65535");
    return NULL;
  }
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  if (tsshim_host_pty_resize(fd, (unsigned short)rows, (unsigned short)cols, &err) < 0) tsshim_napi_throw(env, &err);
  return NULL;
}

napi_status tsshim_napi_host_init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"hostMount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
      {"hostUmount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL},
      {"ptyResize", NULL, js_pty_resize, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
