/* Node-API glue for the daemon's memory policy (src/shim/memory.ts). */
#include <node_api.h>
#include <string.h>

#include "memory.h"
#include "napi_util.h"

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

/* memorySetArenaMax(n) */
static napi_value js_set_arena_max(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t arenas = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &arenas) != napi_ok) {
    napi_throw_type_error(env, NULL, "memorySetArenaMax(arenas)");
    return NULL;
  }
  struct tsshim_error err;
  memset(&err, 0, sizeof err);
  if (tsshim_memory_set_arena_max(arenas, &err) < 0) tsshim_napi_throw(env, &err);
  return NULL;
}

napi_status tsshim_napi_memory_init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"memoryTrim", NULL, js_trim, NULL, NULL, NULL, napi_default, NULL},
      {"memoryCompactHeap", NULL, js_compact_heap, NULL, NULL, NULL, napi_default, NULL},
      {"memorySetArenaMax", NULL, js_set_arena_max, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
