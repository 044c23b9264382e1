/*
 * test_timesplit.c -- wall = user + sys + waiting, and the right waits.
 */
#include "check.h"
#include "sampler/timesplit.h"

#include <sys/syscall.h>

#define MS 1000000ull

static uint64_t sum(const struct split *s)
{
    uint64_t w = s->user + s->sys;
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        w += s->wait[k];
    return w;
}

int main(void)
{
    struct timesplit ts = {0};
    struct split sp;
    struct thread_times t = { .cpu_ns = 5 * MS, .state = 'R', .syscall = -1 };

    CHECK_EQ_INT(timesplit_update(&ts, 100 * MS, &t, 0, 0, &sp), 0);   /* first sight */

    /* 10 ms busy in user space */
    t.cpu_ns += 10 * MS;
    t.utime += 1;
    CHECK_EQ_INT(timesplit_update(&ts, 110 * MS, &t, 0, 0, &sp), 1);
    CHECK_EQ_INT(sp.wall, 10 * MS);
    CHECK_EQ_INT(sp.user, 10 * MS);
    CHECK_EQ_INT(sp.sys, 0);
    CHECK_EQ_INT(sum(&sp), sp.wall);

    /* 10 ms in the kernel: ticks say 1 user, 1 system so far -> half of
     * the 20 ms of CPU is system, all of it handed out now */
    t.cpu_ns += 10 * MS;
    t.stime += 1;
    timesplit_update(&ts, 120 * MS, &t, 0, 0, &sp);
    CHECK_EQ_INT(sp.sys, 10 * MS);
    CHECK_EQ_INT(sp.user, 0);
    CHECK_EQ_INT(sum(&sp), sp.wall);

    /* blocked in nanosleep for 50 ms */
    t.state = 'S';
    t.syscall = SYS_clock_nanosleep;
    timesplit_update(&ts, 170 * MS, &t, 0, 0, &sp);
    CHECK_EQ_INT(sp.wait[CAP_WAIT_SLEEP], 50 * MS);
    CHECK_EQ_INT(sum(&sp), 50 * MS);

    /* 3.9/3.10's time.sleep is select(0, ...): a sleep, not I/O */
    t.syscall = SYS_select;
    t.syscall_arg0 = 0;
    timesplit_update(&ts, 175 * MS, &t, 0, 0, &sp);
    CHECK_EQ_INT(sp.wait[CAP_WAIT_SLEEP], 5 * MS);
    t.syscall_arg0 = 4;                 /* select on descriptors: I/O */
    timesplit_update(&ts, 180 * MS, &t, 0, 0, &sp);
    CHECK_EQ_INT(sp.wait[CAP_WAIT_IO], 5 * MS);
    t.syscall = SYS_clock_nanosleep;
    t.syscall_arg0 = 0;
    timesplit_update(&ts, 180 * MS, &t, 0, 0, &sp);   /* an empty interval */

    /* woke up and ran 2 ms, after 8 ms more of the sleep: classified by the
     * previous observation */
    t.state = 'R';
    t.syscall = -1;
    t.cpu_ns += 2 * MS;
    timesplit_update(&ts, 190 * MS, &t, 0, 0, &sp);
    CHECK_EQ_INT(sp.wait[CAP_WAIT_SLEEP], 8 * MS);
    CHECK_EQ_INT(sp.user + sp.sys, 2 * MS);
    CHECK_EQ_INT(sum(&sp), 10 * MS);

    /* 3 ms on the run queue, 7 ms blocked reading a pipe */
    t.state = 'S';
    t.syscall = SYS_read;
    t.runq_ns += 3 * MS;
    timesplit_update(&ts, 200 * MS, &t, 0, 0, &sp);
    CHECK_EQ_INT(sp.wait[CAP_WAIT_OTHER], 3 * MS);
    CHECK_EQ_INT(sp.wait[CAP_WAIT_IO], 7 * MS);

    /* futex inside the GIL's struct, then outside it */
    t.syscall = SYS_futex;
    t.syscall_arg0 = 0x1000 + 48;
    timesplit_update(&ts, 210 * MS, &t, 0x1000, 208, &sp);
    CHECK_EQ_INT(sp.wait[CAP_WAIT_GIL], 10 * MS);
    t.syscall_arg0 = 0x9000;
    timesplit_update(&ts, 220 * MS, &t, 0x1000, 208, &sp);
    CHECK_EQ_INT(sp.wait[CAP_WAIT_LOCK], 10 * MS);

    /* CPU counter ahead of the clock (updated at a tick): what does not
     * fit is carried into the next interval, where the counter stood still */
    t.state = 'R';
    t.cpu_ns += 15 * MS;
    timesplit_update(&ts, 230 * MS, &t, 0, 0, &sp);
    CHECK_EQ_INT(sp.user + sp.sys, 10 * MS);
    CHECK_EQ_INT(sum(&sp), sp.wall);
    t.cpu_ns += 5 * MS;
    timesplit_update(&ts, 240 * MS, &t, 0, 0, &sp);
    CHECK_EQ_INT(sp.user + sp.sys, 10 * MS);            /* 5 carried + 5 new */
    CHECK_EQ_INT(sum(&sp), sp.wall);

    /* over a long mixed run the system share converges to the ticks' */
    struct timesplit t2 = {0};
    struct thread_times u = { .cpu_ns = 0, .state = 'R', .syscall = -1 };
    uint64_t now = 0, user = 0, sys = 0;
    timesplit_update(&t2, now, &u, 0, 0, &sp);
    for (int i = 1; i <= 1000; i++) {
        now += 10 * MS;
        u.cpu_ns += 10 * MS;
        if (i % 4 == 0)
            u.stime++;          /* a quarter of ticks in the kernel */
        else
            u.utime++;
        timesplit_update(&t2, now, &u, 0, 0, &sp);
        user += sp.user;
        sys += sp.sys;
        CHECK(sum(&sp) == sp.wall);
    }
    printf("# user %llu ms sys %llu ms\n", (unsigned long long)(user / MS),
           (unsigned long long)(sys / MS));
    CHECK(sys > 2400 * MS && sys < 2600 * MS);
    CHECK_EQ_INT(user + sys, 10000 * MS);
    return CHECK_DONE();
}
