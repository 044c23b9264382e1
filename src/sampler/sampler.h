/*
 * sampler.h -- sample Python processes from outside into a capture.
 *
 * Contract: a sampler watches a set of processes (the program, and with
 * `follow_children` every descendant it finds).  Each sampler_tick() reads
 * every Python thread's stack and the kernel's time accounting for it, and
 * writes one sample per thread to the capture, weighted by the real time
 * since that thread's previous sample.  An interval much longer than the
 * one asked for (over 3 times, and over it + 50 ms: the sampler was held
 * up, or the thread could not be read for a while) that ends in another
 * stack than it began is not all given to the stack seen at its end: that
 * stack gets one nominal interval, the time before it goes to a
 * "[unsampled]" root frame of the thread, split by the same proportions of
 * CPU and waiting.  Processes whose interpreter is not
 * up yet (or that exec'd) are rediscovered on later ticks; a process that
 * is not Python is watched (for its children) but not sampled.  The target
 * is never stopped or modified.
 *
 * With `async_tasks`, a thread running an asyncio event loop is sampled
 * as its tasks (cpython/asyncio.h): the task running now takes the
 * thread's sample, its stack rooted at a synthetic `<task NAME>` frame;
 * with no task running the sample is the loop's own, rooted at
 * `<event loop>`; and every task suspended on that loop gets a sample of
 * the same wall time, all of it waiting of the kind it awaits (sleep,
 * lock, io; "other" for anything else and for a task ready to run but
 * waiting for the loop).  A thread's total is then the sum over its tasks.
 *
 * With `native`, the threads of each process are held still (ptrace,
 * freeze.h) for the moment of reading their Python and native stacks, and
 * each sample's stack is the two merged (native/merge.h): native frames are
 * CAP_FRAME_NATIVE frames named by their function (else MODULE+0xADDRESS),
 * their file the module's path.  The target is then paused once per tick
 * (the cost: sampler_native_stats).
 */
#ifndef STETHO_SAMPLER_H
#define STETHO_SAMPLER_H

#include <stdint.h>
#include <sys/types.h>
#include "capture/capture.h"

struct sampler_opts {
    int follow_children;
    char *const *argv;          /* the program's argv, if /proc no longer has it */
    uint64_t interval_ns;       /* the sampling interval asked for; 0: no limit
                                   on the interval a sample stands for */
    pid_t only_tid;             /* > 0: of the program, sample this thread alone */
    int async_tasks;            /* asyncio tasks as roots of their thread */
    int native;                 /* native frames merged in (see above) */
};

struct sampler;

/* start_ns: CLOCK_MONOTONIC time the capture's t=0 refers to. */
struct sampler *sampler_new(struct capture_writer *w, const struct sampler_opts *o,
                            uint64_t start_ns);
void sampler_free(struct sampler *s);

/* Watch pid (ppid 0 for the program itself). */
int sampler_add(struct sampler *s, pid_t pid, pid_t ppid);

/* Sample everything once; now_ns on CLOCK_MONOTONIC. */
void sampler_tick(struct sampler *s, uint64_t now_ns);

/* Record that pid ended (exit_code < 0: unknown, e.g. not our child). */
void sampler_exited(struct sampler *s, pid_t pid, int exit_code, uint64_t now_ns);

/* The pids of the processes alive now (at most max); returns how many. */
size_t sampler_pids(const struct sampler *s, pid_t *pids, size_t max);

/* Number of samples written, and the last discovery error of the program
 * (for a message when nothing could be sampled). */
uint64_t sampler_samples(const struct sampler *s);
const char *sampler_last_error(const struct sampler *s);

/* --native: samples whose native and Python stacks matched only partially
 * (their Python frames all kept), and the time the threads were held. */
struct sampler_native_stats {
    uint64_t samples, partial;
    uint64_t held_ns;           /* sum over ticks of the pause */
    uint64_t ticks;
};
void sampler_native_stats(const struct sampler *s, struct sampler_native_stats *out);

#endif
