/*
 * test_threadstat.c -- threadstat_read on this process's own threads: a
 * thread burning CPU (state, exact CPU time, ticks that track it) and one
 * asleep in nanosleep under a name built to mislead the /stat parse (the
 * state and the syscall it is blocked in, classified as a sleep).
 */
#include "check.h"
#include "proc/threadstat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static atomic_int sleeper_tid, stop;

static void *sleeper(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "a) R 1 (b 2 3");        /* ')' and a fake state */
    atomic_store(&sleeper_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&stop)) {
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(void)
{
    pthread_t th;
    CHECK(pthread_create(&th, NULL, sleeper, NULL) == 0);
    struct threadstat *ts = threadstat_new(getpid());
    CHECK(ts != NULL);

    /* burn 300 ms of CPU on this thread, then read it while running */
    uint64_t t0 = thread_cpu_ns();
    volatile uint64_t x = 0;
    while (thread_cpu_ns() - t0 < 300000000u)
        for (int i = 0; i < 1000000; i++)       /* user time, not clock_gettime's */
            x += 1;
    struct thread_times me;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    CHECK_EQ_INT(threadstat_read(ts, tid, &me), 0);
    uint64_t cpu = thread_cpu_ns();
    CHECK_EQ_INT(me.state, 'R');
    CHECK(me.cpu_ns >= 250000000u && me.cpu_ns <= cpu);
    /* the ticks track the exact time within a few of them */
    long hz = sysconf(_SC_CLK_TCK);
    double ticks_ns = (double)(me.utime + me.stime) * 1e9 / (double)hz;
    printf("# cpu %.3f s, ticks %.3f s (user %llu sys %llu)\n", me.cpu_ns / 1e9,
           ticks_ns / 1e9, (unsigned long long)me.utime, (unsigned long long)me.stime);
    CHECK(ticks_ns > (double)me.cpu_ns - 3e9 / (double)hz &&
          ticks_ns < (double)me.cpu_ns + 3e9 / (double)hz);
    CHECK(me.utime > me.stime);

    /* the sleeper: blocked in a sleep, whatever its name says */
    while (!atomic_load(&sleeper_tid))
        usleep(1000);
    usleep(50000);
    struct thread_times sl;
    int asleep = 0;
    for (int i = 0; i < 20 && !asleep; i++) {   /* it wakes every 20 ms */
        CHECK_EQ_INT(threadstat_read(ts, atomic_load(&sleeper_tid), &sl), 0);
        asleep = sl.state == 'S' && sl.syscall >= 0;
        if (!asleep)
            usleep(3000);
    }
    CHECK(asleep);
    printf("# sleeper: state %c syscall %ld sp %llx pc %llx\n", sl.state, sl.syscall,
           (unsigned long long)sl.user_sp, (unsigned long long)sl.user_pc);
    CHECK(wait_classify(sl.syscall, sl.syscall_arg0, sl.syscall_arg1) == WAITC_SLEEP);
    CHECK(sl.user_sp != 0 && sl.user_pc != 0);
    CHECK(sl.cpu_ns < 100000000u);

    /* a thread that is gone reads -1 */
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    CHECK_EQ_INT(threadstat_read(ts, atomic_load(&sleeper_tid), &sl), -1);
    threadstat_sweep(ts);
    threadstat_free(ts);
    (void)x;
    return CHECK_DONE();
}
