/*
 * html_report.c -- aggregate a capture for the HTML page and write the
 * page (html_report.h; the data format is in docs/html-report.md).
 *
 * One pass over the samples.  A sample's leaf node is found through a
 * cache keyed by its stack, so a repeated stack costs one look-up; its
 * metrics are added to the cell (time bucket, thread, leaf node).  The
 * tree is shared by all threads (a pool of threads running the same code
 * costs its nodes once); the page splits it per thread from the cells.
 * Only at the end is the number of cells known: buckets are merged two by
 * two while there are too many, and the cells are sorted for writing.
 * Functions, lines and strings are interned by content, so the page's
 * tables never show one function twice.
 *
 * The two big arrays, nodes and cells, are written as unsigned LEB128
 * varints in base64: about a third of the size of JSON numbers, and
 * quicker for the page to read.
 */
#include "report/html_report.h"
#include "util/kmap.h"
#include "report/location.h"
#include "report/profile.h"
#include "html_assets.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The columns of a cell: a sample count, the time split, then, when the
 * run recorded memory, what each stack allocated (at the time it did),
 * held at the heap's peak (at the peak) and leaked (at the end). */
enum {
    COL_SAMPLES = 0,
    COL_USER = 1,
    COL_SYS = 2,
    COL_WAIT = 3,               /* + enum cap_wait */
    COL_ALLOC = COL_WAIT + CAP_WAIT_KINDS,
    COL_ALLOCS,
    COL_PEAK,
    COL_LEAKED,
    NCOLS,
    NTIME_COLS = COL_ALLOC,
};

static const struct {
    const char *id, *unit;
} columns[NCOLS] = {
    { "samples", "count" }, { "user", "ns" }, { "sys", "ns" }, { "io", "ns" },
    { "sleep", "ns" }, { "lock", "ns" }, { "gil", "ns" }, { "other", "ns" },
    { "alloc", "bytes" }, { "allocs", "count" }, { "peak", "bytes" }, { "leaked", "bytes" },
};


#define BIT(col) (1u << (col))
#define WAIT_BITS (((1u << CAP_WAIT_KINDS) - 1) << COL_WAIT)

/* What the page offers to sort, colour and size by: sums of columns
 * (those of columns the data has). */
static const struct {
    const char *id, *label, *unit;
    unsigned cols;
} metrics[] = {
    { "wall", "Wall time", "ns", BIT(COL_USER) | BIT(COL_SYS) | WAIT_BITS },
    { "cpu", "CPU time (user + sys)", "ns", BIT(COL_USER) | BIT(COL_SYS) },
    { "user", "User CPU", "ns", BIT(COL_USER) },
    { "sys", "System CPU", "ns", BIT(COL_SYS) },
    { "wait", "Waiting (any reason)", "ns", WAIT_BITS },
    { "io", "Waiting for I/O", "ns", BIT(COL_WAIT + CAP_WAIT_IO) },
    { "sleep", "Sleeping", "ns", BIT(COL_WAIT + CAP_WAIT_SLEEP) },
    { "lock", "Waiting for a lock", "ns", BIT(COL_WAIT + CAP_WAIT_LOCK) },
    { "gil", "Waiting for the GIL", "ns", BIT(COL_WAIT + CAP_WAIT_GIL) },
    { "other", "Waiting (other)", "ns", BIT(COL_WAIT + CAP_WAIT_OTHER) },
    { "alloc", "Memory allocated", "bytes", BIT(COL_ALLOC) },
    { "allocs", "Allocations", "count", BIT(COL_ALLOCS) },
    { "peak", "Memory held at the peak", "bytes", BIT(COL_PEAK) },
    { "leaked", "Memory leaked", "bytes", BIT(COL_LEAKED) },
    { "samples", "Samples", "count", BIT(COL_SAMPLES) },
};

#define NMETRICS (sizeof metrics / sizeof metrics[0])

struct hfunc {
    uint32_t name, file, short_file, module;    /* output strings */
    int32_t first_line;
    uint8_t kind, loc;          /* enum cap_frame_kind, enum loc_class */
};

struct hsite {
    uint32_t func;
    int32_t line;
};

struct hnode {
    uint32_t parent;
    uint32_t site;
};

struct hthread {
    int32_t pid, tid;
};

struct hcell {
    uint32_t bucket, thread, node;
    uint64_t v[NCOLS];          /* samples, nanoseconds, bytes, counts */
};

struct builder {
    const struct capture *c;
    char **strs;
    size_t nstrs, strs_cap;
    struct kmap str_map;        /* (hash, length) -> string */
    uint32_t *cap_str;          /* capture string id -> string + 1 */
    struct hfunc *funcs;
    size_t nfuncs, funcs_cap;
    struct kmap func_map;       /* (name << 32 | file, first line) -> function */
    struct hsite *sites;
    size_t nsites, sites_cap;
    struct kmap site_map;       /* (function, line) -> site */
    uint32_t *frame_site;       /* frame id -> site + 1 */
    struct hnode *nodes;
    size_t nnodes, nodes_cap;
    struct kmap node_map;       /* (parent, site) -> node */
    struct hthread *threads;
    size_t nthreads, threads_cap;
    struct kmap thread_map;     /* (pid, tid) -> thread */
    struct kmap leaf_cache;     /* stack -> leaf node */
    uint32_t *path;             /* frame ids of one stack, root first */
    size_t path_cap;
    struct hcell *cells;
    size_t ncells, cells_cap;
    struct kmap cell_map;       /* (bucket, thread << 32 | node) -> cell */
    uint64_t totals[NCOLS];     /* exact */
    uint64_t span_ns, bucket_ns;
    uint64_t unit_ns;           /* of the times in cells */
    unsigned nbuckets;
    int ncols;                  /* NTIME_COLS, or NCOLS with memory */
    uint64_t fine_bucket_ns;    /* the buckets before any merging */
    unsigned fine_nbuckets;
};

/* Room for one more element in *v, which holds n of *cap; 0, or -1. */
static int reserve(void **v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *nv = realloc(*v, ncap * size);
    if (!nv)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

#define RESERVE(v, n, cap) reserve((void **)&(v), (n), &(cap), sizeof *(v))

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The output string with text s, added if new; or -1. */
static int64_t out_string(struct builder *b, const char *s)
{
    size_t len = strlen(s);
    uint64_t h = hash_str(s);
    uint32_t idx = kmap_get(&b->str_map, h, len, UINT32_MAX);
    if (idx != UINT32_MAX && !strcmp(b->strs[idx], s))
        return idx;
    char *copy = strdup(s);
    if (!copy || RESERVE(b->strs, b->nstrs, b->strs_cap) < 0) {
        free(copy);
        return -1;
    }
    /* a hash collision between different texts only loses a merge */
    int isnew;
    if (idx == UINT32_MAX && !kmap_put(&b->str_map, h, len, (uint32_t)b->nstrs, &isnew)) {
        free(copy);
        return -1;
    }
    b->strs[b->nstrs] = copy;
    return (int64_t)b->nstrs++;
}

static const char *string_at(const struct capture *c, uint32_t id)
{
    return id < c->nstrings && c->strings[id] ? c->strings[id] : NULL;
}

static int64_t cap_string(struct builder *b, uint32_t id)
{
    if (id < b->c->nstrings && b->cap_str[id])
        return b->cap_str[id] - 1;
    const char *s = string_at(b->c, id);
    int64_t out = out_string(b, s ? s : "");
    if (out >= 0 && id < b->c->nstrings)
        b->cap_str[id] = (uint32_t)out + 1;
    return out;
}

/* The site (function and line) of frame id f; or -1. */
static int64_t frame_site(struct builder *b, uint32_t f)
{
    if (b->frame_site[f])
        return b->frame_site[f] - 1;
    const struct capture *c = b->c;
    const struct cap_frame *fr = &c->frames[f];
    int64_t name = cap_string(b, fr->function), file = cap_string(b, fr->file);
    if (name < 0 || file < 0)
        return -1;

    int isnew;
    uint64_t key = (uint64_t)name << 32 | (uint64_t)file;
    uint32_t *slot = kmap_put(&b->func_map, key, (uint32_t)fr->first_line,
                              (uint32_t)b->nfuncs, &isnew);
    if (!slot)
        return -1;
    uint32_t func = *slot;
    if (isnew) {
        const char *path = string_at(c, fr->file);
        char module[128];
        int64_t shortf = out_string(b, loc_short(path, NULL));
        int64_t mod = out_string(b, loc_module(path, module, sizeof module));
        if (shortf < 0 || mod < 0 || RESERVE(b->funcs, b->nfuncs, b->funcs_cap) < 0)
            return -1;
        b->funcs[b->nfuncs++] = (struct hfunc){
            .name = (uint32_t)name, .file = (uint32_t)file, .short_file = (uint32_t)shortf,
            .module = (uint32_t)mod, .first_line = fr->first_line, .kind = fr->kind,
            .loc = (uint8_t)loc_classify(path),
        };
    }

    slot = kmap_put(&b->site_map, func, (uint32_t)fr->line, (uint32_t)b->nsites, &isnew);
    if (!slot)
        return -1;
    uint32_t site = *slot;
    if (isnew) {
        if (RESERVE(b->sites, b->nsites, b->sites_cap) < 0)
            return -1;
        b->sites[b->nsites++] = (struct hsite){ .func = func, .line = fr->line };
    }
    b->frame_site[f] = site + 1;
    return site;
}

/* The child of parent for site, created if new; or UINT32_MAX. */
static uint32_t child_node(struct builder *b, uint32_t parent, uint32_t site)
{
    int isnew;
    uint32_t *slot = kmap_put(&b->node_map, parent, site, (uint32_t)b->nnodes, &isnew);
    if (!slot)
        return UINT32_MAX;
    if (!isnew)
        return *slot;
    if (RESERVE(b->nodes, b->nnodes, b->nodes_cap) < 0)
        return UINT32_MAX;
    b->nodes[b->nnodes] = (struct hnode){ .parent = parent, .site = site };
    return (uint32_t)b->nnodes++;
}

/* The thread (index) of pid and tid; or UINT32_MAX. */
static uint32_t thread_of(struct builder *b, int32_t pid, int32_t tid)
{
    int isnew;
    uint32_t *slot = kmap_put(&b->thread_map, (uint32_t)pid, (uint32_t)tid,
                              (uint32_t)b->nthreads, &isnew);
    if (!slot)
        return UINT32_MAX;
    if (isnew) {
        if (RESERVE(b->threads, b->nthreads, b->threads_cap) < 0)
            return UINT32_MAX;
        b->threads[b->nthreads++] = (struct hthread){ .pid = pid, .tid = tid };
    }
    return *slot;
}

/* The leaf node of a stack (0, the root, for the empty stack); or
 * UINT32_MAX. */
static uint32_t stack_leaf(struct builder *b, uint32_t stack)
{
    const struct capture *c = b->c;
    uint32_t leaf = kmap_get(&b->leaf_cache, stack, 0, UINT32_MAX);
    if (leaf != UINT32_MAX)
        return leaf;

    /* parents precede children in a valid capture; the bound is for
     * safety against a loop all the same */
    size_t depth = 0;
    for (uint32_t st = stack; st && st < c->nstacks && depth < c->nstacks; st = c->stacks[st].parent)
        depth++;
    if (depth > b->path_cap) {
        uint32_t *nv = realloc(b->path, depth * sizeof *nv);
        if (!nv)
            return UINT32_MAX;
        b->path = nv;
        b->path_cap = depth;
    }
    size_t i = depth;
    for (uint32_t st = stack; i > 0; st = c->stacks[st].parent)
        b->path[--i] = c->stacks[st].frame;
    uint32_t node = 0;
    for (i = 0; i < depth && node != UINT32_MAX; i++) {
        uint32_t f = b->path[i];
        if (!f || f >= c->nframes)
            continue;           /* an unknown frame id: skip it */
        int64_t site = frame_site(b, f);
        node = site < 0 ? UINT32_MAX : child_node(b, node, (uint32_t)site);
    }
    int isnew;
    if (node == UINT32_MAX || !kmap_put(&b->leaf_cache, stack, 0, node, &isnew))
        return UINT32_MAX;
    return node;
}

static void sample_values(const struct cap_sample *s, uint64_t v[NCOLS])
{
    memset(v, 0, NCOLS * sizeof *v);
    v[COL_SAMPLES] = 1;
    v[COL_USER] = s->user_ns;
    v[COL_SYS] = s->sys_ns;
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        v[COL_WAIT + k] = s->wait_ns[k];
}

/* Add v to the cell (bucket, thread, node); 0, or -1. */
static int add_cell(struct builder *b, struct kmap *map, uint32_t bucket, uint32_t thread,
                    uint32_t node, const uint64_t v[NCOLS])
{
    int isnew;
    uint32_t *slot = kmap_put(map, bucket, (uint64_t)thread << 32 | node, (uint32_t)b->ncells,
                              &isnew);
    if (!slot)
        return -1;
    if (isnew) {
        if (RESERVE(b->cells, b->ncells, b->cells_cap) < 0)
            return -1;
        struct hcell *cell = &b->cells[b->ncells++];
        cell->bucket = bucket;
        cell->thread = thread;
        cell->node = node;
        memset(cell->v, 0, sizeof cell->v);
    }
    struct hcell *cell = &b->cells[*slot];
    for (int k = 0; k < NCOLS; k++)
        cell->v[k] += v[k];
    return 0;
}

/* Halve the number of buckets, merging the cells of each pair. */
static int coarsen(struct builder *b)
{
    struct hcell *old = b->cells;
    size_t n = b->ncells;
    struct kmap map = {0};
    b->cells = NULL;
    b->ncells = b->cells_cap = 0;
    for (size_t i = 0; i < n; i++)
        if (add_cell(b, &map, old[i].bucket / 2, old[i].thread, old[i].node, old[i].v) < 0) {
            free(old);
            kmap_free(&map);
            return -1;
        }
    free(old);
    kmap_free(&map);
    b->nbuckets = (b->nbuckets + 1) / 2;
    b->bucket_ns *= 2;
    return 0;
}

/* Add v, memory of (pid, tid, stack), to the cell of time t. */
static int add_memory_cell(struct builder *b, uint64_t t, int32_t pid, int32_t tid,
                           uint32_t stack, const uint64_t v[NCOLS])
{
    uint32_t thread = thread_of(b, pid, tid);
    uint32_t leaf = stack_leaf(b, stack < b->c->nstacks ? stack : 0);
    if (thread == UINT32_MAX || leaf == UINT32_MAX)
        return -1;
    uint64_t bucket = t / b->bucket_ns;
    if (bucket >= b->nbuckets)
        bucket = b->nbuckets - 1;
    for (int k = 0; k < NCOLS; k++)
        b->totals[k] += v[k];
    return add_cell(b, &b->cell_map, (uint32_t)bucket, thread, leaf, v);
}

/* Allocations when they happened; what each stack held at the heap's
 * peak at the peak; leaks at the end. */
static int add_memory(struct builder *b)
{
    const struct capture *c = b->c;
    uint64_t v[NCOLS], end = b->span_ns - 1;
    uint64_t peak = c->mem_totals.peak_heap_t_ns ? c->mem_totals.peak_heap_t_ns : end;
    for (size_t i = 0; i < c->nmem_allocs; i++) {
        const struct cap_mem_interval *m = &c->mem_allocs[i];
        memset(v, 0, sizeof v);
        v[COL_ALLOC] = m->bytes;
        v[COL_ALLOCS] = m->count;
        if (add_memory_cell(b, m->t_ns, m->pid, m->tid, m->stack, v) < 0)
            return -1;
    }
    for (size_t i = 0; i < c->nmem; i++) {
        const struct cap_mem_stack *m = &c->mem[i];
        memset(v, 0, sizeof v);
        v[COL_PEAK] = m->peak_bytes;
        if (v[COL_PEAK] && add_memory_cell(b, peak, m->pid, m->tid, m->stack, v) < 0)
            return -1;
        memset(v, 0, sizeof v);
        v[COL_LEAKED] = m->leaked_bytes;
        if (!c->nmem_allocs) {  /* no intervals: the totals, at the end */
            v[COL_ALLOC] = m->alloc_bytes;
            v[COL_ALLOCS] = m->alloc_count;
        }
        if ((v[COL_LEAKED] || v[COL_ALLOC] || v[COL_ALLOCS]) &&
            add_memory_cell(b, end, m->pid, m->tid, m->stack, v) < 0)
            return -1;
    }
    return 0;
}

static int cell_order(const void *pa, const void *pb)
{
    const struct hcell *a = pa, *b = pb;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    if (a->thread != b->thread)
        return a->thread < b->thread ? -1 : 1;
    return a->node < b->node ? -1 : a->node > b->node;
}

static int aggregate(struct builder *b, const struct html_opts *o)
{
    const struct capture *c = b->c;
    unsigned max_buckets = o && o->max_buckets ? o->max_buckets : HTML_MAX_BUCKETS;
    unsigned min_buckets = o && o->min_buckets ? o->min_buckets : HTML_MIN_BUCKETS;
    size_t max_cells = o && o->max_cells ? o->max_cells : HTML_MAX_CELLS;

    b->cap_str = calloc(c->nstrings ? c->nstrings : 1, sizeof *b->cap_str);
    b->frame_site = calloc(c->nframes ? c->nframes : 1, sizeof *b->frame_site);
    if (!b->cap_str || !b->frame_site || RESERVE(b->nodes, b->nnodes, b->nodes_cap) < 0)
        return -1;
    b->nodes[b->nnodes++] = (struct hnode){ .parent = 0, .site = 0 };

    /* the time axis: the capture's duration, or up to its last sample;
     * buckets of at least two sampling intervals, so that most hold a
     * sample of every thread */
    uint64_t span = c->has_duration ? c->duration_ns : 0;
    for (size_t i = 0; i < c->nsamples; i++)
        if (c->samples[i].t_ns >= span)
            span = c->samples[i].t_ns + 1;
    for (size_t i = 0; i < c->ntimeline; i++)
        if (c->timeline[i].t_ns >= span)
            span = c->timeline[i].t_ns + 1;
    for (size_t i = 0; i < c->nmem_allocs; i++)
        if (c->mem_allocs[i].t_ns >= span)
            span = c->mem_allocs[i].t_ns + 1;
    if (!span)
        span = 1;
    uint64_t interval = c->interval_ns ? c->interval_ns : 1000000;
    /* times to a thousandth of the interval, in a power of ten of
     * microseconds: 10 us for the usual 10 ms */
    b->unit_ns = 1000;
    while (b->unit_ns <= interval / 10000)     /* no overflow, whatever the file says */
        b->unit_ns *= 10;
    uint64_t want = span / interval / 2;
    if (want > max_buckets)
        want = max_buckets;
    if (want < 1)
        want = 1;
    b->span_ns = span;
    b->bucket_ns = span / want + (span % want != 0);
    b->nbuckets = (unsigned)((span + b->bucket_ns - 1) / b->bucket_ns);
    b->fine_nbuckets = b->nbuckets;
    b->fine_bucket_ns = b->bucket_ns;
    b->ncols = c->has_memory ? NCOLS : NTIME_COLS;

    for (size_t i = 0; i < c->nsamples; i++) {
        const struct cap_sample *s = &c->samples[i];
        uint32_t thread = thread_of(b, s->pid, s->tid);
        uint32_t leaf = stack_leaf(b, s->stack < c->nstacks ? s->stack : 0);
        if (thread == UINT32_MAX || leaf == UINT32_MAX)
            return -1;
        uint64_t v[NCOLS], bucket = s->t_ns / b->bucket_ns;
        sample_values(s, v);
        for (int k = 0; k < NCOLS; k++)
            b->totals[k] += v[k];
        if (bucket >= b->nbuckets)
            bucket = b->nbuckets - 1;
        if (add_cell(b, &b->cell_map, (uint32_t)bucket, thread, leaf, v) < 0)
            return -1;
    }
    if (c->has_memory && add_memory(b) < 0)
        return -1;
    kmap_free(&b->cell_map);    /* every cell is in; merging makes its own */
    while (b->ncells > max_cells && (b->nbuckets + 1) / 2 >= min_buckets)
        if (coarsen(b) < 0)
            return -1;
    if (b->ncells)
        qsort(b->cells, b->ncells, sizeof *b->cells, cell_order);
    return 0;
}

static void builder_free(struct builder *b)
{
    for (size_t i = 0; i < b->nstrs; i++)
        free(b->strs[i]);
    free(b->strs);
    kmap_free(&b->str_map);
    free(b->cap_str);
    free(b->funcs);
    kmap_free(&b->func_map);
    free(b->sites);
    kmap_free(&b->site_map);
    free(b->frame_site);
    free(b->nodes);
    kmap_free(&b->node_map);
    free(b->threads);
    kmap_free(&b->thread_map);
    kmap_free(&b->leaf_cache);
    free(b->path);
    free(b->cells);
    kmap_free(&b->cell_map);
}

/* ---- writing ---- */

/* A JSON string that cannot end a <script> element: '<', '>' and '&'
 * are written as \u escapes. */
static void put_string(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    putc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        case '<': case '>': case '&':
            fprintf(out, "\\u%04x", *p);
            break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                putc(*p, out);
        }
    }
    putc('"', out);
}

static void put_u64(FILE *out, uint64_t v)
{
    char buf[24];
    int i = sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fwrite(buf + i, 1, sizeof buf - i, out);
}

static void put_i64(FILE *out, int64_t v)
{
    if (v < 0) {
        putc('-', out);
        put_u64(out, -(uint64_t)v);
    } else {
        put_u64(out, (uint64_t)v);
    }
}

/* What a column's values are written in: times in the unit, the rest
 * as they are. */
static uint64_t col_scale(const struct builder *b, int col)
{
    return col == COL_SAMPLES || col >= NTIME_COLS ? 1 : b->unit_ns;
}

static uint64_t scaled(const struct builder *b, int col, uint64_t v)
{
    uint64_t unit = col_scale(b, col);
    return (v + unit / 2) / unit;
}

/* Base64 of a stream of bytes, written as they come. */
struct b64 {
    FILE *out;
    unsigned char in[3];
    int n;
};

static void b64_flush(struct b64 *e, int final)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!e->n || (e->n < 3 && !final))
        return;
    unsigned v = (unsigned)e->in[0] << 16 | (unsigned)(e->n > 1 ? e->in[1] : 0) << 8 |
                 (e->n > 2 ? e->in[2] : 0);
    char q[4] = { alphabet[v >> 18], alphabet[v >> 12 & 63],
                  e->n > 1 ? alphabet[v >> 6 & 63] : '=', e->n > 2 ? alphabet[v & 63] : '=' };
    fwrite(q, 1, 4, e->out);
    e->n = 0;
}

/* One unsigned LEB128 varint: 7 bits a byte, low first, high bit = more. */
static void b64_varint(struct b64 *e, uint64_t v)
{
    do {
        e->in[e->n++] = (unsigned char)((v & 127) | (v > 127 ? 128 : 0));
        b64_flush(e, 0);
        v >>= 7;
    } while (v);
}

static void write_meta(const struct builder *b, FILE *out)
{
    const struct capture *c = b->c;
    const struct cap_process *p = c->nprocesses ? &c->processes[0] : NULL;
    fputs("\"meta\":{\"argv\":[", out);
    for (int i = 0; p && i < p->argc; i++) {
        if (i)
            putc(',', out);
        put_string(out, p->argv[i]);
    }
    fputs("],\"python_version\":", out);
    put_string(out, p ? p->python_version : NULL);
    fputs(",\"python_executable\":", out);
    put_string(out, p ? p->python_executable : NULL);
    fputs(",\"pid\":", out);
    put_i64(out, p ? p->pid : 0);
    fputs(",\"exit_code\":", out);
    if (p && p->has_exit)
        put_i64(out, p->exit_code);
    else
        fputs("null", out);
    fputs(",\"processes\":", out);
    put_u64(out, c->nprocesses);
    fputs(",\"duration_ns\":", out);
    put_u64(out, c->has_duration ? c->duration_ns : b->span_ns);
    fputs(",\"interval_ns\":", out);
    put_u64(out, c->interval_ns);
    fputs(",\"start_unix_ns\":", out);
    put_u64(out, c->start_unix_ns);
    fputs(",\"truncated\":", out);
    put_string(out, c->truncated ? (c->truncation ? c->truncation : "truncated") : NULL);
    if (c->has_memory) {
        /* 0: every allocation seen; else sampled, one in about this many bytes */
        fputs(",\"memory_sample_bytes\":", out);
        put_u64(out, c->mem_totals.sample_mean);
    }
    fputs("},\n", out);

    fputs("\"totals\":{", out);
    for (int k = 0; k < b->ncols; k++) {
        fprintf(out, "%s\"%s\":", k ? "," : "", columns[k].id);
        put_u64(out, b->totals[k]);
    }
    fputs("},\n\"columns\":[", out);
    for (int k = 0; k < b->ncols; k++)
        fprintf(out, "%s{\"id\":\"%s\",\"unit\":\"%s\",\"scale\":%" PRIu64 "}", k ? "," : "",
                columns[k].id, columns[k].unit, col_scale(b, k));
    fputs("],\n\"metrics\":[", out);
    int first_metric = 1;
    for (size_t m = 0; m < NMETRICS; m++) {
        if (metrics[m].cols >> b->ncols)
            continue;           /* a column the data does not have */
        fprintf(out, "%s\n{\"id\":\"%s\",\"label\":\"%s\",\"unit\":\"%s\",\"sum\":[",
                first_metric ? "" : ",", metrics[m].id, metrics[m].label, metrics[m].unit);
        first_metric = 0;
        int first = 1;
        for (int k = 0; k < b->ncols; k++)
            if (metrics[m].cols & BIT(k)) {
                fprintf(out, "%s\"%s\"", first ? "" : ",", columns[k].id);
                first = 0;
            }
        fputs("]}", out);
    }
    fputs("],\n", out);
}

/* The memory timeline (RSS, heap) on the buckets as they were before any
 * merging: per bucket the highest value seen in it, or the last value
 * before it. */
static int write_series(const struct builder *b, FILE *out)
{
    const struct capture *c = b->c;
    fputs("\"series\":[", out);
    if (c->ntimeline) {
        unsigned n = b->fine_nbuckets;
        uint64_t *rss = calloc(n, sizeof *rss), *heap = calloc(n, sizeof *heap);
        unsigned char *seen = calloc(n, 1);
        if (!rss || !heap || !seen) {
            free(rss);
            free(heap);
            free(seen);
            return -1;
        }
        for (size_t i = 0; i < c->ntimeline; i++) {
            const struct cap_timeline_point *t = &c->timeline[i];
            uint64_t k = t->t_ns / b->fine_bucket_ns;
            if (k >= n)
                k = n - 1;
            if (!seen[k] || t->rss_bytes > rss[k])
                rss[k] = t->rss_bytes;
            if (!seen[k] || t->heap_bytes > heap[k])
                heap[k] = t->heap_bytes;
            seen[k] = 1;
        }
        for (unsigned k = 1; k < n; k++)
            if (!seen[k]) {
                rss[k] = rss[k - 1];
                heap[k] = heap[k - 1];
            }
        static const char *const names[2][2] = { { "rss", "Resident memory (RSS)" },
                                                  { "heap", "Heap in use" } };
        for (int s = 0; s < 2; s++) {
            fprintf(out, "%s\n{\"id\":\"%s\",\"label\":\"%s\",\"unit\":\"bytes\","
                    "\"t0_ns\":0,\"width_ns\":%" PRIu64 ",\"values\":[",
                    s ? "," : "", names[s][0], names[s][1], b->fine_bucket_ns);
            for (unsigned k = 0; k < n; k++) {
                if (k)
                    putc(',', out);
                put_u64(out, s ? heap[k] : rss[k]);
            }
            fputs("]}", out);
        }
        free(rss);
        free(heap);
        free(seen);
    }
    fputs("]\n", out);
    return 0;
}

static void write_tables(const struct builder *b, FILE *out)
{
    fputs("\"strings\":[", out);
    for (size_t i = 0; i < b->nstrs; i++) {
        if (i)
            putc(',', out);
        put_string(out, b->strs[i]);
    }
    /* name, file, short file, module, first line, kind, location class */
    fputs("],\n\"funcs\":[", out);
    for (size_t i = 0; i < b->nfuncs; i++) {
        const struct hfunc *f = &b->funcs[i];
        fprintf(out, "%s%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRId32 ",%d,%d",
                i ? "," : "", f->name, f->file, f->short_file, f->module, f->first_line,
                f->kind, f->loc);
    }
    fputs("],\n\"sites\":[", out);      /* function, line */
    for (size_t i = 0; i < b->nsites; i++)
        fprintf(out, "%s%" PRIu32 ",%" PRId32, i ? "," : "", b->sites[i].func, b->sites[i].line);
    fputs("],\n\"threads\":[", out);    /* pid, tid, name */
    for (size_t i = 0; i < b->nthreads; i++) {
        fprintf(out, "%s%" PRId32 ",%" PRId32 ",", i ? "," : "", b->threads[i].pid,
                b->threads[i].tid);
        put_string(out, capture_thread_name(b->c, b->threads[i].pid, b->threads[i].tid));
    }
    /* nodes 1.. (0 is the root): distance to the parent, then the site */
    fprintf(out, "],\n\"nnodes\":%zu,\n\"nodes\":\"", b->nnodes);
    struct b64 e = { .out = out };
    for (size_t i = 1; i < b->nnodes; i++) {
        b64_varint(&e, i - b->nodes[i].parent);
        b64_varint(&e, b->nodes[i].site);
    }
    b64_flush(&e, 1);
    fputs("\",\n", out);
}

/* Per bucket: the number of threads with cells in it; per thread: its
 * index and number of cells; per cell: the node (as the distance from the
 * previous cell's, from 0), a mask of its non-zero columns, and their
 * values.  All varints. */
static void write_cells(const struct builder *b, FILE *out)
{
    fprintf(out, "\"buckets\":{\"t0_ns\":0,\"width_ns\":%" PRIu64 ",\"count\":%u},\n",
            b->bucket_ns, b->nbuckets);
    fprintf(out, "\"ncells\":%zu,\n\"cells\":\"", b->ncells);
    struct b64 e = { .out = out };
    size_t i = 0;
    for (unsigned bucket = 0; bucket < b->nbuckets; bucket++) {
        size_t end = i, groups = 0;
        for (; end < b->ncells && b->cells[end].bucket == bucket; end++)
            if (end == i || b->cells[end].thread != b->cells[end - 1].thread)
                groups++;
        b64_varint(&e, groups);
        while (i < end) {
            size_t j = i;
            while (j < end && b->cells[j].thread == b->cells[i].thread)
                j++;
            b64_varint(&e, b->cells[i].thread);
            b64_varint(&e, j - i);
            uint32_t prev = 0;
            for (; i < j; i++) {
                const struct hcell *cell = &b->cells[i];
                uint64_t v[NCOLS];
                unsigned mask = 0;
                for (int k = 0; k < b->ncols; k++)
                    if ((v[k] = scaled(b, k, cell->v[k])))
                        mask |= BIT(k);
                b64_varint(&e, cell->node - prev);
                b64_varint(&e, mask);
                for (int k = 0; k < b->ncols; k++)
                    if (mask & BIT(k))
                        b64_varint(&e, v[k]);
                prev = cell->node;
            }
        }
    }
    b64_flush(&e, 1);
    fputs("\",\n", out);
}

int html_report_data(const struct capture *c, const struct html_opts *o, FILE *out,
                     struct html_stats *stats)
{
    struct builder b = { .c = c };
    if (aggregate(&b, o) < 0) {
        builder_free(&b);
        return -1;
    }
    fputs("{\"format\":\"stetho-html/1\",\n", out);
    write_meta(&b, out);
    write_tables(&b, out);
    write_cells(&b, out);
    int rc = write_series(&b, out);
    fputs("}\n", out);
    if (stats)
        *stats = (struct html_stats){ .nodes = b.nnodes, .cells = b.ncells, .funcs = b.nfuncs,
                                      .sites = b.nsites, .buckets = b.nbuckets,
                                      .bucket_ns = b.bucket_ns };
    builder_free(&b);
    return rc;
}

static void put_lines(FILE *out, const char *const *lines)
{
    for (; *lines; lines++)
        fputs(*lines, out);
}

int html_report_write(const struct capture *c, const struct html_opts *o, FILE *out,
                      struct html_stats *stats)
{
    static const char *const markers[] = { "@@CSS@@", "@@JS@@", "@@DATA@@" };
    size_t len = 0;
    for (const char *const *l = embed_report_html; *l; l++)
        len += strlen(*l);
    char *tpl = malloc(len + 1), *at = tpl;
    if (!tpl)
        return -1;
    for (const char *const *l = embed_report_html; *l; l++)
        at = stpcpy(at, *l);

    int rc = 0;
    const char *p = tpl;
    for (;;) {
        const char *next = NULL;
        int which = -1;
        for (int m = 0; m < 3; m++) {
            const char *q = strstr(p, markers[m]);
            if (q && (!next || q < next)) {
                next = q;
                which = m;
            }
        }
        if (!next) {
            fputs(p, out);
            break;
        }
        fwrite(p, 1, (size_t)(next - p), out);
        if (which == 0)
            put_lines(out, embed_report_css);
        else if (which == 1)
            put_lines(out, embed_report_js);
        else if (html_report_data(c, o, out, stats) < 0)
            rc = -1;
        p = next + strlen(markers[which]);
    }
    free(tpl);
    return rc;
}
