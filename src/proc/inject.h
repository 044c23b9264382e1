/*
 * inject.h -- make one stopped thread of another process run a system call
 * or a function call of ours, then go on exactly where it was.
 *
 * Contract: inject_begin() seizes and interrupts thread `tid` (PTRACE_SEIZE
 * + PTRACE_INTERRUPT: no signal is sent, the parent sees nothing) and saves
 * its registers; inject_pc() is where it stopped.  inject_syscall() runs
 * system call `nr` by pointing the thread at a `syscall` instruction
 * (`insn`, found in its libc) and single-stepping it; inject_call() calls
 * the function at `fn` with two arguments on the thread's stack, below its
 * red zone, with return address 0, and waits (at most timeout_ms) for the
 * fault at 0 that ends it.  inject_end() puts every register back and
 * detaches: a system call the thread was blocked in is restarted by the
 * kernel as after any ptrace stop (orig_rax is set to -1 while ours run,
 * so the kernel's restart logic only sees the thread's own call); a signal
 * that arrived meanwhile is delivered then.  All return 0, or -1 with
 * errno set (EPERM/EACCES: not permitted; ESRCH: gone; ETIMEDOUT: the call
 * did not return, and was abandoned with the registers put back; EFAULT:
 * it faulted, and the fault is not delivered).
 * x86-64 Linux only.
 */
#ifndef STETHO_PROC_INJECT_H
#define STETHO_PROC_INJECT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

struct inject {
    pid_t tid;
    struct user_regs_struct saved;
    int pending_sig;            /* a signal to deliver at inject_end, or 0 */
};

int inject_begin(struct inject *in, pid_t tid);
uint64_t inject_pc(const struct inject *in);
int inject_syscall(struct inject *in, uint64_t insn, long nr, const uint64_t args[6],
                   uint64_t *ret);
int inject_call(struct inject *in, uint64_t fn, uint64_t a0, uint64_t a1, int timeout_ms,
                uint64_t *ret);
int inject_end(struct inject *in);

#endif
