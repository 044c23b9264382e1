/*
 * perf.h -- a thread's registers and the top of its stack, copied by the
 * kernel while it runs (perf_event_open): native stacks without stopping
 * anything.
 *
 * Contract: perf_thread_open() starts sampling one thread of another
 * process: every period_ns of that thread's own CPU time
 * (PERF_COUNT_SW_TASK_CLOCK) the kernel copies its user registers and the
 * top PERF_STACK_BYTES of its user stack into a ring buffer mapped here
 * (written backward, overwriting: the newest sample is always there).  A
 * thread that does not run costs nothing and gives no samples.  NULL with
 * *err set to the errno on failure; perf_refused(err) tells a refusal of
 * perf events as such (perf_event_paranoid, a seccomp filter, no perf
 * events in this kernel or container, the locked-memory limit) from a
 * thread that is gone.  perf_thread_latest() gives the newest sample if one
 * came since the previous call (1; *out valid until the next call or
 * close), else 0.  The thread is never stopped, signalled or traced.
 */
#ifndef STETHO_NATIVE_PERF_H
#define STETHO_NATIVE_PERF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "native/unwind.h"

#define PERF_STACK_BYTES 16384  /* the C frames above the innermost Python
                                   call fit; beyond, memory is read live */

struct perf_sample {
    uint64_t time_ns;           /* CLOCK_MONOTONIC */
    struct native_regs regs;
    const unsigned char *stack; /* a copy of [sp, sp + stack_len) */
    size_t stack_len;
};

struct perf_thread;

struct perf_thread *perf_thread_open(pid_t tid, uint64_t period_ns, int *err);
int perf_thread_latest(struct perf_thread *t, struct perf_sample *out);
void perf_thread_close(struct perf_thread *t);
int perf_refused(int err);

#endif
