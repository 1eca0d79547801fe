/* Returning an idle shim's free memory (see memory.h). */
#include "memory.h"

#include <dlfcn.h>
#include <malloc.h>

int tsshim_memory_trim(void) { return malloc_trim(0); }

/* Node-API has no call for this, but V8's public C++ API is exported by the
 * node binary for addons. Both entry points are plain (non-virtual) functions:
 * a static one returning the current isolate, and a member function that takes
 * the isolate as its implicit first argument (Itanium C++ ABI). They are looked
 * up at run time so that an addon loaded by a Node without them still works. */
typedef void *(*tsshim_v8_isolate_current_fn)(void);
typedef void (*tsshim_v8_isolate_notify_fn)(void *isolate);

int tsshim_memory_v8_compact(void) {
  static tsshim_v8_isolate_current_fn current;
  static tsshim_v8_isolate_notify_fn low_memory;
  static int resolved;
  if (!resolved) {
    current = (tsshim_v8_isolate_current_fn)dlsym(RTLD_DEFAULT, "_ZN2v87Isolate10GetCurrentEv");
    low_memory = (tsshim_v8_isolate_notify_fn)dlsym(RTLD_DEFAULT, "_ZN2v87Isolate21LowMemoryNotificationEv");
    resolved = 1;
  }
  if (current == NULL || low_memory == NULL) return 0;
  void *isolate = current();
  if (isolate == NULL) return 0;
  low_memory(isolate);
  return 1;
}
