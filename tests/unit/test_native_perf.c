/*
 * test_native_perf.c -- perf.h and native_unwind_copy() on threads of this
 * very process: a thread spinning in unit_spin_inner is sampled by the
 * kernel and unwound from the copy to unit_spin_outer; a thread blocked in
 * read() is unwound from the sp and pc of /proc/self/task/TID/syscall.
 * Skipped (loudly) where perf events are refused or without elfutils.
 */
#include "check.h"
#include "native/perf.h"
#include "native/unwind.h"
#include "proc/threadstat.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;
static volatile unsigned long sink;
static volatile pid_t spin_tid, block_tid;
static int pipefd[2];

__attribute__((noinline)) void unit_spin_inner(void)
{
    while (!stop)
        sink++;
}

__attribute__((noinline)) void unit_spin_outer(void)
{
    unit_spin_inner();
    sink++;                             /* not a tail call */
}

/* syscall(), not read(), and no frame pointer even in the ASan build: a
 * function whose CFA is its frame pointer (ASan's read interceptor, code
 * built with frame pointers) stops an unwind that knows only sp and pc
 * (docs/native.md) */
__attribute__((noinline, optimize("omit-frame-pointer"))) void unit_block_reader(void)
{
    static char c;
    if (syscall(SYS_read, pipefd[0], &c, 1) < 0)
        sink++;
    sink++;
}

static void *spinner(void *arg)
{
    (void)arg;
    spin_tid = (pid_t)syscall(SYS_gettid);
    unit_spin_outer();
    return NULL;
}

static void *blocker(void *arg)
{
    (void)arg;
    block_tid = (pid_t)syscall(SYS_gettid);
    unit_block_reader();
    return NULL;
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* Index of the first frame named `name`, or -1. */
static long find(const struct native_frame *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].symbol && !strcmp(f[i].symbol, name))
            return (long)i;
    return -1;
}

static struct native_frame frames[256];

int main(void)
{
    char err[256];
    if (native_unsupported()) {
        printf("ok 1 # SKIP %s\n1..1\n", native_unsupported());
        return 0;
    }
    pthread_t a, b;
    if (pipe(pipefd) < 0 || pthread_create(&a, NULL, spinner, NULL) ||
        pthread_create(&b, NULL, blocker, NULL)) {
        printf("not ok 1 - threads\n1..1\n");
        return 1;
    }
    while (!spin_tid || !block_tid)
        nap_ms(1);
    int e = 0;
    struct perf_thread *t = perf_thread_open(spin_tid, 1000000, &e);
    if (!t && perf_refused(e)) {
        printf("ok 1 # SKIP perf events refused: %s\n1..1\n", strerror(e));
        stop = 1;
        return 0;
    }
    CHECK(t != NULL);
    struct perf_sample ps;
    int got = 0;
    for (int i = 0; t && i < 500 && !(got = perf_thread_latest(t, &ps)); i++)
        nap_ms(10);
    CHECK_EQ_INT(got, 1);
    struct native_session *s = native_open_copy(getpid(), err, sizeof err);
    CHECK(s != NULL);
    if (got && s) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
        CHECK(ps.time_ns <= now_ns && now_ns - ps.time_ns < 10000000000ull);
        CHECK(ps.stack_len > 64 && ps.stack_len <= PERF_STACK_BYTES);
        size_t n = native_unwind_copy(s, spin_tid, &ps.regs, ps.stack, ps.stack_len, frames,
                                      256);
        long inner = find(frames, n, "unit_spin_inner"), outer = find(frames, n, "unit_spin_outer");
        CHECK_EQ_INT(inner, 0);
        CHECK(outer > inner);
        CHECK(find(frames, n, "spinner") > outer);
    }
    stop = 1;
    pthread_join(a, NULL);
    if (t) {
        perf_thread_latest(t, &ps);
        CHECK_EQ_INT(perf_thread_latest(t, &ps), 0);    /* the thread ended: nothing new */
    }
    perf_thread_close(t);

    /* the blocked thread, from where it entered the kernel */
    struct threadstat *ts = threadstat_new(getpid());
    struct thread_times tt = { 0 };
    for (int i = 0; i < 200; i++) {
        if (threadstat_read(ts, block_tid, &tt) == 0 && tt.state == 'S' && tt.user_pc)
            break;
        nap_ms(10);
    }
    CHECK_EQ_INT(tt.syscall, SYS_read);
    CHECK(tt.user_sp != 0 && tt.user_pc != 0);
    if (s && tt.user_pc) {
        struct native_regs regs = { .known = 1u << NATIVE_REG_SP | 1u << NATIVE_REG_PC };
        regs.r[NATIVE_REG_SP] = tt.user_sp;
        regs.r[NATIVE_REG_PC] = tt.user_pc;
        size_t n = native_unwind_copy(s, block_tid, &regs, NULL, 0, frames, 256);
        long reader = find(frames, n, "unit_block_reader");
        CHECK(reader >= 1);             /* syscall() (libc) first */
        CHECK(find(frames, n, "blocker") > reader);
    }
    threadstat_free(ts);
    if (write(pipefd[1], "x", 1) != 1)
        sink++;
    pthread_join(b, NULL);
    native_close(s);
    return CHECK_DONE();
}
