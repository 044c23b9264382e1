/*
 * profile.h -- a capture aggregated for reports: a call tree and flat
 * per-function and per-line tables, each with self and total metrics.
 *
 * Self = samples whose innermost frame is this node / function / line;
 * total = samples with it anywhere on the stack, counted once per sample
 * (so a recursive function is not counted twice).  Every metric is summed
 * over the samples that count, so wall = user + sys + sum(wait) holds for
 * every node as it does for each sample.
 *
 * Tree nodes are keyed by (parent node, function) -- or (parent node,
 * line) with by_line -- so calls from different places stay apart, and
 * the lines of one function merge unless asked not to.  Above the frames
 * sit a root per thread ("Thread TID (name)") and, when the capture has
 * several processes, a root per process; merge_threads puts every
 * thread's stacks in one tree instead.
 *
 * With collapse_libs, frames of the standard library and installed
 * libraries (location.h) are left out of the tree: a run of them that
 * leads to a shown frame becomes one GROUP node (its key: the run's
 * outermost function), a run that leads nowhere shown is folded into the
 * nearest shown caller's self time (or, when the stack has no shown
 * frame at all, kept as a childless group so the time stays visible).
 *
 * Memory (when the capture has it) is aggregated the same way: each
 * (pid, tid, stack) entry of the capture's memory metrics counts like one
 * sample of that stack, so a stack that allocated but was never sampled
 * still gets its nodes (with samples = 0).  With a time range, only the
 * bytes allocated in it count: peak and leaked are moments of the whole
 * run, so they are left at 0.
 */
#ifndef STETHO_REPORT_PROFILE_H
#define STETHO_REPORT_PROFILE_H

#include <stdint.h>
#include <stdio.h>
#include "capture/capture.h"

struct prof_metrics {
    uint64_t samples;
    uint64_t wall_ns, user_ns, sys_ns;
    uint64_t wait_ns[CAP_WAIT_KINDS];
    /* memory: as struct cap_mem_stack (estimates if the run sampled) */
    uint64_t alloc_bytes, alloc_count, peak_bytes, leaked_bytes, temporary_count;
};

/* The single number a report sorts and cuts by. */
enum prof_metric {
    PROF_WALL = 0,
    PROF_CPU = 1,               /* user + sys */
    PROF_USER = 2,
    PROF_SYS = 3,
    PROF_WAIT = 4,              /* every kind of wait */
    PROF_PEAK = 5,              /* bytes held when the heap peaked */
    PROF_ALLOCATED = 6,         /* bytes allocated */
    PROF_ALLOCATIONS = 7,       /* number of allocations */
    PROF_LEAKED = 8,            /* bytes still held at finalization */
    PROF_NMETRICS = 9,
};

enum prof_unit {
    PROF_UNIT_NS = 0,
    PROF_UNIT_BYTES = 1,
    PROF_UNIT_COUNT = 2,
};

/* The metric's value: nanoseconds, bytes or a count (prof_metric_unit).
 * Named for the time metrics it began with. */
uint64_t prof_metric_ns(const struct prof_metrics *m, enum prof_metric which);
uint64_t prof_wait_ns(const struct prof_metrics *m);
enum prof_unit prof_metric_unit(enum prof_metric which);
/* "wall", "cpu", ..., "peak", "allocated", "allocations", "leaked";
 * prof_metric_parse gives -1 for an unknown name. */
const char *prof_metric_name(enum prof_metric which);
int prof_metric_parse(const char *s, enum prof_metric *out);

/* Values as reports print them, into buf (PROF_FMT_LEN is always enough);
 * each returns buf.  "1.234s"; "512 B", "12.3 MiB" (binary units, three
 * significant digits); "1,234,567". */
#define PROF_FMT_LEN 32
char *prof_fmt_ns(char *buf, size_t len, uint64_t ns);
char *prof_fmt_bytes(char *buf, size_t len, uint64_t bytes);
char *prof_fmt_count(char *buf, size_t len, uint64_t n);
/* The one of the three that fits the metric's unit. */
char *prof_fmt_metric(char *buf, size_t len, enum prof_metric which, uint64_t v);
/* "io", "sleep", "lock", "gil", "other" */
const char *prof_wait_name(int kind);

/* A function (function, file, first_line) or a line (the same + line). */
struct prof_site {
    const char *function, *file;
    int32_t first_line, line;   /* line = first_line for functions */
    uint8_t kind;               /* enum cap_frame_kind of its first frame */
    struct prof_metrics self, total;
};

enum prof_node_kind {
    PROF_NODE_ROOT = 0,         /* node 0: everything */
    PROF_NODE_PROCESS = 1,
    PROF_NODE_THREAD = 2,
    PROF_NODE_FRAME = 3,        /* a function (or line) */
    PROF_NODE_GROUP = 4,        /* a run of hidden library frames */
};

struct prof_node {
    uint8_t kind;               /* enum prof_node_kind */
    uint32_t parent;            /* node index; the root's is 0 too */
    uint32_t site;              /* FRAME, GROUP: index into sites */
    int32_t pid, tid;           /* PROCESS, THREAD (pid also below them) */
    struct prof_metrics self, total;
    uint32_t *hidden;           /* GROUP: the distinct functions it hides */
    uint32_t nhidden, hidden_cap;
    uint32_t first_child, nchildren;    /* into profile.children */
};

struct profile_opts {
    int merge_threads;          /* one tree for all threads and processes */
    int collapse_libs;          /* hide library frames in the tree */
    int by_line;                /* tree nodes per line, not per function */
    int has_range;              /* only samples (and allocation intervals)
                                   with t0_ns <= t_ns < t1_ns */
    uint64_t t0_ns, t1_ns;
    int32_t pid, tid;           /* only this process / thread; 0 = any */
};

struct profile {
    const struct capture *cap;
    struct profile_opts opts;
    struct prof_metrics total;          /* of every sample (and memory entry) counted */
    uint64_t t_first_ns, t_last_ns;     /* of the samples counted */
    struct prof_node *nodes;            /* [0] = the root */
    size_t nnodes;
    uint32_t *children;                 /* node indices, grouped by parent */
    struct prof_site *funcs;            /* per function */
    size_t nfuncs;
    struct prof_site *lines;            /* per line */
    size_t nlines;
    int nprocesses;                     /* distinct pids among the samples
                                           and memory entries */
};

/* Aggregates c (which must outlive p).  0, or -1 when out of memory. */
int profile_build(struct profile *p, const struct capture *c, const struct profile_opts *o);
void profile_free(struct profile *p);

/* The function or line a FRAME or GROUP node stands for. */
const struct prof_site *prof_node_site(const struct profile *p, const struct prof_node *n);

/* Thread name from the capture's thread records (the last one given), or NULL. */
const char *capture_thread_name(const struct capture *c, int32_t pid, int32_t tid);
/* The capture's process record of pid, or NULL. */
const struct cap_process *capture_process(const struct capture *c, int32_t pid);
/* Where a stack "is" for a location list: its innermost Python frame, or
 * its innermost frame when it has no Python one ([native], ...); NULL for
 * the empty stack or an unknown id. */
const struct cap_frame *capture_stack_site(const struct capture *c, uint32_t stack);

void prof_metrics_add(struct prof_metrics *m, const struct cap_sample *s);
/* Adds a memory entry's five metrics (samples and times untouched). */
void prof_metrics_add_mem(struct prof_metrics *m, const struct cap_mem_stack *s);

#endif
