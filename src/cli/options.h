/*
 * options.h -- options shared by `run` and `attach`.
 *
 * Contract: options_parse_one() looks at argv[*i]; if it is a shared
 * option it consumes it (and its value, advancing *i) and returns 1; 0 if
 * it is not one of them; -1 after printing a one-line error for a bad
 * value.  options_capture_path() picks the capture file: -o as given, else
 * "stetho-<name>-<pid>.stetho" in the working directory; an -o whose
 * extension names an export format (x.json) is rendered after recording.
 */
#ifndef STETHO_CLI_OPTIONS_H
#define STETHO_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum memory_mode { MEMORY_OFF, MEMORY_EXACT, MEMORY_SAMPLED };

#define DEFAULT_SAMPLE_MEAN (64u << 10)

struct common_opts {
    double interval_ms;         /* default 10 */
    enum memory_mode memory;    /* run only */
    uint64_t sample_mean;       /* bytes, for MEMORY_SAMPLED */
    const char *output;         /* -o, or NULL */
    int quiet;
    int subprocesses;
    int async_tasks;            /* --async: asyncio tasks as roots */
    int native;                 /* --native[=WAY]: C/C++ frames in every sample
                                   (enum sampler_native) */
    int calls;                  /* run only: --calls, exact call counts */
    double duration_s;          /* attach only; 0 = none */
    int live;                   /* run only: --live, the view of `top` */
};

void options_defaults(struct common_opts *o);
int options_parse_one(struct common_opts *o, int argc, char **argv, int *i);
/* Returns the export format to render -o into when -o names one by its
 * extension ("x.json"); the capture then goes beside it ("x.stetho"). */
const char *options_capture_path(const struct common_opts *o, const char *name, pid_t pid,
                                 char *out, size_t len);

#define OPTIONS_HELP \
    "  -o, --output PATH     the capture file (default stetho-NAME-PID.stetho);\n" \
    "                        PATH.json: also render it as JSON there\n" \
    "  -i, --interval MS     sampling interval in milliseconds (default 10, jittered)\n" \
    "  --subprocesses        also profile child Python processes\n" \
    "  --async               asyncio programs: each task's await chain is a root\n" \
    "                        <task NAME> of its thread, a waiting task's time is\n" \
    "                        waiting of what it awaits (sleep, lock, io)\n" \
    "  --native[=WAY]        also the C/C++ frames, merged with the Python ones;\n" \
    "                        WAY perf: the kernel copies each thread's stack\n" \
    "                        (perf events), nothing is stopped; ptrace: the\n" \
    "                        threads are paused at every sample; auto (the\n" \
    "                        default): perf, else ptrace where perf is refused\n" \
    "  --memory MODE         run: exact (every allocation), sampled[:BYTES]\n" \
    "                        (Poisson sampling, mean 64 KiB), or off (default sampled)\n" \
    "  --calls               run: count every call (cProfile's table, beside the\n" \
    "                        sampled time: stetho table --calls)\n" \
    "  -q, --quiet           print nothing of stetho's own\n"

#endif
