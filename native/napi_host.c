/* Node-API glue for the shim's host-side mounts (the rootfs containerd sends with Create). */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "host_mount.h"
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

napi_status tsshim_napi_host_init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"hostMount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
      {"hostUmount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
