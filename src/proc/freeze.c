/*
 * freeze.c -- PTRACE_SEIZE/INTERRUPT/DETACH around a moment of reading.
 */
#include "proc/freeze.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

/* Is tid the main thread of a child of ours (`stetho run`'s program)? */
static int our_child_leader(pid_t tid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long tgid = -1, ppid = -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Tgid:", 5))
            tgid = strtol(line + 5, NULL, 10);
        else if (!strncmp(line, "PPid:", 5))
            ppid = strtol(line + 5, NULL, 10);
    }
    fclose(f);
    return tgid == tid && ppid == getpid();
}

/* tid exited while we had it seized: a traced zombie waits for its tracer,
 * so it is waited for here -- which, for a process not ours, only hands it
 * back to its parent, and for a thread that is not a main thread reaps it.
 * Our own child's main thread is left: its exit status is the session's. */
static void release_exited(pid_t tid)
{
    int st;
    if (!our_child_leader(tid))
        waitpid(tid, &st, __WALL | WNOHANG);
}

/* Wait for tid's ptrace-stop.  A signal for the process may arrive first:
 * it is then re-injected on the way (PTRACE_CONT with it) and we wait
 * again, so nothing the program would have received is lost.  A thread
 * that exits instead is released (release_exited). */
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
        if (si.si_pid != tid)
            return -1;
        if (si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) {
            release_exited(tid);
            return -1;
        }
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
        if (ptrace(PTRACE_DETACH, tids[i], 0, 0) < 0 && errno == ESRCH)
            release_exited(tids[i]);    /* killed while held */
}
