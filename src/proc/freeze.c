/*
 * freeze.c -- PTRACE_SEIZE/INTERRUPT/DETACH around a moment of reading.
 */
#include "proc/freeze.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

/* Wait for tid's ptrace-stop.  A signal for the process may arrive first:
 * it is then re-injected on the way (PTRACE_CONT with it) and we wait
 * again, so nothing the program would have received is lost.  A thread
 * that exits instead is left unreaped: when it is our child (`stetho run`
 * samples its own program), its exit status is the session's to collect. */
static int wait_stopped(pid_t tid)
{
    for (int tries = 0; tries < 16; tries++) {
        siginfo_t si;
        si.si_pid = 0;
        if (waitid(P_PID, (id_t)tid, &si, WEXITED | WSTOPPED | __WALL | WNOWAIT) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (si.si_pid != tid || si.si_code == CLD_EXITED || si.si_code == CLD_KILLED ||
            si.si_code == CLD_DUMPED)
            return -1;
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
