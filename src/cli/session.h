/*
 * session.h -- record one profiling session into a capture file.
 *
 * Contract: session_record() samples `pid` (and, if asked, its
 * descendants) every interval (jittered) until the program exits, a
 * SIGINT/SIGTERM reaches stetho (attach only: for `run` those go to the
 * program), or `duration_s` passes; it flushes the capture every 200 ms, so
 * a killed stetho leaves a readable file.  If `child` is set, pid is our
 * child: its exit status is reaped into *exit_status (shell style).
 * With `memory`, the agents' events are decoded on a thread of their own
 * (memory/pump.h): memory metrics in the same capture with
 * `record_memory`, and a timeline point (RSS, heap) at every tick; call
 * counts with `calls`.
 * With a ready_fd, "ready" is written there once the first tick is done,
 * so whoever waits on it knows time is being sampled.  A run with `calls`
 * that got no counts says so on stderr and keeps the rest.
 * Returns 0, or -1 with a one-line message printed (capture not writable).
 */
#ifndef STETHO_CLI_SESSION_H
#define STETHO_CLI_SESSION_H

#include <stdint.h>
#include <sys/types.h>
#include "sampler/sampler.h"

struct channel;

struct session_opts {
    uint64_t interval_ns;
    struct channel *memory;     /* the agents' FIFO, or NULL: time only */
    int record_memory;          /* memory events come on it */
    int calls;                  /* call counts come on it (--calls) */
    int follow_children;
    int async_tasks;            /* sampler_opts.async_tasks */
    int native;                 /* sampler_opts.native (enum sampler_native) */
    int quiet;                  /* sampler_opts.quiet */
    double duration_s;          /* 0: no limit */
    const char *capture_path;
    char *const *argv;          /* the program's, for the capture */
    pid_t only_tid;             /* > 0: of pid, this thread alone */
    int ready_fd;               /* > 0: "ready\n" is written there after the
                                   first sample (attach --handshake); 0: none
                                   (stdin is never where one tells) */
    int (*after_start)(void *ctx);      /* called once the memory thread reads
                                           the FIFO, before the first tick
                                           (attach --memory starts the agent:
                                           a FIFO nobody read would block it);
                                           non-zero: stop at once, nothing
                                           recorded, res->aborted is that */
    void (*before_finish)(void *ctx);   /* called once sampling ended, before
                                           the memory events left are read
                                           (attach --memory stops the agent) */
    void *before_finish_ctx;            /* ctx of both */
};

struct session_result {
    int exit_status;            /* -1 if unknown */
    uint64_t samples;
    uint64_t memory_events;
    uint64_t memory_native_stacks;      /* --native: (Python, native) stacks
                                           of allocations merged, */
    uint64_t memory_native_partial;     /* of which partially */
    double seconds;
    char error[512];            /* why nothing was sampled, if so */
    int stopped;                /* ended by a stop (Ctrl-C, SIGTERM, --duration),
                                   not by the program's end */
    int aborted;                /* after_start's non-zero status */
    int native;                 /* --native, and what it cost: */
    struct sampler_native_stats native_stats;
};

int session_record(pid_t pid, int child, const struct session_opts *o,
                   struct session_result *res);

#endif
