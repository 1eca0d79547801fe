/* Node-API side of the rootfs plan: the parent converts the JS plan built by
 * src/oci/rootfs-plan.ts (buildRootfsPlan) into a tsshim_rootfs_plan before clone.
 * Only Node-API glue files include this header; the child code uses rootfs.h only. */
#ifndef TSSHIM_NAPI_ROOTFS_H
#define TSSHIM_NAPI_ROOTFS_H

#include <node_api.h>

#include "rootfs.h"

/* Fills *out from a JS RootfsPlan. Returns 0, or -1 with a pending JS exception naming the
 * bad field; on failure *out is already released. All memory is owned by *out. */
int tsshim_napi_rootfs_plan_from_js(napi_env env, napi_value value, struct tsshim_rootfs_plan *out);

/* Releases everything tsshim_napi_rootfs_plan_from_js allocated; safe on a zeroed plan. */
void tsshim_rootfs_plan_free(struct tsshim_rootfs_plan *plan);

#endif
