/*
 * html_report.c -- the HTML page of a capture (html_report.h; the data
 * format is in docs/html-report.md): a reader of the report model.
 *
 * The model gives the tree (one for all threads, by line: the page
 * splits it per thread from the cells) and the cells (model/cells.h);
 * this file only numbers what the page needs -- the lines the nodes use
 * ("sites"), their functions and the strings, each in order of first use
 * by the nodes -- and writes them.
 *
 * The two big arrays, nodes and cells, are written as unsigned LEB128
 * varints in base64: about a third of the size of JSON numbers, and
 * quicker for the page to read.
 */
#include "report/html_report.h"
#include "report/leaks.h"
#include "model/cells.h"
#include "model/location.h"
#include "model/profile.h"
#include "util/array.h"
#include "util/hash.h"
#include "util/json.h"
#include "util/kmap.h"
#include "html_assets.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum {
    COL_SAMPLES = PROF_COL_SAMPLES,
    COL_USER = PROF_COL_USER,
    COL_SYS = PROF_COL_SYS,
    COL_WAIT = PROF_COL_WAIT,
    COL_ALLOC = PROF_COL_ALLOC,
    COL_ALLOCS = PROF_COL_ALLOCS,
    COL_PEAK = PROF_COL_PEAK,
    COL_LEAKED = PROF_COL_LEAKED,
    NCOLS = PROF_NCOLS,
    NTIME_COLS = PROF_NTIME_COLS,
};

static const struct {
    const char *id, *unit;
} columns[] = {
    { "samples", "count" }, { "user", "ns" }, { "sys", "ns" }, { "io", "ns" },
    { "sleep", "ns" }, { "lock", "ns" }, { "gil", "ns" }, { "other", "ns" },
    { "alloc", "bytes" }, { "allocs", "count" }, { "peak", "bytes" }, { "leaked", "bytes" },
};
_Static_assert(sizeof columns / sizeof columns[0] == NCOLS, "a name for every column");

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

/* The page's numbering of the model's functions, lines and strings. */
struct page {
    const struct capture *c;
    const struct profile *p;
    const struct prof_cells *cl;
    uint64_t unit_ns;           /* of the times in cells */
    char **strs;                /* the page's strings, each text once */
    size_t nstrs, strs_cap;
    struct kmap str_map;        /* (hash, length) -> string */
    uint32_t *func_no;          /* model function -> page function + 1 */
    uint32_t *funcs;            /* page function -> model function */
    size_t nfuncs;
    uint32_t (*func_strs)[4];   /* page function -> name, file, short file, module */
    uint32_t *site_no;          /* model line -> page site + 1 */
    uint32_t *sites;            /* page site -> model line */
    size_t nsites;
};

/* The page string with text s, added if new; or -1. */
static int64_t out_string(struct page *b, const char *s)
{
    size_t len = strlen(s);
    uint64_t h = util_hash_str(s);
    uint32_t idx = kmap_get(&b->str_map, h, len, UINT32_MAX);
    if (idx != UINT32_MAX && !strcmp(b->strs[idx], s))
        return idx;
    char *copy = strdup(s);
    if (!copy || ARRAY_RESERVE(b->strs, b->nstrs, b->strs_cap) < 0) {
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

/* The page function of model function f, numbered (with its strings) if new; or -1. */
static int64_t page_func(struct page *b, uint32_t f)
{
    if (b->func_no[f])
        return b->func_no[f] - 1;
    const struct prof_site *fn = &b->p->funcs[f];
    char module[128];
    int64_t s[4] = { out_string(b, fn->function), out_string(b, fn->file),
                     out_string(b, loc_short(fn->file, NULL)),
                     out_string(b, loc_module(fn->file, module, sizeof module)) };
    for (int k = 0; k < 4; k++)
        if (s[k] < 0)
            return -1;
    b->funcs[b->nfuncs] = f;
    for (int k = 0; k < 4; k++)
        b->func_strs[b->nfuncs][k] = (uint32_t)s[k];
    b->func_no[f] = (uint32_t)++b->nfuncs;
    return b->func_no[f] - 1;
}

/* Number the sites, functions and strings the nodes use, in node order. */
static int number(struct page *b)
{
    const struct profile *p = b->p;
    b->func_no = calloc(p->nfuncs, sizeof *b->func_no);
    b->funcs = calloc(p->nfuncs, sizeof *b->funcs);
    b->func_strs = calloc(p->nfuncs, sizeof *b->func_strs);
    b->site_no = calloc(p->nlines ? p->nlines : 1, sizeof *b->site_no);
    b->sites = calloc(p->nlines ? p->nlines : 1, sizeof *b->sites);
    if (!b->func_no || !b->funcs || !b->func_strs || !b->site_no || !b->sites)
        return -1;
    for (size_t i = 1; i < p->nnodes; i++) {
        uint32_t line = p->nodes[i].site;
        assert(p->nodes[i].kind == PROF_NODE_FRAME && line < p->nlines);
        if (b->site_no[line])
            continue;
        if (page_func(b, p->lines[line].func) < 0)
            return -1;
        b->sites[b->nsites] = line;
        b->site_no[line] = (uint32_t)++b->nsites;
    }
    return 0;
}

static void page_free(struct page *b)
{
    for (size_t i = 0; i < b->nstrs; i++)
        free(b->strs[i]);
    free(b->strs);
    kmap_free(&b->str_map);
    free(b->func_no);
    free(b->funcs);
    free(b->func_strs);
    free(b->site_no);
    free(b->sites);
}

/* ---- writing ---- */

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
static uint64_t col_scale(const struct page *b, int col)
{
    return col == COL_SAMPLES || col >= NTIME_COLS ? 1 : b->unit_ns;
}

static uint64_t scaled(const struct page *b, int col, uint64_t v)
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

static void write_meta(const struct page *b, FILE *out)
{
    const struct capture *c = b->c;
    const struct cap_process *p = c->nprocesses ? &c->processes[0] : NULL;
    fputs("\"meta\":{\"argv\":[", out);
    for (int i = 0; p && i < p->argc; i++) {
        if (i)
            putc(',', out);
        json_string_script(out, p->argv[i]);
    }
    fputs("],\"python_version\":", out);
    json_string_script(out, p ? p->python_version : NULL);
    fputs(",\"python_executable\":", out);
    json_string_script(out, p ? p->python_executable : NULL);
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
    put_u64(out, c->has_duration ? c->duration_ns : b->cl->span_ns);
    fputs(",\"interval_ns\":", out);
    put_u64(out, c->interval_ns);
    fputs(",\"start_unix_ns\":", out);
    put_u64(out, c->start_unix_ns);
    fputs(",\"truncated\":", out);
    json_string_script(out, c->truncated ? (c->truncation ? c->truncation : "truncated") : NULL);
    if (c->has_memory) {
        /* 0: every allocation seen; else sampled, one in about this many bytes */
        fputs(",\"memory_sample_bytes\":", out);
        put_u64(out, c->mem_totals.sample_mean);
    }
    fputs("},\n", out);

    fputs("\"totals\":{", out);
    for (int k = 0; k < b->cl->ncols; k++) {
        fprintf(out, "%s\"%s\":", k ? "," : "", columns[k].id);
        put_u64(out, b->cl->totals[k]);
    }
    fputs("},\n\"columns\":[", out);
    for (int k = 0; k < b->cl->ncols; k++)
        fprintf(out, "%s{\"id\":\"%s\",\"unit\":\"%s\",\"scale\":%" PRIu64 "}", k ? "," : "",
                columns[k].id, columns[k].unit, col_scale(b, k));
    fputs("],\n\"metrics\":[", out);
    int first_metric = 1;
    for (size_t m = 0; m < NMETRICS; m++) {
        if (metrics[m].cols >> b->cl->ncols)
            continue;           /* a column the data does not have */
        fprintf(out, "%s\n{\"id\":\"%s\",\"label\":\"%s\",\"unit\":\"%s\",\"sum\":[",
                first_metric ? "" : ",", metrics[m].id, metrics[m].label, metrics[m].unit);
        first_metric = 0;
        int first = 1;
        for (int k = 0; k < b->cl->ncols; k++)
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
static int write_series(const struct page *b, FILE *out)
{
    const struct capture *c = b->c;
    fputs("\"series\":[", out);
    if (c->ntimeline) {
        unsigned n = b->cl->fine_nbuckets;
        uint64_t *rss, *heap;
        if (prof_cells_series(b->cl, c, &rss, &heap) < 0)
            return -1;
        static const char *const names[2][2] = { { "rss", "Resident memory (RSS)" },
                                                  { "heap", "Heap in use" } };
        for (int s = 0; s < 2; s++) {
            fprintf(out, "%s\n{\"id\":\"%s\",\"label\":\"%s\",\"unit\":\"bytes\","
                    "\"t0_ns\":0,\"width_ns\":%" PRIu64 ",\"values\":[",
                    s ? "," : "", names[s][0], names[s][1], b->cl->fine_bucket_ns);
            for (unsigned k = 0; k < n; k++) {
                if (k)
                    putc(',', out);
                put_u64(out, s ? heap[k] : rss[k]);
            }
            fputs("]}", out);
        }
        free(rss);
        free(heap);
    }
    fputs("]\n", out);
    return 0;
}

static void write_tables(const struct page *b, FILE *out)
{
    fputs("\"strings\":[", out);
    for (size_t i = 0; i < b->nstrs; i++) {
        if (i)
            putc(',', out);
        json_string_script(out, b->strs[i]);
    }
    /* name, file, short file, module, first line, kind, location class */
    fputs("],\n\"funcs\":[", out);
    for (size_t i = 0; i < b->nfuncs; i++) {
        const struct prof_site *f = &b->p->funcs[b->funcs[i]];
        const uint32_t *str = b->func_strs[i];
        fprintf(out, "%s%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRIu32 ",%" PRId32 ",%d,%d",
                i ? "," : "", str[0], str[1], str[2], str[3], f->first_line, f->kind, f->loc);
    }
    /* calls, primitive calls per function (run --calls), or null */
    fputs("],\n\"calls\":", out);
    if (b->p->has_calls) {
        for (size_t i = 0; i < b->nfuncs; i++) {
            const struct prof_calls *k = &b->p->funcs[b->funcs[i]].calls;
            fprintf(out, "%s%" PRIu64 ",%" PRIu64, i ? "," : "[", k->calls, k->primitive_calls);
        }
        fputs(b->nfuncs ? "]" : "[]", out);
    } else {
        fputs("null", out);
    }
    fputs(",\n\"sites\":[", out);      /* function, line */
    for (size_t i = 0; i < b->nsites; i++) {
        const struct prof_site *l = &b->p->lines[b->sites[i]];
        fprintf(out, "%s%" PRIu32 ",%" PRId32, i ? "," : "", b->func_no[l->func] - 1, l->line);
    }
    fputs("],\n\"threads\":[", out);    /* pid, tid, name */
    for (size_t i = 0; i < b->p->nthreads; i++) {
        const struct prof_thread *t = &b->p->threads[i];
        fprintf(out, "%s%" PRId32 ",%" PRId32 ",", i ? "," : "", t->pid, t->tid);
        json_string_script(out, t->name);
    }
    /* nodes 1.. (0 is the root): distance to the parent, then the site */
    fprintf(out, "],\n\"nnodes\":%zu,\n\"nodes\":\"", b->p->nnodes);
    struct b64 e = { .out = out };
    for (size_t i = 1; i < b->p->nnodes; i++) {
        b64_varint(&e, i - b->p->nodes[i].parent);
        b64_varint(&e, b->site_no[b->p->nodes[i].site] - 1);
    }
    b64_flush(&e, 1);
    fputs("\",\n", out);
}

/* Per bucket: the number of threads with cells in it; per thread: its
 * index and number of cells; per cell: the node (as the distance from the
 * previous cell's, from 0), a mask of its non-zero columns, and their
 * values.  All varints. */
static void write_cells(const struct page *b, FILE *out)
{
    const struct prof_cells *cl = b->cl;
    fprintf(out, "\"buckets\":{\"t0_ns\":0,\"width_ns\":%" PRIu64 ",\"count\":%u},\n",
            cl->bucket_ns, cl->nbuckets);
    fprintf(out, "\"ncells\":%zu,\n\"cells\":\"", cl->n);
    struct b64 e = { .out = out };
    size_t i = 0;
    for (unsigned bucket = 0; bucket < cl->nbuckets; bucket++) {
        size_t end = i, groups = 0;
        for (; end < cl->n && cl->v[end].bucket == bucket; end++)
            if (end == i || cl->v[end].thread != cl->v[end - 1].thread)
                groups++;
        b64_varint(&e, groups);
        while (i < end) {
            size_t j = i;
            while (j < end && cl->v[j].thread == cl->v[i].thread)
                j++;
            b64_varint(&e, cl->v[i].thread);
            b64_varint(&e, j - i);
            uint32_t prev = 0;
            for (; i < j; i++) {
                const struct prof_cell *cell = &cl->v[i];
                uint64_t v[NCOLS];
                unsigned mask = 0;
                for (int k = 0; k < cl->ncols; k++)
                    if ((v[k] = scaled(b, k, cell->v[k])))
                        mask |= BIT(k);
                b64_varint(&e, cell->node - prev);
                b64_varint(&e, mask);
                for (int k = 0; k < cl->ncols; k++)
                    if (mask & BIT(k))
                        b64_varint(&e, v[k]);
                prev = cell->node;
            }
        }
    }
    b64_flush(&e, 1);
    fputs("\",\n", out);
}

/* Times to a thousandth of the interval, in a power of ten of
 * microseconds: 10 us for the usual 10 ms. */
static uint64_t time_unit(const struct capture *c)
{
    uint64_t interval = c->interval_ns ? c->interval_ns : 1000000, unit = 1000;
    while (unit <= interval / 10000)    /* no overflow, whatever the file says */
        unit *= 10;
    return unit;
}

int html_report_data(const struct capture *c, const struct html_opts *o, FILE *out,
                     struct html_stats *stats)
{
    /* one tree for every thread, by line, nothing hidden: the page
     * chooses threads and folds libraries itself */
    struct profile_opts po = { .merge_threads = 1, .by_line = 1, .skip = PROF_NO_TABLES,
                               .merge_tasks = o && o->merge_tasks };
    struct prof_cells_opts co = { 0 };
    if (o)
        co = (struct prof_cells_opts){ o->max_buckets, o->min_buckets, o->max_cells };
    struct profile p;
    struct prof_cells cl;
    if (profile_build(&p, c, &po) < 0)
        return -1;
    if (prof_cells_build(&cl, &p, &co) < 0) {
        profile_free(&p);
        return -1;
    }
    struct page b = { .c = c, .p = &p, .cl = &cl, .unit_ns = time_unit(c) };
    int rc = number(&b);
    if (rc == 0) {
        fputs("{\"format\":\"stetho-html/1\",\n", out);
        write_meta(&b, out);
        write_tables(&b, out);
        write_cells(&b, out);
        rc = write_series(&b, out);
        /* the Leaks tab: the facts of `stetho leaks`, from its code */
        if (rc == 0 && c->has_memory) {
            fputs(",\"leaks\":", out);
            rc = leaks_json_script(c, out);
        }
        fputs("}\n", out);
    }
    if (stats)
        *stats = (struct html_stats){ .nodes = p.nnodes, .cells = cl.n, .funcs = b.nfuncs,
                                      .sites = b.nsites, .buckets = cl.nbuckets,
                                      .bucket_ns = cl.bucket_ns };
    page_free(&b);
    prof_cells_free(&cl);
    profile_free(&p);
    return rc;
}

static void put_lines(FILE *out, const char *const *lines)
{
    for (; *lines; lines++)
        fputs(*lines, out);
}

int html_page_write(FILE *out, int (*data)(void *ctx, FILE *out), void *ctx)
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
        else if (data(ctx, out) < 0)
            rc = -1;
        p = next + strlen(markers[which]);
    }
    free(tpl);
    return rc;
}

struct report_ctx {
    const struct capture *c;
    const struct html_opts *o;
    struct html_stats *stats;
};

static int report_data(void *ctx, FILE *out)
{
    const struct report_ctx *r = ctx;
    return html_report_data(r->c, r->o, out, r->stats);
}

int html_report_write(const struct capture *c, const struct html_opts *o, FILE *out,
                      struct html_stats *stats)
{
    return html_page_write(out, report_data, &(struct report_ctx){ c, o, stats });
}
