/*
 * session.c -- the sampling loop: tick, write, sleep, until the end.
 *
 * This thread only samples: stacks, the RSS/heap timeline, flushes, on
 * absolute deadlines.  The agents' events are decoded on the memory thread
 * (memory/pump.h), so however fast the program allocates, ticks come on
 * time and each interval goes to the stack that ran in it; the heap figure
 * of the timeline is the memory thread's latest.
 */
#include "cli/session.h"
#include "cli/child.h"
#include "cli/cli.h"
#include "capture/capture.h"
#include "memory/pump.h"
#include "proc/resident.h"
#include "sampler/sampler.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_EVERY_NS 200000000ull

/* Set by SIGINT/SIGTERM during `attach`; a handler can only reach a static. */
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleep until `deadline` (monotonic ns); returns early on a signal. */
static void sleep_until(uint64_t deadline)
{
    struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* xorshift: the interval +-25%, so periodic code does not alias. */
static uint64_t jittered(uint64_t *state, uint64_t interval)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return interval * 3 / 4 + x % (interval / 2 + 1);
}

struct rss_peak {
    uint64_t bytes, t_ns;
};

/* A timeline point: the processes' RSS now, the heap as decoded so far. */
static void timeline_point(struct capture_writer *w, struct sampler *s, struct mempump *mem,
                           struct rss_files *files, uint64_t t_ns, struct rss_peak *peak)
{
    pid_t pids[64];
    size_t n = sampler_pids(s, pids, 64);
    struct cap_timeline_point p = { .t_ns = t_ns };
    for (size_t i = 0; i < n; i++)
        p.rss_bytes += rss_files_read(files, pids[i]);
    mempump_now(mem, &p);
    if (p.rss_bytes > peak->bytes)
        *peak = (struct rss_peak){ p.rss_bytes, t_ns };
    capw_timeline(w, &p);
}

int session_record(pid_t pid, int child, const struct session_opts *o,
                   struct session_result *res)
{
    memset(res, 0, sizeof *res);
    res->exit_status = -1;
    struct capture_writer *w = capw_open(o->capture_path, o->interval_ns);
    if (!w) {
        cli_error("cannot write the capture %s: %s", o->capture_path, strerror(errno));
        return -1;
    }
    if (!child) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);       /* no SA_RESTART: wake the sleep */
        sigaction(SIGTERM, &sa, NULL);
    }
    struct sampler_opts so = { .follow_children = o->follow_children, .argv = o->argv,
                               .interval_ns = o->interval_ns, .only_tid = o->only_tid,
                               .async_tasks = o->async_tasks, .native = o->native,
                               .quiet = o->quiet };
    uint64_t start = now_ns(), next = start, last_flush = start, rng = start | 1;
    struct sampler *s = sampler_new(w, &so, start);
    if (!s) {
        capw_close(w, 0);
        cli_error("out of memory");
        return -1;
    }
    sampler_add(s, pid, 0);
    struct mempump *mem = NULL;
    if (o->memory && !(mem = mempump_start(o->memory, w, start, o->interval_ns, pid,
                                           o->only_tid, o->record_memory))) {
        sampler_free(s);
        capw_close(w, 0);
        cli_error("out of memory");
        return -1;
    }
    struct rss_peak rss = { 0, 0 };
    struct rss_files rss_files = { 0 };
    int said_ready = 0;
    if (o->after_start)
        res->aborted = o->after_start(o->before_finish_ctx);

    while (!res->aborted) {
        uint64_t now = now_ns();
        if (child) {
            int status = -1;
            int w = child_wait(pid, &status, 0);
            if (w != 0) {
                res->exit_status = w > 0 ? status : -1;    /* -1: lost (waitpid failed) */
                sampler_exited(s, pid, res->exit_status, now);
                break;
            }
        } else if (kill(pid, 0) < 0 && errno == ESRCH) {
            sampler_exited(s, pid, -1, now);
            break;
        }
        if (stop_requested || (o->duration_s > 0 && (double)(now - start) / 1e9 >= o->duration_s)) {
            res->stopped = 1;
            break;
        }
        sampler_tick(s, now);
        if (o->ready_fd > 0 && !said_ready) {
            said_ready = 1;
            static const char ready[] = "ready\n";
            if (write(o->ready_fd, ready, sizeof ready - 1) < 0) {
                /* nobody listens: nothing to tell */
            }
        }
        if (mem && o->record_memory)
            timeline_point(w, s, mem, &rss_files, now_ns() - start, &rss);
        if (now - last_flush >= FLUSH_EVERY_NS) {
            capw_flush(w);
            last_flush = now;
        }
        next += jittered(&rng, o->interval_ns);
        now = now_ns();
        if (next < now)
            next = now;                 /* fell behind: no bursts */
        sleep_until(next);
    }
    uint64_t end = now_ns();
    rss_files_close(&rss_files);
    if (o->before_finish && !res->aborted)
        o->before_finish(o->before_finish_ctx);
    struct mempump_result mr = {0};
    if (mem)
        mempump_finish(mem, end, rss.bytes, rss.t_ns, &mr);
    if (o->record_memory) {
        res->memory_events = mr.events;
        res->memory_native_stacks = mr.native_stacks;
        res->memory_native_partial = mr.native_partial;
    }
    if (o->calls && !mr.counted)
        fprintf(stderr, "stetho: no call counts: the program sent none (it ended by os._exit "
                        "or a signal within its first second, or is not Python)\n");
    res->samples = sampler_samples(s);
    res->seconds = (double)(end - start) / 1e9;
    snprintf(res->error, sizeof res->error, "%s", sampler_last_error(s));
    res->native = o->native;
    sampler_native_stats(s, &res->native_stats);
    sampler_free(s);
    if (capw_close(w, end - start) < 0) {
        cli_error("error writing the capture %s: %s", o->capture_path, strerror(errno));
        return -1;
    }
    return 0;
}
