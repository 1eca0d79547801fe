/* Node-API glue for the daemon's memory policy (src/shim/memory.ts). */
#include <node_api.h>

#include "memory.h"

static napi_value boolean(napi_env env, int value) {
  napi_value out;
  napi_get_boolean(env, value != 0, &out);
  return out;
}

/* memoryTrim(): true when malloc gave pages back. */
static napi_value js_trim(napi_env env, napi_callback_info info) { return boolean(env, tsshim_memory_trim()); }

/* memoryCompactHeap(): true when V8 ran its memory-reducing collection. */
static napi_value js_compact_heap(napi_env env, napi_callback_info info) {
  return boolean(env, tsshim_memory_v8_compact());
}

napi_status tsshim_napi_memory_init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"memoryTrim", NULL, js_trim, NULL, NULL, NULL, napi_default, NULL},
      {"memoryCompactHeap", NULL, js_compact_heap, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
