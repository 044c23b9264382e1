/*
 * session.c -- the sampling loop: tick, write, sleep, until the end.
 */
#include "cli/session.h"
#include "cli/child.h"
#include "cli/cli.h"
#include "capture/capture.h"
#include "memory/channel.h"
#include "memory/memtrack.h"
#include "sampler/sampler.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

static void feed(void *ctx, const uint8_t *chunk, size_t len)
{
    memtrack_feed(ctx, chunk, len);
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
    struct sampler_opts so = { o->follow_children, o->argv, o->interval_ns };
    uint64_t start = now_ns(), next = start, last_flush = start, rng = start | 1;
    struct sampler *s = sampler_new(w, &so, start);
    if (!s) {
        capw_close(w, 0);
        cli_error("out of memory");
        return -1;
    }
    sampler_add(s, pid, 0);
    struct memtrack *mem = o->memory ? memtrack_new(w, start) : NULL;

    for (;;) {
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
        if (stop_requested || (o->duration_s > 0 && (double)(now - start) / 1e9 >= o->duration_s))
            break;
        sampler_tick(s, now);
        if (mem) {
            pid_t pids[64];
            size_t n = sampler_pids(s, pids, 64);
            memtrack_tick(mem, now, pids, n);
        }
        if (now - last_flush >= FLUSH_EVERY_NS) {
            capw_flush(w);
            last_flush = now;
        }
        next += jittered(&rng, o->interval_ns);
        now = now_ns();
        if (next < now)
            next = now;                 /* fell behind: no bursts */
        if (mem)
            channel_wait(o->memory, next, feed, mem);
        else
            sleep_until(next);
    }
    uint64_t end = now_ns();
    if (mem) {
        channel_drain(o->memory, feed, mem);    /* what the agents flushed at exit */
        memtrack_finish(mem, end);
        res->memory_events = memtrack_events(mem);
        memtrack_free(mem);
    }
    res->samples = sampler_samples(s);
    res->seconds = (double)(end - start) / 1e9;
    snprintf(res->error, sizeof res->error, "%s", sampler_last_error(s));
    sampler_free(s);
    if (capw_close(w, end - start) < 0) {
        cli_error("error writing the capture %s: %s", o->capture_path, strerror(errno));
        return -1;
    }
    return 0;
}
