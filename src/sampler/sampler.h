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
 * With `native`, each sample's stack is the thread's Python and native
 * stacks merged (native/merge.h): native frames are CAP_FRAME_NATIVE
 * frames named by their function (else MODULE+0xADDRESS), their file the
 * module's path.  The native stacks are taken one of two ways:
 *  - perf (SAMPLER_NATIVE_AUTO, _PERF): nothing is stopped.  Each Python
 *    thread gets a perf event (native/perf.h) when first seen; a thread
 *    that ran since the last tick is unwound from the kernel's newest copy
 *    of its registers and stack; a thread blocked now (not running, no new
 *    copy) from where it entered the kernel (/proc/PID/task/TID/syscall:
 *    its stack holds still while it blocks), and that unwind is kept and
 *    reused for as long as it stays blocked there without running; a
 *    thread running with no new copy reuses its last native stack while
 *    its Python stack is the same, else has none (counted).  The Python
 *    stack is read at the tick, the copy is up to one interval of the
 *    thread's CPU time older: when the Python stack changed since the
 *    previous tick, a copy that does not merge fully with it is left out
 *    (counted) rather than put under frames it did not run in.
 *  - ptrace (SAMPLER_NATIVE_PTRACE, or AUTO when perf events are refused:
 *    then said once on stderr unless `quiet`, and in the stats): the
 *    threads of each process are held still (freeze.h) for the moment of
 *    reading both stacks, paused once per tick (the cost:
 *    sampler_native_stats).  _PERF never falls back: refused, it samples
 *    without native frames, and says so.
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
    int native;                 /* enum sampler_native (see above) */
    int quiet;                  /* nothing on stderr */
};

enum sampler_native {
    SAMPLER_NATIVE_OFF = 0,
    SAMPLER_NATIVE_AUTO,        /* perf, else ptrace */
    SAMPLER_NATIVE_PERF,
    SAMPLER_NATIVE_PTRACE,
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

/* --native: how the native stacks were taken and what it cost.  samples:
 * stacks merged; partial: of them, merged partially (their Python frames
 * all kept); missing: stacks written without native frames (a thread not
 * held, or with no copy yet).  ptrace: held_ns, the sum over ticks of the
 * pause.  perf: where the native stacks came from, and stetho's own time
 * unwinding them (unwind_ns). */
enum sampler_native_way { SAMPLER_WAY_NONE, SAMPLER_WAY_PERF, SAMPLER_WAY_PTRACE };
struct sampler_native_stats {
    uint64_t samples, partial, missing;
    int way;                    /* enum sampler_native_way: the last one used */
    char refused[160];          /* why perf events were refused, "" if not */
    uint64_t held_ns;           /* ptrace */
    uint64_t ticks;
    uint64_t copies, blocked, reused;   /* perf: from a kernel copy, a blocked
                                           thread's unwind, kept ones */
    uint64_t unwind_ns;         /* perf */
};
void sampler_native_stats(const struct sampler *s, struct sampler_native_stats *out);

#endif
