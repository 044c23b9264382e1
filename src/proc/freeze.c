/*
 * freeze.c -- PTRACE_SEIZE/INTERRUPT/DETACH around a moment of reading.
 */
#include "proc/freeze.h"

#include <errno.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

/* Wait for tid's ptrace-stop.  A signal for the process may arrive first:
 * it is then re-injected on the way (PTRACE_CONT with it) and we wait
 * again, so nothing the program would have received is lost. */
static int wait_stopped(pid_t tid)
{
    for (int tries = 0; tries < 16; tries++) {
        int st;
        pid_t r = waitpid(tid, &st, __WALL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != tid || !WIFSTOPPED(st))
            return -1;
        if ((st >> 16) == PTRACE_EVENT_STOP)
            return 0;
        /* signal-delivery stop: hand the signal back, wait for our stop */
        ptrace(PTRACE_CONT, tid, 0, (void *)(long)WSTOPSIG(st));
        ptrace(PTRACE_INTERRUPT, tid, 0, 0);
    }
    return -1;
}

size_t freeze_threads(pid_t *tids, size_t n)
{
    size_t held = 0;
    for (size_t i = 0; i < n; i++) {
        pid_t tid = tids[i];
        if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
            continue;
        if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 || wait_stopped(tid) < 0) {
            ptrace(PTRACE_DETACH, tid, 0, 0);
            continue;
        }
        tids[held++] = tid;             /* keep the held ones first */
    }
    return held;
}

void thaw_threads(const pid_t *tids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ptrace(PTRACE_DETACH, tids[i], 0, 0);
}
