/* What ps shows for this process. A spare daemon becomes a container's shim
 * after it was started: its command line and name must then say which one,
 * as a shim started for that container would (operators and containerd's
 * tooling find shims by their -id/-address flags). */
#ifndef TSSHIM_PROC_TITLE_H
#define TSSHIM_PROC_TITLE_H

#include "error.h"

/* Sets the thread name (PR_SET_NAME, 15 bytes kept) of the calling thread, and
 * when argv is not NULL points the kernel's view of the command line
 * (/proc/self/cmdline) at a new NUL-separated copy of argv (PR_SET_MM_MAP). */
int tsshim_proc_set_title(const char *name, char *const *argv, int argc, struct tsshim_error *err);

#endif
