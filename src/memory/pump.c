/*
 * pump.c -- the memory thread's loop: wait on the FIFO, decode, tick.
 *
 * A test hook: STETHO_TEST_MEMORY_LAG_MS=N makes the memory thread decode
 * each chunk no sooner than N ms after the agent started it (it sleeps
 * until then), so a test can make stetho lag the program by a known
 * amount instead of hoping for a loaded machine (tests/e2e/
 * test_memory_mapped.py).  Unset, it costs one test per chunk.
 */
#include "memory/pump.h"
#include "memory/channel.h"
#include "memory/memtrack.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire/wire.h"

struct mempump {
    struct channel *ch;
    struct memtrack *m;
    uint64_t interval_ns;
    uint64_t lag_ns;                    /* the test hook above; 0: none */
    atomic_int stop;
    pthread_t thread;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void feed(void *ctx, const uint8_t *chunk, size_t len)
{
    struct mempump *p = ctx;
    if (p->lag_ns && len >= sizeof(struct agent_chunk_header)) {
        struct agent_chunk_header h;
        memcpy(&h, chunk, sizeof h);
        uint64_t due = h.t_ns + p->lag_ns, now = now_ns();
        if (due > now && due - now <= p->lag_ns) {
            struct timespec ts = { (time_t)((due - now) / 1000000000u),
                                   (long)((due - now) % 1000000000u) };
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
        }
    }
    memtrack_feed(p->m, chunk, len);
}

static void *run(void *arg)
{
    struct mempump *p = arg;
    uint64_t next = now_ns();
    while (!atomic_load(&p->stop)) {
        next += p->interval_ns;
        channel_wait(p->ch, next, feed, p);
        uint64_t now = now_ns();
        memtrack_tick(p->m, now);
        if (next + p->interval_ns < now)
            next = now;                 /* fell behind: no bursts */
    }
    return NULL;
}

struct mempump *mempump_start(struct channel *ch, struct capture_writer *w,
                              uint64_t start_ns, uint64_t interval_ns, int32_t only_pid,
                              int32_t only_tid, int memory)
{
    struct mempump *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ch = ch;
    p->interval_ns = interval_ns;
    const char *lag = getenv("STETHO_TEST_MEMORY_LAG_MS");
    if (lag)
        p->lag_ns = strtoull(lag, NULL, 10) % 60000 * 1000000u;   /* a minute at most */
    p->m = memtrack_new(w, start_ns);
    if (!p->m) {
        free(p);
        return NULL;
    }
    if (only_tid > 0)
        memtrack_only_thread(p->m, only_pid, only_tid);
    if (!memory)
        memtrack_calls_only(p->m);
    /* signals are for the main thread (attach's SIGINT, the child's exit) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&p->thread, NULL, run, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        memtrack_free(p->m);
        free(p);
        return NULL;
    }
    return p;
}

void mempump_now(struct mempump *p, struct cap_timeline_point *out)
{
    memtrack_now(p->m, out);
}

void mempump_finish(struct mempump *p, uint64_t end_ns, uint64_t peak_rss,
                    uint64_t peak_rss_t, struct mempump_result *out)
{
    atomic_store(&p->stop, 1);
    channel_wake(p->ch);                /* not a tick later: the run's end waits for it */
    pthread_join(p->thread, NULL);
    channel_drain(p->ch, feed, p);  /* what the agents flushed at exit */
    memtrack_finish(p->m, end_ns, peak_rss, peak_rss_t);
    out->events = memtrack_events(p->m);
    out->counted = memtrack_counted(p->m);
    memtrack_native_stats(p->m, &out->native_stacks, &out->native_partial);
    memtrack_free(p->m);
    free(p);
}
