/*
 * tsshim pause: the process that holds a pod sandbox's namespaces.
 *
 * It sleeps until a signal arrives. SIGCHLD: reap every exited child (as
 * PID 1 of the pod it inherits orphans). SIGINT/SIGTERM: exit 0. Everything
 * is received synchronously through sigwaitinfo on a blocked set; handlers
 * are installed as well because the kernel drops default-disposition
 * signals sent to a namespace's PID 1 unless they are blocked or handled.
 *
 * Built static (cc -static -Os), so the image needs nothing but /pause.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void tsshim_pause_noop(int sig) { (void)sig; }

static int tsshim_pause_fail(const char *what) {
  /* Best effort: stderr may be closed. */
  fprintf(stderr, "pause: %s: %s\n", what, strerror(errno));
  return 1;
}

static void tsshim_pause_reap(void) {
  for (;;) {
    pid_t pid = waitpid(-1, NULL, WNOHANG);
    if (pid > 0) continue;
    if (pid < 0 && errno == EINTR) continue;
    return; /* 0: children left but running; ECHILD: none */
  }
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    /* `pause -v` style flags are not supported: say so rather than ignore. */
    fprintf(stderr, "pause: takes no arguments\n");
    return 2;
  }
  const int sigs[] = {SIGINT, SIGTERM, SIGCHLD};
  sigset_t set;
  if (sigemptyset(&set) < 0) return tsshim_pause_fail("sigemptyset");
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tsshim_pause_noop;
    if (sigemptyset(&sa.sa_mask) < 0) return tsshim_pause_fail("sigemptyset");
    if (sigaction(sigs[i], &sa, NULL) < 0) return tsshim_pause_fail("sigaction");
    if (sigaddset(&set, sigs[i]) < 0) return tsshim_pause_fail("sigaddset");
  }
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return tsshim_pause_fail("sigprocmask");

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&set, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      return tsshim_pause_fail("sigwaitinfo");
    }
    if (sig == SIGCHLD) {
      tsshim_pause_reap();
      continue;
    }
    /* SIGINT or SIGTERM: leave the namespaces to be torn down. */
    tsshim_pause_reap();
    return 0;
  }
}
