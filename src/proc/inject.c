/*
 * inject.c -- system calls and function calls run by a ptrace-stopped
 * thread (inject.h).
 */
#include "proc/inject.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

_Static_assert(sizeof(void *) == 8, "inject.c drives x86-64 registers");

/* Wait for the next stop of tid; 1 = stopped (*st), 0 = nothing before the
 * deadline (timeout_ms < 0: wait for ever), -1 = gone. */
static int next_stop(pid_t tid, int *st, int timeout_ms)
{
    struct timespec nap = { 0, 1000000 };
    for (int waited = 0;; waited++) {
        pid_t r = waitpid(tid, st, __WALL | (timeout_ms >= 0 ? WNOHANG : 0));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (r == tid && !WIFSTOPPED(*st))) {
            errno = ESRCH;
            return -1;
        }
        if (r == tid)
            return 1;
        if (waited >= timeout_ms)
            return 0;
        nanosleep(&nap, NULL);
    }
}

/* A signal for the program that arrived while we held the thread: kept
 * (one; later ones of the same kind merge as the kernel would merge them)
 * and delivered at inject_end. */
static void keep_signal(struct inject *in, int st)
{
    int sig = WSTOPSIG(st);
    if ((st >> 16) == 0 && sig != SIGTRAP && !in->pending_sig)
        in->pending_sig = sig;
}

int inject_begin(struct inject *in, pid_t tid)
{
    memset(in, 0, sizeof *in);
    in->tid = tid;
    if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
        return -1;
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
        goto fail;
    for (int tries = 0; tries < 64; tries++) {
        int st;
        if (next_stop(tid, &st, 2000) <= 0)
            goto fail;
        if ((st >> 16) == PTRACE_EVENT_STOP)
            break;
        /* signal-delivery stop: keep it for later, wait for ours */
        keep_signal(in, st);
        ptrace(PTRACE_CONT, tid, 0, 0);
        if (tries == 63) {
            errno = EAGAIN;
            goto fail;
        }
    }
    if (ptrace(PTRACE_GETREGS, tid, 0, &in->saved) < 0)
        goto fail;
    return 0;
fail:;
    int e = errno;
    ptrace(PTRACE_DETACH, tid, 0, (void *)(long)in->pending_sig);
    errno = e;
    return -1;
}

uint64_t inject_pc(const struct inject *in)
{
    return in->saved.rip;
}

int inject_syscall(struct inject *in, uint64_t insn, long nr, const uint64_t args[6],
                   uint64_t *ret)
{
    struct user_regs_struct r = in->saved;
    r.rip = insn;
    r.rax = (uint64_t)nr;
    r.orig_rax = (uint64_t)-1;
    r.rdi = args[0], r.rsi = args[1], r.rdx = args[2];
    r.r10 = args[3], r.r8 = args[4], r.r9 = args[5];
    if (ptrace(PTRACE_SETREGS, in->tid, 0, &r) < 0 ||
        ptrace(PTRACE_SINGLESTEP, in->tid, 0, 0) < 0)
        return -1;
    for (;;) {
        int st;
        if (next_stop(in->tid, &st, 5000) <= 0) {
            errno = errno == ESRCH ? ESRCH : ETIMEDOUT;
            return -1;
        }
        if (ptrace(PTRACE_GETREGS, in->tid, 0, &r) < 0)
            return -1;
        if (WSTOPSIG(st) == SIGTRAP && r.rip == insn + 2) {
            *ret = r.rax;
            return 0;
        }
        keep_signal(in, st);
        if (ptrace(PTRACE_SINGLESTEP, in->tid, 0, 0) < 0)
            return -1;
    }
}

int inject_call(struct inject *in, uint64_t fn, uint64_t a0, uint64_t a1, int timeout_ms,
                uint64_t *ret)
{
    struct user_regs_struct r = in->saved;
    /* below the 128-byte red zone, 16-aligned at the call, then the
     * return address: 0, so the return faults and we see it */
    uint64_t sp = ((r.rsp - 512) & ~(uint64_t)15) - 8;
    long zero = 0;
    if (ptrace(PTRACE_POKEDATA, in->tid, (void *)sp, (void *)zero) < 0)
        return -1;
    r.rsp = sp;
    r.rip = fn;
    r.rdi = a0;
    r.rsi = a1;
    r.rax = 0;
    r.orig_rax = (uint64_t)-1;
    if (ptrace(PTRACE_SETREGS, in->tid, 0, &r) < 0 || ptrace(PTRACE_CONT, in->tid, 0, 0) < 0)
        return -1;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int left = timeout_ms - (int)((now.tv_sec - t0.tv_sec) * 1000 +
                                      (now.tv_nsec - t0.tv_nsec) / 1000000);
        int st;
        int got = next_stop(in->tid, &st, left > 0 ? left : 0);
        if (got < 0)
            return -1;
        if (got == 0) {
            /* it did not come back: take the thread back where it was */
            int e = ptrace(PTRACE_INTERRUPT, in->tid, 0, 0) == 0 &&
                    next_stop(in->tid, &st, 2000) == 1 ? ETIMEDOUT : ESRCH;
            if (e == ETIMEDOUT)
                keep_signal(in, st);
            errno = e;
            return -1;
        }
        if (ptrace(PTRACE_GETREGS, in->tid, 0, &r) < 0)
            return -1;
        int sig = (st >> 16) == 0 ? WSTOPSIG(st) : 0;
        if (sig == SIGSEGV && r.rip == 0) {
            *ret = r.rax;
            return 0;
        }
        if (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE) {
            errno = EFAULT;             /* our call faulted: never the program's death */
            return -1;
        }
        keep_signal(in, st);
        if (ptrace(PTRACE_CONT, in->tid, 0, 0) < 0)
            return -1;
    }
}

int inject_end(struct inject *in)
{
    int rc = ptrace(PTRACE_SETREGS, in->tid, 0, &in->saved);
    int e = errno;
    if (ptrace(PTRACE_DETACH, in->tid, 0, (void *)(long)in->pending_sig) < 0 && rc == 0)
        return -1;
    errno = e;
    return rc;
}
