/*
 * timesplit.c -- wall = user + system + waiting, per interval.
 */
#include "sampler/timesplit.h"

#include <string.h>

static int blocked(const struct thread_times *t)
{
    return t->state == 'S' || t->state == 'D';
}

enum cap_wait timesplit_wait_kind(const struct thread_times *t, uint64_t gil_addr,
                                  uint64_t gil_size)
{
    if (!blocked(t) || t->syscall < 0)
        return CAP_WAIT_OTHER;
    switch (wait_classify(t->syscall, t->syscall_arg0, t->syscall_arg1)) {
    case WAITC_IO:
        return CAP_WAIT_IO;
    case WAITC_SLEEP:
        return CAP_WAIT_SLEEP;
    case WAITC_FUTEX:
        if (gil_addr && t->syscall_arg0 >= gil_addr && t->syscall_arg0 < gil_addr + gil_size)
            return CAP_WAIT_GIL;
        return CAP_WAIT_LOCK;
    default:
        return CAP_WAIT_OTHER;
    }
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

int timesplit_update(struct timesplit *ts, uint64_t now, const struct thread_times *obs,
                     uint64_t gil_addr, uint64_t gil_size, struct split *out)
{
    if (!ts->primed) {
        memset(ts, 0, sizeof *ts);
        ts->primed = 1;
        ts->t_ns = now;
        ts->first = ts->last = *obs;
        return 0;
    }
    memset(out, 0, sizeof *out);
    out->wall = sub0(now, ts->t_ns);
    /* The kernel moves a running thread's CPU counter on at scheduler
     * ticks, so an interval can show more CPU than wall time and the next
     * none: carry what does not fit into the following intervals instead
     * of losing it.  The run-queue counter lags the same way. */
    uint64_t cpu = sub0(obs->cpu_ns, ts->last.cpu_ns) + ts->cpu_carry;
    ts->cpu_carry = cpu > out->wall ? cpu - out->wall : 0;
    cpu -= ts->cpu_carry;
    uint64_t wait = out->wall - cpu;
    uint64_t runq = sub0(obs->runq_ns, ts->last.runq_ns) + ts->runq_carry;
    ts->runq_carry = runq > wait ? runq - wait : 0;
    runq -= ts->runq_carry;

    /* system share, cumulatively from the thread's ticks */
    uint64_t du = sub0(obs->utime, ts->first.utime), ds = sub0(obs->stime, ts->first.stime);
    uint64_t cpu_total = ts->cpu_given + cpu;
    uint64_t want_sys = ts->sys_given;
    if (du + ds > 0)
        want_sys = (uint64_t)((double)cpu_total * (double)ds / (double)(du + ds));
    uint64_t sys = sub0(want_sys, ts->sys_given);
    if (sys > cpu)
        sys = cpu;
    out->sys = sys;
    out->user = cpu - sys;
    ts->sys_given += sys;
    ts->cpu_given += cpu;

    /* waiting: run queue is "other"; the rest by what blocked the thread */
    const struct thread_times *why = blocked(obs) ? obs : &ts->last;
    out->wait[CAP_WAIT_OTHER] += runq;
    out->wait[timesplit_wait_kind(why, gil_addr, gil_size)] += wait - runq;

    ts->t_ns = now;
    ts->last = *obs;
    return 1;
}
