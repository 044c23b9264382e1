/*
 * reader.c -- loading a whole capture file (capture_load, capture_load_mem).
 *
 * Blocks are read in order.  Each is checked (magic, lengths, CRC), fed to
 * the one zstd stream decoder, and then its records are walked twice: once
 * to validate every field and id reference, once to store them.  So a bad
 * block leaves no trace and the capture holds exactly the blocks before it;
 * reading stops there with `truncated` set.  Only a bad file header makes
 * the load fail.  Every length read from the file is checked against the
 * bytes that remain before anything is allocated for it.
 */
#include "capture/capture.h"
#include "capture/format.h"
#include "capture/varint.h"
#include "util/kmap.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

struct loader {
    struct capture *c;
    size_t strings_cap, frames_cap, stacks_cap, modules_cap, processes_cap, threads_cap, samples_cap;
    size_t timeline_cap, allocs_cap, mem_cap, growth_cap, growth_values_cap, gc_cap, calls_cap, types_cap, pauses_cap;
    struct kmap mem_index;      /* (pid, tid, stack) -> mem[i] */
    int mem_final;              /* MEM_STACK records seen: they are the truth */
    ZSTD_DCtx *dz;
    uint8_t *raw;               /* the current block, decompressed */
    size_t raw_cap;
    char why[160];              /* why the current block is bad */
    long bad_record;            /* which record of it, or -1 */
};

/* Per-block decoding state: id counts so far and the sample delta base. */
struct blockstate {
    size_t nstrings, nframes, nstacks, nmodules;
    int32_t prev_pid, prev_tid;
    uint64_t prev_t;
    struct capf_last last[CAPF_THREAD_SLOTS];
};

/* A string field: not copied until the record is known good. */
struct sview {
    const uint8_t *p;
    size_t len;
    int present;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Makes index n of an array fit: the array, or NULL (the old one is kept). */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap <= n)
        ncap *= 2;
    if (ncap > SIZE_MAX / size)
        return NULL;
    void *p = realloc(arr, ncap * size);
    if (p)
        *cap = ncap;
    return p;
}

static char *dup_view(const struct sview *v, int *oom)
{
    if (!v->present)
        return NULL;
    char *s = malloc(v->len + 1);
    if (!s) {
        *oom = 1;
        return NULL;
    }
    memcpy(s, v->p, v->len);
    s[v->len] = '\0';
    return s;
}

/* ---- field decoding: each sets cur->bad on anything out of range ---- */

static uint32_t get_u32(struct vcur *r)
{
    uint64_t v = vcur_varint(r);
    if (v > UINT32_MAX)
        r->bad = 1;
    return (uint32_t)v;
}

static int32_t get_i32(struct vcur *r)
{
    int64_t v = vcur_svarint(r);
    if (v < INT32_MIN || v > INT32_MAX)
        r->bad = 1;
    return (int32_t)v;
}

/* An int32 stored as a difference from `base`. */
static int32_t get_i32_delta(struct vcur *r, int32_t base)
{
    int64_t d = vcur_svarint(r);
    if (d < -((int64_t)1 << 32) || d > ((int64_t)1 << 32)) {
        r->bad = 1;
        return 0;
    }
    int64_t v = base + d;
    if (v < INT32_MIN || v > INT32_MAX)
        r->bad = 1;
    return (int32_t)v;
}

static void get_str(struct vcur *r, struct sview *v)
{
    uint64_t n = vcur_varint(r);

    memset(v, 0, sizeof *v);
    if (n == 0 || r->bad)
        return;
    if (n - 1 > vcur_left(r)) {
        r->bad = 1;
        r->p = r->end;
        return;
    }
    v->p = r->p;
    v->len = (size_t)(n - 1);
    v->present = 1;
    r->p += v->len;
}

/* ---- records ---- */

/* Each returns 0, -1 for a bad record (reason in ld->why), or -2 when out
 * of memory.  With apply == 0 they only validate. */

static int rec_string(struct loader *ld, struct blockstate *bs, struct vcur *r, int apply)
{
    struct capture *c = ld->c;

    if (apply) {
        struct sview v = { r->p, vcur_left(r), 1 };
        int oom = 0;
        char **a = grow(c->strings, &ld->strings_cap, c->nstrings, sizeof *a);
        if (!a)
            return -2;
        c->strings = a;
        a[c->nstrings] = dup_view(&v, &oom);
        if (oom)
            return -2;
        c->nstrings++;
    }
    bs->nstrings++;
    return 0;
}

static int rec_frame(struct loader *ld, struct blockstate *bs, struct vcur *r, int apply)
{
    struct cap_frame f;
    struct capture *c = ld->c;

    f.function = get_u32(r);
    f.file = get_u32(r);
    f.line = get_i32(r);
    f.first_line = get_i32(r);
    uint64_t kind = vcur_varint(r);
    if (r->bad || kind > UINT8_MAX)
        return snprintf(ld->why, sizeof ld->why, "bad frame record"), -1;
    f.kind = (uint8_t)kind;
    f.module = 0;
    f.addr = 0;
    if (vcur_left(r)) {                 /* format 1.2: a native frame's place */
        f.module = get_u32(r);
        f.addr = vcur_varint(r);
        if (r->bad)
            return snprintf(ld->why, sizeof ld->why, "bad frame record"), -1;
        if (f.module >= bs->nmodules)
            return snprintf(ld->why, sizeof ld->why, "frame names undefined module %u",
                            f.module), -1;
    }
    if (f.function >= bs->nstrings || f.file >= bs->nstrings)
        return snprintf(ld->why, sizeof ld->why, "frame names undefined string %u",
                        f.function >= bs->nstrings ? f.function : f.file), -1;
    if (apply) {
        struct cap_frame *a = grow(c->frames, &ld->frames_cap, c->nframes, sizeof *a);
        if (!a)
            return -2;
        c->frames = a;
        a[c->nframes++] = f;
    }
    bs->nframes++;
    return 0;
}

static int rec_module(struct loader *ld, struct blockstate *bs, struct vcur *r, int apply)
{
    struct cap_module m;
    struct capture *c = ld->c;

    m.path = get_u32(r);
    m.build_id = get_u32(r);
    if (r->bad)
        return snprintf(ld->why, sizeof ld->why, "bad module record"), -1;
    if (m.path >= bs->nstrings || m.build_id >= bs->nstrings)
        return snprintf(ld->why, sizeof ld->why, "module names undefined string %u",
                        m.path >= bs->nstrings ? m.path : m.build_id), -1;
    if (apply) {
        struct cap_module *a = grow(c->modules, &ld->modules_cap, c->nmodules, sizeof *a);
        if (!a)
            return -2;
        c->modules = a;
        a[c->nmodules++] = m;
    }
    bs->nmodules++;
    return 0;
}

static int rec_stack(struct loader *ld, struct blockstate *bs, struct vcur *r, int apply)
{
    struct cap_stack s;
    struct capture *c = ld->c;

    s.parent = get_u32(r);
    s.frame = get_u32(r);
    if (r->bad)
        return snprintf(ld->why, sizeof ld->why, "bad stack record"), -1;
    if (s.parent >= bs->nstacks)
        return snprintf(ld->why, sizeof ld->why, "stack names undefined parent %u", s.parent), -1;
    if (s.frame == 0 || s.frame >= bs->nframes)
        return snprintf(ld->why, sizeof ld->why, "stack names undefined frame %u", s.frame), -1;
    if (apply) {
        struct cap_stack *a = grow(c->stacks, &ld->stacks_cap, c->nstacks, sizeof *a);
        if (!a)
            return -2;
        c->stacks = a;
        uint32_t pd = s.parent ? a[s.parent].depth : 0;
        s.depth = pd < UINT32_MAX ? pd + 1 : pd;
        a[c->nstacks++] = s;
    }
    bs->nstacks++;
    return 0;
}

static int rec_call(struct loader *ld, struct blockstate *bs, struct vcur *r, int apply)
{
    struct capture *c = ld->c;
    struct cap_call k;

    k.pid = get_i32(r);
    k.caller = get_u32(r);
    k.callee = get_u32(r);
    k.calls = vcur_varint(r);
    k.primitive_calls = vcur_varint(r);
    k.cum_ns = vcur_varint(r);
    k.own_ns = vcur_varint(r);
    if (r->bad)
        return snprintf(ld->why, sizeof ld->why, "bad calls record"), -1;
    if (k.callee == 0 || k.callee >= bs->nframes || k.caller >= bs->nframes)
        return snprintf(ld->why, sizeof ld->why, "calls record names undefined frame %u",
                        k.callee >= bs->nframes || !k.callee ? k.callee : k.caller), -1;
    if (apply) {
        struct cap_call *a = grow(c->calls, &ld->calls_cap, c->ncalls, sizeof *a);
        if (!a)
            return -2;
        c->calls = a;
        a[c->ncalls++] = k;
    }
    return 0;
}

static void free_process(struct cap_process *p)
{
    free(p->python_version);
    free(p->python_executable);
    if (p->argv)
        for (int i = 0; i < p->argc; i++)
            free(p->argv[i]);
    free(p->argv);
}

static int rec_process(struct loader *ld, struct vcur *r, int apply)
{
    struct capture *c = ld->c;
    struct sview version, exe, arg;
    struct cap_process p;
    int oom = 0;

    memset(&p, 0, sizeof p);
    p.pid = get_i32(r);
    p.ppid = get_i32(r);
    p.start_ns = vcur_varint(r);
    get_str(r, &version);
    get_str(r, &exe);
    uint64_t argc = vcur_varint(r);
    /* Every argument takes at least one byte: no allocating for lies. */
    if (r->bad || argc > vcur_left(r) || argc >= INT_MAX)
        return snprintf(ld->why, sizeof ld->why, "bad process record"), -1;
    if (!apply) {
        for (uint64_t i = 0; i < argc; i++)
            get_str(r, &arg);
        return r->bad ? (snprintf(ld->why, sizeof ld->why, "bad process record"), -1) : 0;
    }

    struct cap_process *a = grow(c->processes, &ld->processes_cap, c->nprocesses, sizeof *a);
    if (!a)
        return -2;
    c->processes = a;
    p.python_version = dup_view(&version, &oom);
    p.python_executable = dup_view(&exe, &oom);
    p.argv = calloc((size_t)argc + 1, sizeof *p.argv);
    if (!p.argv)
        oom = 1;
    else
        for (p.argc = 0; p.argc < (int)argc; p.argc++) {
            get_str(r, &arg);
            p.argv[p.argc] = dup_view(&arg, &oom);
        }
    if (oom) {
        free_process(&p);
        return -2;
    }
    a[c->nprocesses++] = p;
    return 0;
}

static int rec_process_exit(struct loader *ld, struct vcur *r, int apply)
{
    struct capture *c = ld->c;
    int32_t pid = get_i32(r), code = get_i32(r);
    uint64_t end = vcur_varint(r);

    if (r->bad)
        return snprintf(ld->why, sizeof ld->why, "bad process exit record"), -1;
    if (!apply)
        return 0;
    /* The latest process with that pid: pids are reused.  An exit for a
     * process never announced is of no use to anyone; drop it. */
    for (size_t i = c->nprocesses; i-- > 0;)
        if (c->processes[i].pid == pid) {
            c->processes[i].has_exit = 1;
            c->processes[i].exit_code = code;
            c->processes[i].end_ns = end;
            break;
        }
    return 0;
}

static int rec_thread(struct loader *ld, struct vcur *r, int apply)
{
    struct capture *c = ld->c;
    struct cap_thread t;
    struct sview name;
    int oom = 0;

    t.pid = get_i32(r);
    t.tid = get_i32(r);
    get_str(r, &name);
    if (r->bad)
        return snprintf(ld->why, sizeof ld->why, "bad thread record"), -1;
    if (!apply)
        return 0;
    struct cap_thread *a = grow(c->threads, &ld->threads_cap, c->nthreads, sizeof *a);
    if (!a)
        return -2;
    c->threads = a;
    t.name = dup_view(&name, &oom);
    if (oom)
        return -2;
    a[c->nthreads++] = t;
    return 0;
}

static int rec_sample(struct loader *ld, struct blockstate *bs, struct vcur *r, int apply)
{
    struct capture *c = ld->c;
    struct cap_sample s;
    uint64_t comp[CAPF_COMPONENTS] = { 0 }, sum = 0;
    uint64_t flags = vcur_varint(r);
    int implied = (int)((flags >> CAPF_S_IMPLIED_SHIFT) & 7) - 1;

    memset(&s, 0, sizeof s);
    if ((flags & ~(uint64_t)CAPF_S_ALL) ||
        (implied >= 0 && (implied >= CAPF_COMPONENTS || !(flags & (1u << implied)))))
        return snprintf(ld->why, sizeof ld->why, "bad sample flags %#llx",
                        (unsigned long long)flags), -1;
    s.pid = flags & CAPF_S_PID ? get_i32_delta(r, bs->prev_pid) : bs->prev_pid;
    s.tid = get_i32_delta(r, bs->prev_tid);
    s.stack = get_u32(r);
    s.t_ns = bs->prev_t + (uint64_t)vcur_svarint(r);
    if (flags & CAPF_S_WALL)
        s.wall_ns = vcur_varint(r);
    else if (!capf_predict(bs->last, s.pid, s.tid, s.t_ns, &s.wall_ns))
        return snprintf(ld->why, sizeof ld->why, "sample wall time has no prediction"), -1;
    int overflow = 0;
    for (int i = 0; i < CAPF_COMPONENTS; i++)
        if ((flags & (1u << i)) && i != implied) {
            comp[i] = vcur_varint(r);
            overflow |= sum + comp[i] < sum;
            sum += comp[i];
        }
    if (r->bad)
        return snprintf(ld->why, sizeof ld->why, "bad sample record"), -1;
    if (implied >= 0) {
        if (overflow || sum > s.wall_ns)
            return snprintf(ld->why, sizeof ld->why, "sample times exceed its wall time"), -1;
        comp[implied] = s.wall_ns - sum;
    }
    if (s.stack >= bs->nstacks)
        return snprintf(ld->why, sizeof ld->why, "sample names undefined stack %u", s.stack), -1;
    s.user_ns = comp[0];
    s.sys_ns = comp[1];
    for (int i = 0; i < CAP_WAIT_KINDS; i++)
        s.wait_ns[i] = comp[2 + i];
    bs->prev_pid = s.pid;
    bs->prev_tid = s.tid;
    bs->prev_t = s.t_ns;
    capf_remember(bs->last, s.pid, s.tid, s.t_ns);
    if (apply) {
        struct cap_sample *a = grow(c->samples, &ld->samples_cap, c->nsamples, sizeof *a);
        if (!a)
            return -2;
        c->samples = a;
        a[c->nsamples++] = s;
    }
    return 0;
}

/* The metrics entry of (pid, tid, stack), made (zeroed) if new. */
static struct cap_mem_stack *mem_slot(struct loader *ld, int32_t pid, int32_t tid,
                                      uint64_t stack)
{
    struct capture *c = ld->c;
    /* room first, so an index entry always names a stored element */
    struct cap_mem_stack *a = grow(c->mem, &ld->mem_cap, c->nmem, sizeof *a);
    if (!a || c->nmem >= UINT32_MAX)
        return NULL;
    c->mem = a;
    int isnew;
    uint32_t *k = kmap_put(&ld->mem_index, kmap_pair32((uint32_t)pid, (uint32_t)tid), stack,
                           (uint32_t)c->nmem, &isnew);
    if (!k)
        return NULL;
    if (isnew)
        a[c->nmem++] = (struct cap_mem_stack){ .pid = pid, .tid = tid, .stack = (uint32_t)stack };
    assert(*k < c->nmem && a[*k].stack == stack);
    return &a[*k];
}

/* A field a later writer appended: 0 when the record ends before it. */
static uint64_t trailing(struct vcur *r)
{
    return vcur_left(r) ? vcur_varint(r) : 0;
}

/* TIMELINE and MEM_* records (docs/capture-format.md). */
static int rec_memory(struct loader *ld, struct blockstate *bs, struct vcur *r, uint64_t type,
                      int apply)
{
    struct capture *c = ld->c;
    uint64_t t = 0, f[5] = {0}, stack = 0, x[3] = {0};
    int32_t pid = 0, tid = 0;
    size_t nf = 0;
    int keyed = type == CAPF_MEM_ALLOCS || type == CAPF_MEM_PEAK_STACK ||
                type == CAPF_MEM_STACK || type == CAPF_MEM_LIVE;
    struct cap_mem_totals tot;

    if (type == CAPF_TIMELINE || type == CAPF_MEM_ALLOCS || type == CAPF_MEM_PEAK ||
        type == CAPF_MEM_LIVE)
        t = vcur_varint(r);
    if (keyed) {
        pid = get_i32(r);
        tid = get_i32(r);
        stack = vcur_varint(r);
    }
    nf = type == CAPF_TIMELINE ? 2 : type == CAPF_MEM_ALLOCS ? 2 : type == CAPF_MEM_PEAK ? 1
       : type == CAPF_MEM_PEAK_STACK || type == CAPF_MEM_LIVE ? 1
       : type == CAPF_MEM_STACK ? 5 : 0;
    for (size_t i = 0; i < nf; i++)
        f[i] = vcur_varint(r);
    /* the mapping figures, appended later: absent from older captures */
    size_t nx = type == CAPF_TIMELINE || type == CAPF_MEM_PEAK || type == CAPF_MEM_STACK ? 2
              : type == CAPF_MEM_PEAK_STACK ? 1 : 0;
    for (size_t i = 0; i < nx; i++)
        x[i] = trailing(r);
    if (type == CAPF_MEM_TOTALS) {
        memset(&tot, 0, sizeof tot);
        uint64_t *head[] = { &tot.peak_heap_bytes, &tot.peak_heap_t_ns, &tot.peak_rss_bytes,
                             &tot.peak_rss_t_ns, &tot.alloc_bytes, &tot.alloc_count,
                             &tot.leaked_bytes, &tot.temporary_count, &tot.sample_mean };
        for (size_t i = 0; i < 9; i++)
            *head[i] = vcur_varint(r);
        uint64_t na = vcur_varint(r);
        for (uint64_t i = 0; i < na && !r->bad; i++) {
            uint64_t b = vcur_varint(r), n = vcur_varint(r);
            if (i < CAP_MEM_ALLOCATORS) {
                tot.by_allocator_bytes[i] = b;
                tot.by_allocator_count[i] = n;
            }
        }
        uint64_t nh = vcur_varint(r);
        for (uint64_t i = 0; i < nh && !r->bad; i++)
            tot.size_hist[i < CAP_MEM_HIST ? i : CAP_MEM_HIST - 1] += vcur_varint(r);
        tot.peak_mapped_bytes = trailing(r);
        tot.peak_mapped_resident_bytes = trailing(r);
        tot.leaked_mapped_bytes = trailing(r);
    }
    if (r->bad || stack >= bs->nstacks)     /* stacks defined first, as for samples */
        return snprintf(ld->why, sizeof ld->why, "bad memory record"), -1;
    if (!apply)
        return 0;
    c->has_memory = 1;
    struct cap_mem_stack *m = NULL;
    if (keyed && !(m = mem_slot(ld, pid, tid, stack)))
        return -2;
    switch (type) {
    case CAPF_TIMELINE: {
        struct cap_timeline_point *a = grow(c->timeline, &ld->timeline_cap, c->ntimeline,
                                            sizeof *a);
        if (!a)
            return -2;
        c->timeline = a;
        a[c->ntimeline++] = (struct cap_timeline_point){ t, f[0], f[1], x[0], x[1] };
        break;
    }
    case CAPF_MEM_ALLOCS: {
        struct cap_mem_interval *a = grow(c->mem_allocs, &ld->allocs_cap, c->nmem_allocs,
                                          sizeof *a);
        if (!a)
            return -2;
        c->mem_allocs = a;
        a[c->nmem_allocs++] = (struct cap_mem_interval){ t, pid, tid, (uint32_t)stack,
                                                         f[0], f[1] };
        if (!ld->mem_final) {
            m->alloc_bytes += f[0];
            m->alloc_count += f[1];
        }
        break;
    }
    case CAPF_MEM_PEAK:
        c->mem_totals.peak_heap_t_ns = t;
        c->mem_totals.peak_heap_bytes = f[0];
        c->mem_totals.peak_mapped_bytes = x[0];
        c->mem_totals.peak_mapped_resident_bytes = x[1];
        break;
    case CAPF_MEM_LIVE:                 /* in time order: the latest is now */
        m->live_bytes = f[0];
        break;
    case CAPF_MEM_PEAK_STACK:
        m->peak_bytes = f[0];
        m->peak_mapped_bytes = x[0];
        break;
    case CAPF_MEM_STACK:
        if (!ld->mem_final) {           /* the final word replaces the running sums */
            for (size_t i = 0; i < c->nmem; i++)
                c->mem[i].alloc_bytes = c->mem[i].alloc_count = 0;
            ld->mem_final = 1;
        }
        m->alloc_bytes = f[0];
        m->alloc_count = f[1];
        m->peak_bytes = f[2];
        m->leaked_bytes = f[3];
        m->temporary_count = f[4];
        m->peak_mapped_bytes = x[0];
        m->leaked_mapped_bytes = x[1];
        break;
    case CAPF_MEM_TOTALS:
        c->mem_totals = tot;
        c->has_mem_totals = 1;
        break;
    }
    return 0;
}

/* MEM_GROWTH: a stack's live bytes per bucket, as deltas. */
static int rec_growth(struct loader *ld, struct blockstate *bs, struct vcur *r, int apply)
{
    struct capture *c = ld->c;
    struct cap_mem_growth g = { .pid = get_i32(r), .tid = get_i32(r) };
    uint64_t stack = vcur_varint(r), width = vcur_varint(r), n = vcur_varint(r);
    if (r->bad || stack >= bs->nstacks || !width || width > CAPF_GROWTH_MAX_NS ||
        n > CAPF_GROWTH_MAX || n > vcur_left(r))   /* a value is at least a byte */
        return snprintf(ld->why, sizeof ld->why, "bad growth record"), -1;
    size_t first = c->ngrowth_values;
    uint64_t *v = NULL;
    if (apply) {
        v = grow(c->growth_values, &ld->growth_values_cap, first + (n ? n - 1 : 0),
                 sizeof *v);
        if (!v)
            return -2;
        c->growth_values = v;
    }
    uint64_t live = 0;
    for (uint64_t i = 0; i < n; i++) {
        int64_t d = vcur_svarint(r);
        if (r->bad || (d < 0 && (uint64_t)-d > live))
            return snprintf(ld->why, sizeof ld->why, "bad growth record"), -1;
        live += (uint64_t)d;
        if (v)
            v[first + i] = live;
    }
    if (!apply)
        return 0;
    struct cap_mem_growth *a = grow(c->growth, &ld->growth_cap, c->ngrowth, sizeof *a);
    if (!a)
        return -2;
    c->growth = a;
    g.stack = (uint32_t)stack;
    g.n = (uint32_t)n;
    g.bucket_ns = width;
    g.live = NULL;              /* pointed at the end: the values may move */
    a[c->ngrowth++] = g;
    c->ngrowth_values += n;
    return 0;
}

/* GC: one process's collector counters. */
static int rec_gc(struct loader *ld, struct vcur *r, int apply)
{
    struct capture *c = ld->c;
    struct cap_gc_point g = { .t_ns = vcur_varint(r) };
    g.pid = get_i32(r);
    for (int k = 0; k < CAP_GC_GENERATIONS; k++) {
        g.collections[k] = vcur_varint(r);
        g.collected[k] = vcur_varint(r);
        g.uncollectable[k] = vcur_varint(r);
    }
    if (r->bad)
        return snprintf(ld->why, sizeof ld->why, "bad gc record"), -1;
    if (!apply)
        return 0;
    struct cap_gc_point *a = grow(c->gc, &ld->gc_cap, c->ngc, sizeof *a);
    if (!a)
        return -2;
    c->gc = a;
    a[c->ngc++] = g;
    return 0;
}

/* GC_PAUSE: one collection, timed by the agent. */
static int rec_gc_pause(struct loader *ld, struct vcur *r, int apply)
{
    struct capture *c = ld->c;
    struct cap_gc_pause g = { .t_ns = vcur_varint(r) };
    g.pid = get_i32(r);
    g.tid = get_i32(r);
    uint64_t gen = vcur_varint(r);
    g.duration_ns = vcur_varint(r);
    g.collected = vcur_varint(r);
    g.uncollectable = vcur_varint(r);
    if (r->bad || gen >= CAP_GC_GENERATIONS)
        return snprintf(ld->why, sizeof ld->why, "bad gc pause record"), -1;
    if (!apply)
        return 0;
    struct cap_gc_pause *a = grow(c->gc_pauses, &ld->pauses_cap, c->ngc_pauses, sizeof *a);
    if (!a)
        return -2;
    c->gc_pauses = a;
    g.generation = (uint32_t)gen;
    a[c->ngc_pauses++] = g;
    return 0;
}

/* TYPES: one type's part of a census. */
static int rec_types(struct loader *ld, struct blockstate *bs, struct vcur *r, int apply)
{
    struct capture *c = ld->c;
    struct cap_type_count t = { .t_ns = vcur_varint(r) };
    t.pid = get_i32(r);
    uint64_t name = vcur_varint(r), stack = vcur_varint(r);
    t.count = vcur_varint(r);
    t.bytes = vcur_varint(r);
    if (r->bad || name == 0 || name >= bs->nstrings || stack >= bs->nstacks)
        return snprintf(ld->why, sizeof ld->why, "bad types record"), -1;
    if (!apply)
        return 0;
    struct cap_type_count *a = grow(c->types, &ld->types_cap, c->ntypes, sizeof *a);
    if (!a)
        return -2;
    c->types = a;
    t.name = (uint32_t)name;
    t.stack = (uint32_t)stack;
    a[c->ntypes++] = t;
    return 0;
}

/* The growth records' values, once they stopped moving. */
static void finish_growth(struct capture *c)
{
    size_t at = 0;
    for (size_t i = 0; i < c->ngrowth; i++) {
        c->growth[i].live = c->growth_values + at;
        at += c->growth[i].n;
    }
}

/* After loading: totals derived for a run that did not write its own. */
static void finish_memory(struct loader *ld)
{
    struct capture *c = ld->c;
    if (!c->has_memory || c->has_mem_totals)
        return;
    struct cap_mem_totals *t = &c->mem_totals;
    for (size_t i = 0; i < c->nmem; i++) {
        t->alloc_bytes += c->mem[i].alloc_bytes;
        t->alloc_count += c->mem[i].alloc_count;
    }
    for (size_t i = 0; i < c->ntimeline; i++)
        if (c->timeline[i].rss_bytes > t->peak_rss_bytes) {
            t->peak_rss_bytes = c->timeline[i].rss_bytes;
            t->peak_rss_t_ns = c->timeline[i].t_ns;
        }
}

/* Walks one decompressed block: 0, -1 (bad, reason in ld->why), -2 (OOM). */
static int walk_block(struct loader *ld, const uint8_t *p, size_t n, int apply)
{
    struct capture *c = ld->c;
    struct blockstate bs;
    struct vcur cur = { p, p + n, 0 };
    size_t nrec = 0;

    memset(&bs, 0, sizeof bs);
    bs.nstrings = c->nstrings;
    bs.nframes = c->nframes;
    bs.nstacks = c->nstacks;
    bs.nmodules = c->nmodules;
    while (cur.p < cur.end) {
        uint64_t type = vcur_varint(&cur);
        uint64_t len = vcur_varint(&cur);
        if (cur.bad || len > vcur_left(&cur)) {
            snprintf(ld->why, sizeof ld->why, "record %zu runs past the block", nrec);
            return -1;
        }
        struct vcur r = { cur.p, cur.p + len, 0 };
        cur.p += len;
        int rc = 0;
        /* Fields a newer writer appends to a record are left unread. */
        switch (type) {
        case CAPF_STRING: rc = rec_string(ld, &bs, &r, apply); break;
        case CAPF_FRAME: rc = rec_frame(ld, &bs, &r, apply); break;
        case CAPF_STACK: rc = rec_stack(ld, &bs, &r, apply); break;
        case CAPF_MODULE: rc = rec_module(ld, &bs, &r, apply); break;
        case CAPF_PROCESS: rc = rec_process(ld, &r, apply); break;
        case CAPF_PROCESS_EXIT: rc = rec_process_exit(ld, &r, apply); break;
        case CAPF_THREAD: rc = rec_thread(ld, &r, apply); break;
        case CAPF_SAMPLE: rc = rec_sample(ld, &bs, &r, apply); break;
        case CAPF_CALLS: rc = rec_call(ld, &bs, &r, apply); break;
        case CAPF_TIMELINE: case CAPF_MEM_ALLOCS: case CAPF_MEM_PEAK:
        case CAPF_MEM_PEAK_STACK: case CAPF_MEM_STACK: case CAPF_MEM_TOTALS:
        case CAPF_MEM_LIVE:
            rc = rec_memory(ld, &bs, &r, type, apply);
            break;
        case CAPF_MEM_GROWTH: rc = rec_growth(ld, &bs, &r, apply); break;
        case CAPF_GC: rc = rec_gc(ld, &r, apply); break;
        case CAPF_TYPES: rc = rec_types(ld, &bs, &r, apply); break;
        case CAPF_GC_PAUSE: rc = rec_gc_pause(ld, &r, apply); break;
        case CAPF_META: {
            uint64_t interval = vcur_varint(&r), start = vcur_varint(&r);
            /* a sampling interval of 0 or over an hour is no capture of ours */
            if (r.bad || interval == 0 || interval > CAPF_TIME_MAX_INTERVAL) {
                snprintf(ld->why, sizeof ld->why, "bad meta record");
                rc = -1;
            } else if (apply) {
                c->interval_ns = interval;
                c->start_unix_ns = start;
            }
            break;
        }
        case CAPF_END: {
            uint64_t duration = vcur_varint(&r);
            if (r.bad) {
                snprintf(ld->why, sizeof ld->why, "bad end record");
                rc = -1;
            } else if (apply) {
                c->has_duration = 1;
                c->duration_ns = duration;
            }
            break;
        }
        default:
            break;              /* a newer record type: skip it */
        }
        if (rc < 0) {
            ld->bad_record = (long)nrec;
            return rc;
        }
        nrec++;
    }
    return 0;
}

/* Makes ld->raw at least n bytes: 0, or -2. */
static int raw_reserve(struct loader *ld, size_t n)
{
    if (n <= ld->raw_cap)
        return 0;
    uint8_t *p = realloc(ld->raw, n);
    if (!p)
        return -2;
    ld->raw = p;
    ld->raw_cap = n;
    return 0;
}

/* Decompresses one block's payload into ld->raw: 0, -1 (bad), -2 (OOM). */
static int inflate_block(struct loader *ld, const uint8_t *comp, size_t clen, size_t rlen)
{
    /* One byte of slack: a payload that decodes to more than rlen shows
     * as filling it.  The buffer grows with what actually decodes, so a
     * damaged raw length costs no memory. */
    size_t want = rlen + 1, size = want < (1u << 20) ? want : (1u << 20);

    if (raw_reserve(ld, size) < 0)
        return -2;
    ZSTD_inBuffer in = { comp, clen, 0 };
    ZSTD_outBuffer out = { ld->raw, ld->raw_cap < want ? ld->raw_cap : want, 0 };
    for (;;) {
        size_t in0 = in.pos, out0 = out.pos;
        size_t r = ZSTD_decompressStream(ld->dz, &out, &in);
        if (ZSTD_isError(r)) {
            snprintf(ld->why, sizeof ld->why, "zstd: %s", ZSTD_getErrorName(r));
            return -1;
        }
        if (out.pos == out.size && out.size < want) {
            size = out.size * 2 < want ? out.size * 2 : want;
            if (raw_reserve(ld, size) < 0)
                return -2;
            out.dst = ld->raw;
            out.size = size;
            continue;
        }
        if (out.pos > rlen || (in.pos == in.size && out.pos < out.size) ||
            (in.pos == in0 && out.pos == out0))
            break;
    }
    if (out.pos != rlen || in.pos != in.size) {
        snprintf(ld->why, sizeof ld->why, "payload does not decode to its %zu bytes", rlen);
        return -1;
    }
    return 0;
}

/* Reads blocks from data[16..size).  0, or -2 when out of memory; a bad
 * block sets c->truncated and stops. */
static int read_blocks(struct loader *ld, const uint8_t *data, size_t size)
{
    struct capture *c = ld->c;
    size_t off = CAPF_HEADER_LEN;
    size_t nblock = 0;
    int rc = 0;

    while (off < size && rc == 0) {
        ld->bad_record = -1;
        const uint8_t *h = data + off;
        size_t left = size - off;

        if (left < CAPF_BLOCK_HEADER_LEN) {
            snprintf(ld->why, sizeof ld->why, "cut in its header");
            rc = -1;
            break;
        }
        uint32_t rlen = capf_get32(h + 4), clen = capf_get32(h + 8);
        if (capf_get32(h) != CAPF_BLOCK_MAGIC) {
            snprintf(ld->why, sizeof ld->why, "bad block magic");
            rc = -1;
        } else if (rlen == 0 || clen == 0 || rlen > CAPF_BLOCK_MAX || clen > CAPF_BLOCK_MAX) {
            snprintf(ld->why, sizeof ld->why, "bad block lengths (%u raw, %u compressed)",
                     rlen, clen);
            rc = -1;
        } else if (clen > left - CAPF_BLOCK_HEADER_LEN) {
            snprintf(ld->why, sizeof ld->why, "cut short (%zu of %u bytes)",
                     left - CAPF_BLOCK_HEADER_LEN, clen);
            rc = -1;
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        /* The fuzzer could never forge a CRC; let it reach the decoder. */
        } else if (capf_crc32(h + CAPF_BLOCK_HEADER_LEN, clen) != capf_get32(h + 12)) {
            snprintf(ld->why, sizeof ld->why, "checksum mismatch");
            rc = -1;
#endif
        } else if ((rc = inflate_block(ld, h + CAPF_BLOCK_HEADER_LEN, clen, rlen)) == 0 &&
                   (rc = walk_block(ld, ld->raw, rlen, 0)) == 0) {
            rc = walk_block(ld, ld->raw, rlen, 1);
        }
        if (rc == 0) {
            off += CAPF_BLOCK_HEADER_LEN + (size_t)clen;
            nblock++;
        }
    }
    if (rc == -2)
        return -2;
    if (rc == -1) {
        char why[sizeof ld->why + 128], rec[48] = "";
        if (ld->bad_record >= 0)
            snprintf(rec, sizeof rec, "record %ld: ", ld->bad_record);
        snprintf(why, sizeof why, "block %zu at offset %zu: %s%s", nblock, off, rec, ld->why);
        c->truncated = 1;
        c->truncation = strdup(why);
        return c->truncation ? 0 : -2;
    }
    if (!c->has_duration) {
        c->truncated = 1;
        c->truncation = strdup("no end record: the recorder was stopped or is still running");
        return c->truncation ? 0 : -2;
    }
    return 0;
}

/* Index 0 of the id-indexed arrays is the reserved "none" id. */
static int init_tables(struct loader *ld)
{
    struct capture *c = ld->c;

    c->strings = grow(NULL, &ld->strings_cap, 0, sizeof *c->strings);
    c->frames = grow(NULL, &ld->frames_cap, 0, sizeof *c->frames);
    c->stacks = grow(NULL, &ld->stacks_cap, 0, sizeof *c->stacks);
    c->modules = grow(NULL, &ld->modules_cap, 0, sizeof *c->modules);
    if (!c->strings || !c->frames || !c->stacks || !c->modules)
        return -1;
    c->strings[0] = NULL;
    memset(&c->frames[0], 0, sizeof c->frames[0]);
    memset(&c->stacks[0], 0, sizeof c->stacks[0]);
    memset(&c->modules[0], 0, sizeof c->modules[0]);
    c->nstrings = c->nframes = c->nstacks = c->nmodules = 1;
    return 0;
}

int capture_load_mem(const uint8_t *data, size_t size, struct capture *c,
                     char *err, size_t errlen)
{
    struct loader ld;
    int rc;

    memset(c, 0, sizeof *c);
    memset(&ld, 0, sizeof ld);
    ld.c = c;
    set_err(err, errlen, "%s", "");
    if (size < CAPF_HEADER_LEN || memcmp(data, CAPF_MAGIC, CAPF_MAGIC_LEN) != 0) {
        set_err(err, errlen, "not a stetho capture%s", size == 0 ? " (empty file)" : "");
        return -1;
    }
    c->format_version = capf_get32(data + 8);
    if (c->format_version != CAPF_VERSION) {
        set_err(err, errlen, "unsupported capture format version %u", c->format_version);
        c->format_version = 0;
        return -1;
    }
    /* The flags word has no bits yet; readers ignore the ones they do not
     * know, so new flags can only ever be hints. */

    ld.dz = ZSTD_createDCtx();
    rc = ld.dz && !ZSTD_isError(ZSTD_DCtx_setParameter(ld.dz, ZSTD_d_windowLogMax,
                                                       CAPF_WINDOW_LOG_MAX)) &&
         init_tables(&ld) == 0 ? read_blocks(&ld, data, size) : -2;
    if (rc >= 0) {
        finish_memory(&ld);
        finish_growth(c);
    }
    kmap_free(&ld.mem_index);
    ZSTD_freeDCtx(ld.dz);
    free(ld.raw);
    if (rc < 0) {
        capture_free(c);
        set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int capture_load(const char *path, struct capture *c, char *err, size_t errlen)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0, cap;
    int fd, rc;

    memset(c, 0, sizeof *c);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        set_err(err, errlen, "cannot read %s: %s", path, strerror(EISDIR));
        close(fd);
        return -1;
    }
    /* Read it whole: the file is small next to what it decodes to, and a
     * copy cannot change under us (a capture may still be being written). */
    cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
    for (;;) {
        if (len == cap || !buf) {
            uint8_t *p = realloc(buf, buf ? cap * 2 : cap);
            if (!p) {
                set_err(err, errlen, "out of memory");
                rc = -1;
                goto out;
            }
            cap = buf ? cap * 2 : cap;
            buf = p;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
            rc = -1;
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    rc = capture_load_mem(buf, len, c, err, errlen);
out:
    free(buf);
    close(fd);
    return rc;
}

void capture_free(struct capture *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nstrings; i++)
        free(c->strings[i]);
    free(c->strings);
    free(c->frames);
    free(c->stacks);
    free(c->modules);
    for (size_t i = 0; i < c->nprocesses; i++)
        free_process(&c->processes[i]);
    free(c->processes);
    for (size_t i = 0; i < c->nthreads; i++)
        free(c->threads[i].name);
    free(c->threads);
    free(c->samples);
    free(c->timeline);
    free(c->mem_allocs);
    free(c->mem);
    free(c->growth);
    free(c->gc);
    free(c->types);
    free(c->gc_pauses);
    free(c->growth_values);
    free(c->calls);
    free(c->truncation);
    memset(c, 0, sizeof *c);
}
