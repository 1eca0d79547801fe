/* A shared spare daemon gives each container its own shim by forking itself:
 * the child is already booted and warm (no Node start on the container's
 * critical path) and shares the spare's memory copy-on-write until it writes
 * to it.
 *
 * Forking a Node process is safe only under conditions the caller keeps:
 * V8 runs with --single-threaded (the child has only the calling thread; a
 * V8 that hands GC or compile work to worker threads would wait for them
 * forever), no libuv threadpool work is in flight, and the call happens on
 * the main thread from JS. Both processes keep every fd: a socket that both
 * read from loses bytes to the other, so the caller keeps sockets it has not
 * started serving paused and each side closes what is not its own. Node's
 * pid (process.pid) is a value captured at boot: the child's JS replaces it. */
#ifndef TSSHIM_FORK_DETACHED_H
#define TSSHIM_FORK_DETACHED_H

#include <sys/types.h>
#include <uv.h>

#include "error.h"

/* Forks twice, so that the new process is nobody's child but init's (or the
 * nearest subreaper's), as a shim daemon started by `start` is. In the new
 * process: its own session, the libuv loop re-armed (uv_loop_fork: a new
 * epoll set and signal pipe), returns 1. In the caller: returns 0 with *child
 * set, after the child's loop is re-armed. -1 and err on failure, nothing left
 * behind. */
int tsshim_fork_detached(uv_loop_t *loop, pid_t *child, struct tsshim_error *err);

#endif
