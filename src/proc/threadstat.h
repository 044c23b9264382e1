/*
 * threadstat.h -- what the kernel says a thread has been doing.
 *
 * Contract: threadstat_read() fills a thread's cumulative CPU time
 * (/proc/PID/task/TID/schedstat: on-CPU and run-queue ns, exact), its user
 * and system clock ticks (/stat: utime, stime; the kernel scales them so
 * their sum tracks the exact CPU time), its scheduler state letter, and --
 * if it is blocked -- the system call it is blocked in with its first
 * argument and its user stack pointer and pc (/syscall: read again only
 * when the thread has run since it was last read blocked -- its CPU time
 * or its count of times switched in moved -- else it is blocked where it
 * was).  File descriptors are kept open in a small cache keyed by tid, so
 * a steady-state read is two preads (three for a thread that blocked anew
 * since the last read).  -1 if the thread is gone.  Also: classify a
 * blocking system call into a wait kind.
 */
#ifndef STETHO_PROC_THREADSTAT_H
#define STETHO_PROC_THREADSTAT_H

#include <stdint.h>
#include <sys/types.h>

struct thread_times {
    uint64_t cpu_ns;            /* time on a CPU */
    uint64_t runq_ns;           /* time runnable, waiting for a CPU */
    uint64_t utime, stime;      /* clock ticks */
    char state;                 /* 'R', 'S', 'D', 'T', 'Z', ... */
    long syscall;               /* blocked in this syscall; -1 none/unknown */
    uint64_t syscall_arg0, syscall_arg1;
    uint64_t user_sp, user_pc;  /* where it entered the kernel when blocked
                                   (in a syscall or not); 0 if unknown */
};

enum wait_class {
    WAITC_IO, WAITC_SLEEP, WAITC_FUTEX, WAITC_OTHER,
};

struct threadstat;

struct threadstat *threadstat_new(pid_t pid);
void threadstat_free(struct threadstat *ts);
int threadstat_read(struct threadstat *ts, pid_t tid, struct thread_times *out);
/* Close the descriptors of threads not read since the last call (gone or
 * no longer sampled). */
void threadstat_sweep(struct threadstat *ts);

/* select/poll on no descriptors is how some Pythons sleep (3.9/3.10's
 * time.sleep is select(0, ...)): those are sleeps, not I/O. */
enum wait_class wait_classify(long syscall_nr, uint64_t arg0, uint64_t arg1);

#endif
