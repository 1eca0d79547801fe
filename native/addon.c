/* Node-API entry point of the tsshim native core.
 *
 * Each concern has its own glue file (napi_<area>.c) that exports one
 * tsshim_napi_<area>_init. They are declared weak so the addon builds while a
 * concern is still being written; the container code itself never touches napi_*.
 */
#include <node_api.h>
#include <stddef.h>

typedef napi_status (*tsshim_napi_init_fn)(napi_env env, napi_value exports);

/* Plain processes, pidfds, the subreaper, peer credentials (napi_proc.c). */
__attribute__((weak)) napi_status tsshim_napi_proc_init(napi_env env, napi_value exports);
/* Container create/start/exec, namespaces, identity, PTY (napi_container.c). */
__attribute__((weak)) napi_status tsshim_napi_container_init(napi_env env, napi_value exports);
/* Rootfs plans: mounts, /dev, pivot_root, masked/readonly paths (napi_rootfs.c). */
__attribute__((weak)) napi_status tsshim_napi_rootfs_init(napi_env env, napi_value exports);
/* Seccomp program installation and its self-check (napi_seccomp.c). */
__attribute__((weak)) napi_status tsshim_napi_seccomp_init(napi_env env, napi_value exports);
/* The shim's host-side mounts of containerd's rootfs (napi_host.c). */
__attribute__((weak)) napi_status tsshim_napi_host_init(napi_env env, napi_value exports);
/* cgroup OOM notifications and the v2 device program (napi_cgroup.c). */
__attribute__((weak)) napi_status tsshim_napi_cgroup_init(napi_env env, napi_value exports);
/* Returning an idle daemon's free memory: malloc_trim, V8 compaction (napi_memory.c). */
__attribute__((weak)) napi_status tsshim_napi_memory_init(napi_env env, napi_value exports);
/* The ttrpc server's socket I/O: accept, read, write without net.Socket (napi_wire.c). */
__attribute__((weak)) napi_status tsshim_napi_wire_init(napi_env env, napi_value exports);

static napi_value tsshim_addon_init(napi_env env, napi_value exports) {
  const tsshim_napi_init_fn inits[] = {tsshim_napi_proc_init, tsshim_napi_container_init,
                                      tsshim_napi_rootfs_init, tsshim_napi_seccomp_init,
                                      tsshim_napi_host_init, tsshim_napi_cgroup_init, tsshim_napi_memory_init,
                                      tsshim_napi_wire_init};
  for (size_t i = 0; i < sizeof inits / sizeof inits[0]; i++) {
    if (inits[i] == NULL) continue;
    if (inits[i](env, exports) != napi_ok) {
      napi_throw_error(env, "ERR_TSSHIM_NATIVE_INIT", "tsshim native core failed to initialise");
      return NULL;
    }
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, tsshim_addon_init)
