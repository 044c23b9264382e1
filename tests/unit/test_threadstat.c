/*
 * test_threadstat.c -- threadstat_read on this process's own threads: a
 * thread burning CPU (state, exact CPU time, ticks that track it) and one
 * asleep in nanosleep under a name built to mislead the /stat parse (the
 * state and the syscall it is blocked in, classified as a sleep), then
 * blocked in read(2) on a pipe: the syscall kept for a thread that has not
 * run since must not outlive its moving on.
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
static int pipefd[2];

static void *sleeper(void *arg)
{
    (void)arg;
    prctl(PR_SET_NAME, "a) R 1 (b 2 3");        /* ')' and a fake state */
    atomic_store(&sleeper_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&stop)) {
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);
    }
    char c;
    if (read(pipefd[0], &c, 1) != 1)            /* blocks until main writes */
        return NULL;
    return NULL;
}

/* Read tid until it is blocked in a syscall (it wakes every 20 ms). */
static int read_blocked(struct threadstat *ts, pid_t tid, struct thread_times *out)
{
    for (int i = 0; i < 50; i++) {
        if (threadstat_read(ts, tid, out) < 0)
            return -1;
        if (out->state == 'S' && out->syscall >= 0)
            return 0;
        usleep(3000);
    }
    return -1;
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
    CHECK(pipe(pipefd) == 0);
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
    pid_t stid = atomic_load(&sleeper_tid);
    CHECK_EQ_INT(read_blocked(ts, stid, &sl), 0);
    printf("# sleeper: state %c syscall %ld sp %llx pc %llx\n", sl.state, sl.syscall,
           (unsigned long long)sl.user_sp, (unsigned long long)sl.user_pc);
    CHECK(wait_classify(sl.syscall, sl.syscall_arg0, sl.syscall_arg1) == WAITC_SLEEP);
    CHECK(sl.user_sp != 0 && sl.user_pc != 0);
    CHECK(sl.cpu_ns < 100000000u);

    /* moved on to a read(2) that blocks for good: seen at once, twice */
    atomic_store(&stop, 1);
    usleep(60000);
    struct thread_times rd, again;
    CHECK_EQ_INT(read_blocked(ts, stid, &rd), 0);
    printf("# then: state %c syscall %ld\n", rd.state, rd.syscall);
    CHECK_EQ_INT(rd.syscall, SYS_read);
    CHECK(wait_classify(rd.syscall, rd.syscall_arg0, rd.syscall_arg1) == WAITC_IO);
    CHECK_EQ_INT(rd.syscall_arg0, pipefd[0]);
    CHECK_EQ_INT(threadstat_read(ts, stid, &again), 0);
    CHECK(again.state == 'S' && again.syscall == SYS_read && again.syscall_arg0 == rd.syscall_arg0 &&
          again.user_sp == rd.user_sp && again.user_pc == rd.user_pc && again.cpu_ns == rd.cpu_ns);

    /* a thread that is gone reads -1 (pthread_join returns a moment before
     * the kernel lets it go) */
    CHECK(write(pipefd[1], "x", 1) == 1);
    pthread_join(th, NULL);
    int gone = 0;
    for (int i = 0; i < 200 && !gone; i++) {
        gone = threadstat_read(ts, stid, &sl) < 0;
        if (!gone)
            usleep(5000);
    }
    CHECK(gone);
    threadstat_sweep(ts);
    threadstat_free(ts);
    (void)x;
    return CHECK_DONE();
}
