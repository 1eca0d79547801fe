/* Handing an idle shim's free memory back to the kernel: glibc's malloc and
 * V8's heap both keep freed pages mapped (and counted in the shim's RSS and
 * PSS) until told otherwise. */
#ifndef TSSHIM_MEMORY_H
#define TSSHIM_MEMORY_H

/* malloc_trim(0): releases free pages of every malloc arena (not only the top
 * of the main heap). Returns 1 when memory was released, 0 when none was. */
int tsshim_memory_trim(void);

/* Asks V8 for a full, memory-reducing collection (Isolate::LowMemoryNotification:
 * shrinks the young generation, compacts, returns pooled pages). Must run on
 * the isolate's thread. Returns 1 when done, 0 when this Node does not export
 * the V8 entry points (nothing happened). */
int tsshim_memory_v8_compact(void);

#endif
