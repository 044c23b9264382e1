/*
 * timesplit.h -- split the wall time between two samples of a thread into
 * CPU user, CPU system and waiting (by reason), from the kernel's counters.
 *
 * Contract: timesplit_update() takes a thread's counters observed at `now`
 * and, from the second observation on, fills `out` for the interval since
 * the previous one, with out->wall = user + sys + sum(wait) exactly.
 * - CPU time is schedstat's exact on-CPU time; as the kernel updates it at
 *   scheduler ticks, what exceeds an interval is carried into the next.
 * - user vs system follows the kernel's utime/stime ticks, cumulatively:
 *   the system share handed out so far tracks stime/(utime+stime) of the
 *   thread's CPU time since first seen, so tick granularity (10 ms) does
 *   not bias totals.
 * - waiting = wall - CPU; time on the run queue is "other"; the rest is
 *   classified by the system call the thread is blocked in now, or, if it
 *   runs now, the one it was blocked in at the previous observation: futex
 *   waits inside the GIL's struct are "gil", other futexes "lock".
 * Returns 1 when out was filled, 0 on a first observation.
 */
#ifndef STETHO_SAMPLER_TIMESPLIT_H
#define STETHO_SAMPLER_TIMESPLIT_H

#include <stdint.h>
#include "capture/capture.h"
#include "proc/threadstat.h"

struct timesplit {
    int primed;
    uint64_t t_ns;
    struct thread_times first, last;
    uint64_t sys_given;         /* system ns handed out since first */
    uint64_t cpu_given;         /* CPU ns handed out since first */
    uint64_t cpu_carry, runq_carry;     /* counted, not yet fitted in */
};

struct split {
    uint64_t wall, user, sys, wait[CAP_WAIT_KINDS];
};

int timesplit_update(struct timesplit *ts, uint64_t now_ns, const struct thread_times *obs,
                     uint64_t gil_addr, uint64_t gil_size, struct split *out);

/* The wait kind of a blocked observation (CAP_WAIT_OTHER if running). */
enum cap_wait timesplit_wait_kind(const struct thread_times *obs, uint64_t gil_addr,
                                  uint64_t gil_size);

#endif
