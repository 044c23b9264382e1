/*
 * capture.h -- the capture file: what one profiled run recorded.
 *
 * A capture is written while the program runs (capw_*) and read back whole
 * by every report and export (capture_load).  Format: docs/capture-format.md.
 * In short: a 16-byte file header, then checksummed blocks of whole
 * records, zstd-compressed (one stream, flushed at the end of each block,
 * so a block decodes given the ones before it).  Strings, frames and
 * stacks are interned: each is defined once (in the block that first uses
 * it, or earlier) and referred to by a small id afterwards.  Because every
 * block holds whole records, a file cut anywhere (SIGKILL, disk full, a
 * crash) reads back up to its last whole block; capture_load() then sets
 * `truncated`.
 *
 * Writer contract: ids are dense from 1 (0 = none / the empty stack); the
 * writer keeps bounded memory besides its intern tables (one block buffer,
 * flushed when full or on capw_flush / capw_close).  Functions return 0 or
 * an id on success, -1 (or 0 for ids) on I/O error, after which the writer
 * only fails.  An undefined stack or frame id passed in is refused the same
 * way (errno EINVAL) but does no harm.  Thread-safe: every capw_* call is
 * one step under the writer's lock (the sampler and the memory thread share
 * one writer); capw_hold() .. capw_release() makes the calls between them,
 * from one thread, one step (the lock taken once for a batch: the memory
 * thread's per-stack records of a tick); capw_close must come after every
 * other call.
 *
 * Reader contract: capture_load() validates everything it reads (bounded
 * sizes, ids defined before use, checksums), never crashing.  A foreign
 * file or an unsupported version gives -1 and one line in `err`; a corrupt
 * or cut block ends the read there: 0, with `truncated` set, keeping the
 * blocks before it.  A file whose END record is missing is `truncated` too.
 * Unknown record types of a newer minor format version are skipped.  After
 * -1, *c is empty (capture_free is harmless).
 */
#ifndef STETHO_CAPTURE_H
#define STETHO_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum cap_frame_kind {
    CAP_FRAME_PYTHON = 0,
    CAP_FRAME_NATIVE = 1,
    CAP_FRAME_SYNTHETIC = 2,    /* [gc], [native], [unreadable], ... */
};

/* Why a thread was not on a CPU; indexes cap_sample.wait_ns. */
enum cap_wait {
    CAP_WAIT_IO = 0,
    CAP_WAIT_SLEEP = 1,
    CAP_WAIT_LOCK = 2,
    CAP_WAIT_GIL = 3,
    CAP_WAIT_OTHER = 4,
    CAP_WAIT_KINDS = 5,
};

/* One thread's sample: the stack it was in, and the time since that
 * thread's previous sample, split as the kernel accounted it.  Invariant
 * (kept by the sampler): wall_ns = user_ns + sys_ns + sum(wait_ns). */
struct cap_sample {
    int32_t pid, tid;
    uint32_t stack;             /* id; 0 = no Python frames */
    uint64_t t_ns;              /* when, since the capture's start */
    uint64_t wall_ns, user_ns, sys_ns;
    uint64_t wait_ns[CAP_WAIT_KINDS];
};

/* A profiled process (the program, and each followed child). */
struct cap_process {
    int32_t pid, ppid;
    uint64_t start_ns;          /* since the capture's start */
    char *python_version;       /* "3.11.7", or NULL if unknown */
    char *python_executable;
    int argc;
    char **argv;
    int has_exit;
    int32_t exit_code;          /* shell style: 128+N if killed by signal N */
    uint64_t end_ns;
};

struct cap_thread {
    int32_t pid, tid;
    char *name;                 /* may be NULL */
};

/* A native frame's file and lines are its source's when the module had
 * debug information, else the module's path and 0.  Its place is `module`
 * and the address inside the module's ELF file, what `addr2line -e
 * MODULE` takes (for a caller: the call's address); both 0 for every
 * other frame, and in captures made before they existed. */
struct cap_frame {
    uint32_t function, file;    /* string ids */
    int32_t line, first_line;
    uint8_t kind;               /* enum cap_frame_kind */
    uint32_t module;            /* module id, 0 = none */
    uint64_t addr;
};

/* A module native frames were in: its path as mapped, its build-id
 * (lower-case hex; string id 0 when it has none). */
struct cap_module {
    uint32_t path, build_id;    /* string ids */
};

struct cap_stack {
    uint32_t parent;            /* stack id; 0 = this is a root frame */
    uint32_t frame;             /* frame id, the innermost of this stack */
    uint32_t depth;             /* 1 for a root frame */
};

/* ---- memory (from the in-process agent, through stetho) ---- */

#define CAP_MEM_ALLOCATORS 8    /* wire/wire.h enum agent_allocator */
#define CAP_MEM_HIST 48         /* allocation sizes: bucket k holds sizes
                                   in [2^(k-1), 2^k), bucket 0 size 0 */

/* heap_bytes counts each recorded anonymous mapping by its resident part;
 * mapped_bytes is the whole size of those mappings, mapped_resident_bytes
 * their resident part (already in heap_bytes).  Captures made before these
 * figures existed read 0 for both. */
struct cap_timeline_point {
    uint64_t t_ns, rss_bytes, heap_bytes;
    uint64_t mapped_bytes, mapped_resident_bytes;
};

/* A stack's memory metrics in one thread: allocated in all, held when the
 * heap peaked, still held when its process began to finalize (leaked), and
 * how many of its blocks were freed before the thread allocated anything
 * else.  Memory, like time, is per (pid, tid, stack). */
struct cap_mem_stack {
    int32_t pid, tid;
    uint32_t stack;
    uint64_t alloc_bytes, alloc_count, peak_bytes, leaked_bytes, temporary_count;
    /* The whole size of its anonymous mappings at the peak / when leaked:
     * peak_bytes and leaked_bytes count only their resident part. */
    uint64_t peak_mapped_bytes, leaked_mapped_bytes;
    /* What it held at its latest MEM_LIVE record, counted as the heap is:
     * "held now" while the run goes on (0 in captures without them). */
    uint64_t live_bytes;
};

/* What a (pid, tid, stack) allocated in the interval ending at t_ns. */
struct cap_mem_interval {
    uint64_t t_ns;
    int32_t pid, tid;
    uint32_t stack;
    uint64_t bytes, count;
};

/* A stack's live bytes over the run (its growth): live[i] is what it held
 * at the end of bucket i, the time [i * bucket_ns, (i + 1) * bucket_ns)
 * since the capture's start; n buckets, the last one at most when its
 * process began to finalize (the run ended). */
struct cap_mem_growth {
    int32_t pid, tid;
    uint32_t stack;
    uint32_t n;
    uint64_t bucket_ns;
    const uint64_t *live;       /* reading: into capture.growth_values */
};

/* The garbage collector's counters of a process, as CPython keeps them
 * since its start (gc.get_stats()), when the sampler saw them change:
 * per generation, collections, objects collected, objects uncollectable. */
#define CAP_GC_GENERATIONS 3
struct cap_gc_point {
    uint64_t t_ns;
    int32_t pid;
    uint64_t collections[CAP_GC_GENERATIONS], collected[CAP_GC_GENERATIONS],
        uncollectable[CAP_GC_GENERATIONS];
};

/* One collection of the garbage collector, timed inside the process by
 * the agent (gc.callbacks: from its "start" to its "stop"). */
struct cap_gc_pause {
    uint64_t t_ns;              /* its start, since the capture's */
    int32_t pid, tid;
    uint32_t generation;        /* < CAP_GC_GENERATIONS */
    uint64_t duration_ns, collected, uncollectable;
};

/* One census of a process's live Python objects (memtrack.c): of the
 * blocks `stack` allocated and still held at t_ns, those whose type could
 * be read and checked (cpython/objtype.h), for one type: how many and
 * their bytes (estimates in a sampled capture, like every memory figure).
 * A census of a process is every record with its (pid, t_ns). */
struct cap_type_count {
    uint64_t t_ns;
    int32_t pid;
    uint32_t name;              /* string id: the type's tp_name */
    uint32_t stack;
    uint64_t count, bytes;
};

struct cap_mem_totals {
    uint64_t peak_heap_bytes, peak_heap_t_ns, peak_rss_bytes, peak_rss_t_ns;
    uint64_t alloc_bytes, alloc_count, leaked_bytes, temporary_count;
    uint64_t sample_mean;       /* 0: exact; else Poisson sampling mean (bytes) */
    uint64_t by_allocator_bytes[CAP_MEM_ALLOCATORS], by_allocator_count[CAP_MEM_ALLOCATORS];
    uint64_t size_hist[CAP_MEM_HIST];
    /* Anonymous mappings: their whole size and resident part when the heap
     * peaked (the resident part is in peak_heap_bytes), their whole size
     * when leaked (the resident part is in leaked_bytes). */
    uint64_t peak_mapped_bytes, peak_mapped_resident_bytes, leaked_mapped_bytes;
};

/* ---- exact call counts (`stetho run --calls`, from the agent) ----
 *
 * cProfile's figures, per process: with caller 0, a function's own row
 * (cProfile's table); otherwise the edge caller -> callee (its callers
 * list).  calls counts every call, primitive_calls those not made while
 * the function was already running; cum_ns is the time inside it counted
 * once per outermost call, own_ns the time in it minus its callees'.
 * Frames name the functions: a Python function by (name, file, first line),
 * a C function (kind NATIVE) by cProfile's label, file "~", line 0. */
struct cap_call {
    int32_t pid;
    uint32_t caller, callee;    /* frame ids; caller 0: the function itself */
    uint64_t calls, primitive_calls, cum_ns, own_ns;
};

/* ---- writing ---- */

struct capture_writer;

/* Creates (truncates) path.  interval_ns: the sampling interval asked for. */
struct capture_writer *capw_open(const char *path, uint64_t interval_ns);
uint32_t capw_string(struct capture_writer *w, const char *s);
uint32_t capw_frame(struct capture_writer *w, const char *function, const char *file,
                    int32_t line, int32_t first_line, enum cap_frame_kind kind);
/* A module (once per path and build-id; build_id NULL or "" if none). */
uint32_t capw_module(struct capture_writer *w, const char *path, const char *build_id);
/* A native frame: function, file and lines as for capw_frame, at address
 * addr of module (a capw_module id, or 0). */
uint32_t capw_native_frame(struct capture_writer *w, const char *function, const char *file,
                           int32_t line, int32_t first_line, uint32_t module, uint64_t addr);
/* The stack made of `parent` with `frame` called from its innermost frame. */
uint32_t capw_stack(struct capture_writer *w, uint32_t parent, uint32_t frame);
int capw_process(struct capture_writer *w, const struct cap_process *p);
int capw_process_exit(struct capture_writer *w, int32_t pid, int32_t exit_code,
                      uint64_t end_ns);
int capw_thread(struct capture_writer *w, int32_t pid, int32_t tid, const char *name);
int capw_sample(struct capture_writer *w, const struct cap_sample *s);
int capw_gc(struct capture_writer *w, const struct cap_gc_point *g);
/* Memory: a timeline point; what a stack allocated since the last
 * interval; a new peak of the heap, then the stacks whose share of it
 * changed; at the end, each stack's final metrics and the totals. */
int capw_timeline(struct capture_writer *w, const struct cap_timeline_point *p);
/* capw_mem_allocs: m's alloc_bytes/count are the interval's;
 * capw_mem_peak: p's t_ns, heap and mapped figures;
 * capw_mem_peak_stack: m's peak_bytes and peak_mapped_bytes. */
int capw_mem_allocs(struct capture_writer *w, uint64_t t_ns, const struct cap_mem_stack *m);
int capw_mem_peak(struct capture_writer *w, const struct cap_timeline_point *p);
int capw_mem_peak_stack(struct capture_writer *w, const struct cap_mem_stack *m);
int capw_mem_stack(struct capture_writer *w, const struct cap_mem_stack *m);
/* What m's stack holds at t_ns (m->live_bytes), written when it changed. */
int capw_mem_live(struct capture_writer *w, uint64_t t_ns, const struct cap_mem_stack *m);
int capw_mem_totals(struct capture_writer *w, const struct cap_mem_totals *t);
/* At the end, each stack's growth (g->live: its n values). */
int capw_mem_growth(struct capture_writer *w, const struct cap_mem_growth *g);
int capw_gc_pause(struct capture_writer *w, const struct cap_gc_pause *g);
/* One type's part of a census (t->name from capw_string). */
int capw_type_count(struct capture_writer *w, const struct cap_type_count *t);
/* One function's or edge's call counts (frames already written). */
int capw_call(struct capture_writer *w, const struct cap_call *c);

/* Ends the current block (written and fsync-free, so readable at once). */
int capw_flush(struct capture_writer *w);
/* Records the run's end and duration, flushes, closes; frees w. */
int capw_close(struct capture_writer *w, uint64_t duration_ns);
/* Bytes written so far (header and blocks). */
uint64_t capw_bytes(const struct capture_writer *w);
/* The calls this thread makes until capw_release() are one step: no other
 * thread's call comes between them.  A batch of many small records takes
 * the lock once instead of per record (deepstack in exact mode: ~2M
 * records a run, the lock ~5 % of stetho's CPU).  Hold it briefly: the
 * sampler waits meanwhile. */
void capw_hold(struct capture_writer *w);
void capw_release(struct capture_writer *w);

/* ---- reading ---- */

struct capture {
    uint32_t format_version;
    uint64_t interval_ns;
    uint64_t start_unix_ns;     /* wall-clock time of the capture's start */
    int has_duration;
    uint64_t duration_ns;
    int truncated;              /* stopped at a cut or corrupt block */
    char *truncation;           /* why, if truncated */

    char **strings;             /* [id], [0] = NULL */
    size_t nstrings;
    struct cap_frame *frames;   /* [id], [0] unused */
    size_t nframes;
    struct cap_stack *stacks;   /* [id], [0] = empty stack */
    size_t nstacks;
    struct cap_module *modules; /* [id], [0] = none; none in older captures */
    size_t nmodules;
    struct cap_process *processes;
    size_t nprocesses;
    struct cap_thread *threads;
    size_t nthreads;
    struct cap_sample *samples;
    size_t nsamples;
    struct cap_gc_point *gc;    /* in time order; none in older captures */
    size_t ngc;
    struct cap_gc_pause *gc_pauses;     /* as they ended; none without the
                                           agent, or in older captures */
    size_t ngc_pauses;
    struct cap_type_count *types;       /* censuses, in time order per
                                           process; none in older captures */
    size_t ntypes;

    /* memory; has_memory = 0 when the run recorded none */
    int has_memory;
    struct cap_timeline_point *timeline;
    size_t ntimeline;
    struct cap_mem_interval *mem_allocs;
    size_t nmem_allocs;
    struct cap_mem_stack *mem;  /* one per (pid, tid, stack); for a run cut
                                   short, built from what it wrote:
                                   allocations so far, the last peak, no
                                   leaks */
    size_t nmem;
    struct cap_mem_totals mem_totals;   /* likewise derived if cut short */
    int has_mem_totals;         /* written by the run itself */
    struct cap_mem_growth *growth;      /* per (pid, tid, stack); none in
                                           captures made before it existed */
    size_t ngrowth;
    uint64_t *growth_values;            /* what their `live` point into */
    size_t ngrowth_values;

    /* exact call counts; ncalls = 0 when the run did not count them */
    struct cap_call *calls;
    size_t ncalls;
};

/* 0 on success (possibly truncated), -1 with a one-line reason in err. */
int capture_load(const char *path, struct capture *c, char *err, size_t errlen);
/* The same from memory (for the fuzzer and tests). */
int capture_load_mem(const uint8_t *data, size_t size, struct capture *c,
                     char *err, size_t errlen);
void capture_free(struct capture *c);

#endif
