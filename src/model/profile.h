/*
 * profile.h -- the report model: a capture aggregated once, the way every
 * view and export reads it.
 *
 * Contract: profile_build reads a loaded capture (which must outlive the
 * profile) and owns everything it allocates until profile_free.  What it
 * holds:
 *
 * - Frame identity.  Frames are merged by TEXT: a function is (function,
 *   file, first line), a line is the same + line, however often the
 *   capture interned the strings; funcs[func_of[frame id]] and
 *   lines[line_of[frame id]], in order of the first frame id that has
 *   them.  Each knows whether it is the user's code or a library's
 *   (location.h).  One more function, PROF_NO_FRAMES at index none_func,
 *   stands for the empty stack (it gets no table metrics; exports use it
 *   so time outside Python still adds up).
 *
 * - The call tree.  Nodes are keyed by (parent node, function) -- or
 *   (parent node, line) with by_line -- so calls from different places
 *   stay apart.  Above the frames sit a root per thread ("Thread TID
 *   (name)") and, when the capture has several processes, a root per
 *   process; merge_threads puts every thread's stacks in one tree.  With
 *   collapse_libs, frames of the standard library and installed libraries
 *   are left out: a run of them that leads to a shown frame becomes one
 *   GROUP node (its key: the run's outermost function), a run that leads
 *   nowhere shown is folded into the nearest shown caller's self time (or,
 *   when the stack has no shown frame at all, kept as a childless group so
 *   the time stays visible).  With fold_recursion, a frame whose function
 *   (line, by_line) is its caller's is the caller's node: f -> f -> f is
 *   one node (exports that must keep stacks exact leave it off).  With
 *   merge_tasks, the `<task NAME>` roots of an `--async` capture become
 *   one `<task COROUTINE>` per coroutine, in the tree, the tables and
 *   prof_stack_funcs alike (model/tasks.h).
 *
 * - The tables.  Self = samples whose innermost frame is this node /
 *   function / line; total = samples with it anywhere on the stack,
 *   counted once per sample (so a recursive function is not counted
 *   twice).  Every metric is summed over the samples that count, so
 *   wall = user + sys + sum(wait) holds for every node as it does for
 *   each sample.
 *
 * - Threads and rows.  threads: every thread with samples (in order of
 *   its first sample, its samples in time order through sample_order),
 *   then those with only memory; rows: one per distinct (pid, tid, stack)
 *   with its summed metrics, its thread and its tree leaf, the samples'
 *   first (in order of first sight), then those that only allocated.
 *   A sample costs one look-up of its row.
 *
 * Call counts (a capture of `run --calls`): each function's exact
 * figures (prof_calls, cProfile's meaning: capture.h struct cap_call) and
 * the caller -> callee edges between functions, summed over the processes
 * the pid filter keeps; they are the whole run's (no thread or time-range
 * filter applies: the agent counts per process).
 *
 * Memory (when the capture has it) is aggregated the same way: each
 * (pid, tid, stack) entry of the capture's memory metrics counts like one
 * sample of that stack, so a stack that allocated but was never sampled
 * still gets its nodes (with samples = 0).  With a time range, only the
 * bytes allocated in it count: peak and leaked are moments of the whole
 * run, so they are left at 0; live_bytes (held now, the latest MEM_LIVE)
 * counts when the range has no end (t1_ns = UINT64_MAX: `top` after its
 * reset), else 0.  The pid, tid and time-range filters apply
 * to everything above.
 */
#ifndef STETHO_MODEL_PROFILE_H
#define STETHO_MODEL_PROFILE_H

#include <stdint.h>
#include <stdio.h>
#include "capture/capture.h"
#include "model/capinfo.h"
#include "model/metrics.h"
#include "util/kmap.h"

#define PROF_NO_FRAMES "[no Python frames]"

/* Exact call counts of a function or an edge (model/calls.h). */
struct prof_calls {
    uint64_t calls, primitive_calls, cum_ns, own_ns;
};

/* A function (function, file, first_line) or a line (the same + line). */
struct prof_site {
    const char *function, *file;        /* never NULL; file may be "" */
    int32_t first_line, line;   /* line = first_line for functions */
    uint32_t func;              /* its function: index into profile.funcs */
    uint8_t kind;               /* enum cap_frame_kind of its first frame */
    uint8_t loc;                /* enum loc_class of its file */
    struct prof_metrics self, total;
    struct prof_calls calls;    /* functions only; zero when not counted */
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
    int fold_recursion;         /* f -> f -> f is one node */
    int merge_tasks;            /* asyncio tasks: one root per coroutine
                                   (model/tasks.h) */
    unsigned skip;              /* PROF_NO_TREE, PROF_NO_TABLES: parts a
                                   view does not read, not built */
    int has_range;              /* only samples (and allocation intervals)
                                   with t0_ns <= t_ns < t1_ns */
    uint64_t t0_ns, t1_ns;
    int32_t pid, tid;           /* only this process / thread; 0 = any */
};

/* profile_opts.skip: with PROF_NO_TREE every row's leaf is the root;
 * PROF_ROWS_ONLY is for the views that walk the stacks themselves. */
#define PROF_NO_TREE 1u
#define PROF_NO_TABLES 2u
#define PROF_ROWS_ONLY (PROF_NO_TREE | PROF_NO_TABLES)

struct prof_thread {
    int32_t pid, tid;
    const char *name;           /* the capture's last name for it, or NULL */
    uint32_t root;              /* the tree node its stacks hang from
                                   (UINT32_MAX: it has only allocation intervals) */
    size_t first, nsamples;     /* its samples: sample_order[first ..) */
};

struct prof_row {
    int32_t pid, tid;
    uint32_t stack;             /* the capture's stack id */
    uint32_t thread;            /* index into profile.threads */
    uint32_t leaf;              /* the tree node its metrics went to */
    struct prof_metrics m;
};

struct profile {
    const struct capture *cap;
    struct profile_opts opts;
    struct prof_metrics total;          /* of every sample (and memory entry) counted */
    uint64_t t_first_ns, t_last_ns;     /* of the samples counted */
    struct prof_node *nodes;            /* [0] = the root */
    size_t nnodes;
    uint32_t *children;                 /* node indices, grouped by parent */
    struct prof_site *funcs;            /* per function, none_func last */
    size_t nfuncs;
    struct prof_site *lines;            /* per line */
    size_t nlines;
    uint32_t *func_of, *line_of;        /* [frame id] -> funcs, lines */
    uint32_t none_func;
    int nprocesses;                     /* distinct pids among the samples
                                           and memory entries */
    struct prof_thread *threads;
    size_t nthreads;
    struct kmap thread_index;           /* (pid << 32 | tid, 0) -> threads */
    uint32_t *sample_order;             /* sample indices grouped by thread */
    uint32_t *sample_row;               /* [sample] -> rows, or UINT32_MAX
                                           when the filters left it out */
    struct prof_row *rows;
    size_t nrows;
    struct kmap row_index;              /* (pid << 32 | tid, stack) -> rows */
    uint8_t *hidden;                    /* [frame id]: a library frame */
    int has_calls;                      /* the capture counted calls */
    struct prof_call_edge *call_edges;  /* caller -> callee, by funcs index */
    size_t ncall_edges;
    /* merge_tasks (model/tasks.h) */
    uint8_t *task_frame;                /* [frame id]: a `<task NAME>` frame */
    struct kmap task_merged;            /* (coroutine func, 0) -> its merged func */
    uint32_t task_func0, task_line0;    /* the first merged func and line */
    char **task_names;                  /* their names, owned */
    size_t ntask_names;
    struct kmap call_edge_index;        /* (caller, callee) -> call_edges */
};

struct prof_call_edge {
    uint32_t caller, callee;            /* indices into funcs */
    struct prof_calls c;
};

/* Aggregates c.  o may be NULL (all zero).  0, or -1 when out of memory. */
int profile_build(struct profile *p, const struct capture *c, const struct profile_opts *o);
void profile_free(struct profile *p);

/* The function or line a FRAME or GROUP node stands for. */
const struct prof_site *prof_node_site(const struct profile *p, const struct prof_node *n);

/* The row of (pid, tid, stack), or NULL if nothing of it was counted. */
const struct prof_row *prof_row_of(const struct profile *p, int32_t pid, int32_t tid,
                                   uint32_t stack);

/* The functions of stack, root first, into buf (room for cap->nstacks +
 * 1): indices into funcs; the empty stack is [none_func].  Returns how
 * many. */
size_t prof_stack_funcs(const struct profile *p, uint32_t stack, uint32_t *buf);

/* The metric's value, or the sample count for PROF_SAMPLES. */
#define PROF_SAMPLES (-1)
uint64_t prof_value(const struct prof_metrics *m, int metric);

#endif
