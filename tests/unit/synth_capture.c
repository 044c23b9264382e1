/*
 * synth_capture.c -- write a big synthetic capture, to measure the HTML
 * report on long runs (docs/html-report.md).  A test aid, not a test.
 *
 *   synth_capture OUT.stetho [SAMPLES [THREADS [SEED [memory]]]]
 *
 * Default: 1,000,000 samples from 8 threads sampled every 10 ms (so a run
 * of 1250 s).  The program it pretends to be: 600 functions in user code,
 * the standard library and installed libraries; a main thread that burns
 * CPU and workers that mostly wait (I/O, locks, sleep, the GIL); ten
 * phases, each with its own hot code.  Stacks are drawn from a pool made
 * by random walks over a fixed call graph, most often the first ones, as
 * in a real program where few stacks take most samples.  With "memory",
 * also what the memory agent records: every 200 ms each thread's
 * allocations on a few stacks, RSS and heap every 100 ms, and at the end
 * each stack's peak and leaked bytes.  Deterministic for a given seed.
 */
#include "capture/capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFUNCS 600
#define NCALLEES 5
#define NPHASES 10
#define POOL 400                /* stacks per (thread kind, phase) */
#define MAX_DEPTH 40
#define INTERVAL_NS 10000000ull

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Uniform in [0, 1). */
static double unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* An index in [0, n), the low ones most often. */
static unsigned skewed(unsigned n)
{
    double u = unit();
    return (unsigned)(u * u * u * n);
}

struct func {
    char name[48], file[96];
    int first_line;
    unsigned callees[NCALLEES];
};

static struct func funcs[NFUNCS];

static void make_funcs(void)
{
    static const char *const verbs[] = { "load", "parse", "render", "compute", "fetch", "encode",
                                         "decode", "merge", "scan", "update", "resolve", "emit" };
    static const char *const nouns[] = { "rows", "config", "page", "matrix", "batch", "token",
                                         "index", "cache", "frame", "record", "graph", "chunk" };
    for (unsigned i = 0; i < NFUNCS; i++) {
        struct func *f = &funcs[i];
        const char *verb = verbs[rnd() % 12], *noun = nouns[rnd() % 12];
        if (i < 300) {          /* user code */
            snprintf(f->name, sizeof f->name, "%s_%s_%u", verb, noun, i);
            snprintf(f->file, sizeof f->file, "/home/dev/app/app/module_%u.py", i / 10);
        } else if (i < 450) {   /* the standard library */
            snprintf(f->name, sizeof f->name, "%s%u", verb, i);
            snprintf(f->file, sizeof f->file, "/usr/lib/python3.11/%s_%u.py", noun, i / 15);
        } else {                /* installed libraries */
            snprintf(f->name, sizeof f->name, "Client.%s_%s", verb, noun);
            snprintf(f->file, sizeof f->file,
                     "/home/dev/.venv/lib/python3.11/site-packages/pkg%u/%s.py", i / 25, noun);
        }
        f->first_line = 10 + (int)(rnd() % 900);
        /* callees further down the list, so walks end */
        for (unsigned k = 0; k < NCALLEES; k++) {
            unsigned span = NFUNCS - i - 1;
            f->callees[k] = span ? i + 1 + (unsigned)(rnd() % (span < 120 ? span : 120)) : i;
        }
    }
}

/* A stack of the pool: a random walk from an entry function. */
static uint32_t walk(struct capture_writer *w, uint32_t parent, unsigned entry)
{
    uint32_t stack = parent;
    unsigned fi = entry;
    for (int depth = 0; depth < MAX_DEPTH; depth++) {
        const struct func *f = &funcs[fi];
        unsigned pick = skewed(NCALLEES);
        int leaf = depth >= 3 && (unit() < 0.15 || f->callees[pick] == fi);
        int line = f->first_line + (leaf ? 1 + (int)(rnd() % 12) : 2 + 3 * (int)pick);
        stack = capw_stack(w, stack, capw_frame(w, f->name, f->file, line, f->first_line,
                                                CAP_FRAME_PYTHON));
        if (leaf)
            break;
        fi = f->callees[pick];
    }
    if (unit() < 0.02)
        stack = capw_stack(w, stack, capw_frame(w, "[gc]", "", 0, 0, CAP_FRAME_SYNTHETIC));
    return stack;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: synth_capture OUT.stetho [SAMPLES [THREADS [SEED [memory]]]]\n");
        return 2;
    }
    uint64_t nsamples = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
    int nthreads = argc > 3 ? atoi(argv[3]) : 8;
    rng_state = argc > 4 ? strtoull(argv[4], NULL, 10) | 1 : 0x9e3779b97f4a7c15ull;
    if (nthreads < 1 || nthreads > 1000)
        nthreads = 8;
    int memory = argc > 5 && !strcmp(argv[5], "memory");

    struct capture_writer *w = capw_open(argv[1], INTERVAL_NS);
    if (!w) {
        perror(argv[1]);
        return 1;
    }
    make_funcs();
    char *pargv[] = { "python3", "app/main.py", "--workers", "7", NULL };
    struct cap_process proc = { .pid = 4242, .ppid = 1, .python_version = "3.11.7",
                                .python_executable = "/usr/bin/python3.11", .argc = 4,
                                .argv = pargv };
    capw_process(w, &proc);
    for (int t = 0; t < nthreads; t++) {
        char name[32];
        snprintf(name, sizeof name, t ? "worker-%d" : "MainThread", t);
        capw_thread(w, 4242, 4242 + t, name);
    }

    /* the pool: per thread kind (0 main, 1 worker) and phase */
    static uint32_t pool[2][NPHASES][POOL];
    uint32_t module = capw_stack(w, 0, capw_frame(w, "<module>", "/home/dev/app/app/main.py",
                                                  120, 1, CAP_FRAME_PYTHON));
    uint32_t mainf = capw_stack(w, module, capw_frame(w, "main", "/home/dev/app/app/main.py",
                                                      88, 80, CAP_FRAME_PYTHON));
    uint32_t boot = capw_stack(w, 0, capw_frame(w, "Thread._bootstrap",
                                                "/usr/lib/python3.11/threading.py", 995, 990,
                                                CAP_FRAME_PYTHON));
    boot = capw_stack(w, boot, capw_frame(w, "Thread.run", "/usr/lib/python3.11/threading.py",
                                          975, 970, CAP_FRAME_PYTHON));
    uint32_t wloop = capw_stack(w, boot, capw_frame(w, "worker_loop",
                                                    "/home/dev/app/app/workers.py", 40, 31,
                                                    CAP_FRAME_PYTHON));
    for (int k = 0; k < 2; k++)
        for (int p = 0; p < NPHASES; p++)
            for (int i = 0; i < POOL; i++) {
                /* each phase has its own few entry points */
                unsigned entry = (unsigned)(p * 24 + k * 12) + skewed(12);
                pool[k][p][i] = walk(w, k ? wloop : mainf, entry);
            }

    uint64_t ticks = (nsamples + (uint64_t)nthreads - 1) / (uint64_t)nthreads, written = 0;
    uint64_t heap = 50 << 20, peak = 0, peak_t = 0;
    for (uint64_t tick = 0; tick < ticks && written < nsamples; tick++) {
        int phase = (int)(tick * NPHASES / ticks);
        if (memory && tick % 10 == 0) {
            heap = heap + (rnd() % (4 << 20)) - (2 << 20) + (phase == 6 ? (1 << 20) : 0);
            struct cap_timeline_point tp = { .t_ns = tick * INTERVAL_NS,
                                             .rss_bytes = heap + (120 << 20), .heap_bytes = heap };
            capw_timeline(w, &tp);
            if (heap > peak) {
                peak = heap;
                peak_t = tick * INTERVAL_NS;
                struct cap_timeline_point pk = { .t_ns = peak_t, .heap_bytes = peak };
                capw_mem_peak(w, &pk);
            }
        }
        for (int t = 0; memory && tick % 20 == 0 && t < nthreads; t++)
            for (int k = 0; k < 3; k++) {
                struct cap_mem_stack m = { .pid = 4242, .tid = 4242 + t,
                                           .stack = pool[t ? 1 : 0][phase][skewed(POOL)],
                                           .alloc_bytes = 64 + rnd() % (1 << 20),
                                           .alloc_count = 1 + rnd() % 2000 };
                capw_mem_allocs(w, tick * INTERVAL_NS, &m);
            }
        for (int t = 0; t < nthreads && written < nsamples; t++, written++) {
            struct cap_sample s = { .pid = 4242, .tid = 4242 + t };
            int kind = t ? 1 : 0;
            s.stack = pool[kind][phase][skewed(POOL)];
            s.t_ns = tick * INTERVAL_NS + (uint64_t)t * 1000 + rnd() % 500000;
            s.wall_ns = INTERVAL_NS - 250000 + rnd() % 500000;
            uint64_t left = s.wall_ns;
            double busy = kind ? 0.25 + 0.2 * unit() : 0.85 + 0.1 * unit();
            s.user_ns = (uint64_t)(left * busy * 0.9);
            s.sys_ns = (uint64_t)(left * busy * 0.1);
            left -= s.user_ns + s.sys_ns;
            /* workers wait for one thing at a time, by kind of worker */
            int why = kind ? (t % 4 == 1 ? CAP_WAIT_IO : t % 4 == 2 ? CAP_WAIT_LOCK
                              : t % 4 == 3 ? CAP_WAIT_SLEEP : CAP_WAIT_GIL)
                           : CAP_WAIT_GIL;
            s.wait_ns[why] = left;
            if (capw_sample(w, &s) < 0) {
                fprintf(stderr, "synth_capture: write error\n");
                return 1;
            }
        }
    }
    uint64_t duration = ticks * INTERVAL_NS;
    if (memory) {
        /* the stacks' final numbers: a few of each pool held memory */
        struct cap_mem_totals tot = { .peak_heap_bytes = peak, .peak_heap_t_ns = peak_t,
                                      .sample_mean = 65536 };
        for (int k = 0; k < 2; k++)
            for (int p = 0; p < NPHASES; p++)
                for (int i = 0; i < 40; i++) {
                    struct cap_mem_stack m = { .pid = 4242, .tid = k ? 4243 : 4242,
                                               .stack = pool[k][p][i],
                                               .peak_bytes = rnd() % (1 << 20),
                                               .leaked_bytes = i % 7 ? 0 : rnd() % (1 << 16) };
                    tot.leaked_bytes += m.leaked_bytes;
                    capw_mem_stack(w, &m);
                }
        capw_mem_totals(w, &tot);
    }
    capw_process_exit(w, 4242, 0, duration);
    if (capw_close(w, duration) < 0) {
        fprintf(stderr, "synth_capture: write error\n");
        return 1;
    }
    printf("%llu samples, %d threads, %.0f s\n", (unsigned long long)written, nthreads,
           duration / 1e9);
    return 0;
}
