/* Node-API glue for the tsshim native core. The container code never touches napi_*. */
#include <node_api.h>

static napi_value tsshim_addon_init(napi_env env, napi_value exports) {
  (void)env;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, tsshim_addon_init)
