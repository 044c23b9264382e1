/*
 * pstats.c -- the file Python's pstats.Stats loads (what cProfile's
 * dump_stats writes, and snakeviz and gprof2dot read): one marshalled dict
 *
 *     {(file, line, function): (cc, nc, tottime, cumtime,
 *                               {caller: (nc, cc, tottime, cumtime)})}
 *
 * Sampling sees no calls, so the counts are samples: the number of samples
 * with the function on the stack, given as both call counts (pstats then
 * shows one number).  tottime is the function's self wall time, cumtime
 * its total wall time counted once per sample (recursion does not double
 * it), in seconds; the callers are the stacks' parent edges, each counted
 * once per sample, with the callee's self time under its direct caller.
 * Threads are merged: pstats has no notion of them.  docs/exports.md.
 *
 * A capture of `run --calls` has the real figures: then every function and
 * edge the agent counted is written with its call counts (all and
 * primitive), own and cumulative time, exactly as cProfile's dump_stats
 * would, and the samples are not used.
 *
 * The encoding is CPython's marshal format (Python/marshal.c), of which
 * this needs ints, floats, strings, tuples and dicts; it is stable across
 * Python 3 versions for these types.
 */
#include "export/export.h"
#include "util/array.h"
#include "util/kmap.h"

#include <stdlib.h>
#include <string.h>

/* marshal's type codes */
enum {
    M_NULL = '0',               /* ends a dict */
    M_INT = 'i',                /* int32, little-endian */
    M_LONG = 'l',               /* int32 digit count (sign = sign), 15-bit digits */
    M_BINARY_FLOAT = 'g',       /* IEEE double, little-endian */
    M_DICT = '{',
    M_SMALL_TUPLE = ')',        /* one-byte length */
    M_SHORT_ASCII = 'z',        /* one-byte length */
    M_ASCII = 'a',              /* int32 length */
    M_UNICODE = 'u',            /* int32 length, UTF-8 */
};

static void m_u32(FILE *f, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        fputc((int)(v >> (8 * i) & 0xff), f);
}

static void m_int(FILE *f, uint64_t v)
{
    if (v <= INT32_MAX) {
        fputc(M_INT, f);
        m_u32(f, (uint32_t)v);
        return;
    }
    int ndigits = 0;
    for (uint64_t t = v; t; t >>= 15)
        ndigits++;
    fputc(M_LONG, f);
    m_u32(f, (uint32_t)ndigits);
    for (; v; v >>= 15) {
        fputc((int)(v & 0xff), f);
        fputc((int)(v >> 8 & 0x7f), f);
    }
}

static void m_float(FILE *f, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    fputc(M_BINARY_FLOAT, f);
    for (int i = 0; i < 8; i++)
        fputc((int)(bits >> (8 * i) & 0xff), f);
}

/* Length of the valid UTF-8 character at p, or 0. */
static size_t utf8_char(const unsigned char *p)
{
    size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2
             : p[0] >= 0xe0 && p[0] < 0xf0 ? 3 : p[0] >= 0xf0 && p[0] < 0xf5 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (n == 4 && p[0] == 0xf0 && p[1] < 0x90) ||
        (n == 4 && p[0] == 0xf4 && p[1] >= 0x90))
        return 0;               /* overlong, or past U+10FFFF */
    return n;
}

/* A str.  marshal refuses text that is not UTF-8, so any byte that is
 * not part of a valid character is written as '?'. */
static void m_str(FILE *f, const char *s)
{
    size_t len = strlen(s);
    int ascii = 1, valid = 1;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_char(p);
        ascii &= n <= 1;        /* a bad byte becomes '?' below */
        valid &= n != 0;
        p += n ? n : 1;
    }
    if (ascii && len < 256) {
        fputc(M_SHORT_ASCII, f);
        fputc((int)len, f);
    } else {
        fputc(ascii ? M_ASCII : M_UNICODE, f);
        m_u32(f, (uint32_t)len);
    }
    if (valid) {
        fwrite(s, 1, len, f);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_char(p);
        if (n)
            fwrite(p, 1, n, f);
        else
            fputc('?', f);
        p += n ? n : 1;
    }
}

static void m_tuple(FILE *f, int n)
{
    fputc(M_SMALL_TUPLE, f);
    fputc(n, f);
}

/* ---- the statistics ---- */

struct edge {
    uint32_t caller, callee;
    uint64_t n, prim, self_ns, total_ns;
    uint32_t stamp;             /* the stack it was last counted for */
};

struct func_stats {
    uint64_t n, prim, self_ns, total_ns;    /* prim: counted runs only */
    uint32_t stamp;
};

/* pstats's key: builtins and our synthetic frames as ('~', 0, name), which
 * pstats prints as just the name. */
static void put_key(FILE *f, const struct prof_site *e)
{
    int bare = !e->file[0];
    m_tuple(f, 3);
    m_str(f, bare ? "~" : e->file);
    m_int(f, bare ? 0 : (uint64_t)(e->first_line > 0 ? e->first_line : 0));
    m_str(f, e->function);
}


/* The statistics of one export. */
struct calls {
    struct func_stats *st;      /* per function of the model */
    struct edge *edges;         /* caller -> callee */
    size_t nedges, edges_cap;
    struct kmap index;          /* (caller, callee) -> edge */
    uint32_t *first;            /* per function: its callers' first in by_callee */
    uint32_t *by_callee;        /* edge indices grouped by callee */
    int counted;                /* the figures are the agent's counts */
};

/* The edge caller -> callee, added if new; or NULL. */
static struct edge *edge_of(struct calls *k, uint32_t caller, uint32_t callee)
{
    int isnew;
    uint32_t *slot = kmap_put(&k->index, caller, callee, (uint32_t)k->nedges, &isnew);
    if (!slot)
        return NULL;
    if (isnew) {
        if (ARRAY_RESERVE(k->edges, k->nedges, k->edges_cap) < 0)
            return NULL;
        k->edges[k->nedges++] = (struct edge){ caller, callee, 0, 0, 0, 0, 0 };
    }
    return &k->edges[*slot];
}

/* Count stack s (n samples, wall ns) for its functions and call edges,
 * each once per stack; 0, or -1. */
static int count_stack(struct calls *k, const struct profile *p, uint32_t s, uint64_t n,
                       uint64_t wall, uint32_t *buf)
{
    size_t depth = prof_stack_funcs(p, s, buf);
    k->st[buf[depth - 1]].self_ns += wall;
    for (size_t i = 0; i < depth; i++) {
        struct func_stats *fs = &k->st[buf[i]];
        if (fs->stamp != s + 1) {
            fs->stamp = s + 1;
            fs->n += n;
            fs->total_ns += wall;
        }
        if (!i)
            continue;
        struct edge *e = edge_of(k, buf[i - 1], buf[i]);
        if (!e)
            return -1;
        if (e->stamp != s + 1) {
            e->stamp = s + 1;
            e->n += n;
            e->total_ns += wall;
        }
        if (i == depth - 1)
            e->self_ns += wall;
    }
    return 0;
}

/* Every stack's samples, threads merged (pstats has no notion of them). */
static int count_calls(struct calls *k, const struct profile *p)
{
    const struct capture *c = p->cap;
    size_t ns = c->nstacks ? c->nstacks : 1;
    uint64_t *count = calloc(ns, sizeof *count), *wall = calloc(ns, sizeof *wall);
    uint32_t *buf = malloc((c->nstacks + 1) * sizeof *buf);
    int rc = count && wall && buf ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < p->nrows; i++) {
        uint32_t s = p->rows[i].stack < c->nstacks ? p->rows[i].stack : 0;
        count[s] += p->rows[i].m.samples;
        wall[s] += p->rows[i].m.wall_ns;
    }
    for (uint32_t s = 0; rc == 0 && s < ns; s++)
        if (count[s])
            rc = count_stack(k, p, s, count[s], wall[s], buf);
    free(count);
    free(wall);
    free(buf);
    return rc;
}

/* The agent's counts (model/calls.h), in place of the samples. */
static int counted_calls(struct calls *k, const struct profile *p)
{
    k->counted = 1;
    for (size_t i = 0; i < p->nfuncs; i++) {
        const struct prof_calls *c = &p->funcs[i].calls;
        k->st[i] = (struct func_stats){ c->calls, c->primitive_calls, c->own_ns, c->cum_ns, 0 };
    }
    for (size_t i = 0; i < p->ncall_edges; i++) {
        const struct prof_call_edge *pe = &p->call_edges[i];
        struct edge *e = edge_of(k, pe->caller, pe->callee);
        if (!e)
            return -1;
        *e = (struct edge){ pe->caller, pe->callee, pe->c.calls, pe->c.primitive_calls,
                            pe->c.own_ns, pe->c.cum_ns, 0 };
    }
    return 0;
}

/* The edges grouped by callee (counting sort), for each one's callers. */
static int group_callers(struct calls *k, size_t nfuncs)
{
    k->by_callee = malloc((k->nedges ? k->nedges : 1) * sizeof *k->by_callee);
    if (!k->by_callee)
        return -1;
    for (size_t e = 0; e < k->nedges; e++)
        k->first[k->edges[e].callee + 1]++;
    for (size_t i = 0; i < nfuncs; i++)
        k->first[i + 1] += k->first[i];
    for (size_t e = 0; e < k->nedges; e++)
        k->by_callee[k->first[k->edges[e].callee]++] = (uint32_t)e;
    for (size_t i = nfuncs; i > 0; i--)
        k->first[i] = k->first[i - 1];
    k->first[0] = 0;
    return 0;
}

static void put_stats(FILE *out, const struct profile *p, const struct calls *k)
{
    fputc(M_DICT, out);
    for (size_t i = 0; i < p->nfuncs; i++) {
        const struct func_stats *fs = &k->st[i];
        if (!fs->n)
            continue;
        put_key(out, &p->funcs[i]);
        m_tuple(out, 5);
        m_int(out, k->counted ? fs->prim : fs->n);     /* primitive calls */
        m_int(out, fs->n);                              /* all calls */
        m_float(out, prof_secs(fs->self_ns));
        m_float(out, prof_secs(fs->total_ns));
        fputc(M_DICT, out);
        for (uint32_t j = k->first[i]; j < k->first[i + 1]; j++) {
            const struct edge *e = &k->edges[k->by_callee[j]];
            put_key(out, &p->funcs[e->caller]);
            m_tuple(out, 4);
            m_int(out, e->n);                           /* all calls */
            m_int(out, k->counted ? e->prim : e->n);    /* primitive calls */
            m_float(out, prof_secs(e->self_ns));
            m_float(out, prof_secs(e->total_ns));
        }
        fputc(M_NULL, out);
    }
    fputc(M_NULL, out);
}

int export_pstats(const struct capture *c, const struct export_opts *o, FILE *out)
{
    struct profile p;
    struct calls k = {0};
    /* wall time is what pstats means by time: only --merge-tasks applies */
    if (profile_build(&p, c, &(struct profile_opts){ .skip = PROF_ROWS_ONLY,
                                                     .merge_tasks = o->merge_tasks }) < 0)
        return -1;
    k.st = calloc(p.nfuncs, sizeof *k.st);
    k.first = calloc(p.nfuncs + 1, sizeof *k.first);
    int rc = k.st && k.first &&
             (p.has_calls ? counted_calls(&k, &p) : count_calls(&k, &p)) == 0 &&
             group_callers(&k, p.nfuncs) == 0 ? 0 : -1;
    if (rc == 0)
        put_stats(out, &p, &k);
    profile_free(&p);
    kmap_free(&k.index);
    free(k.st);
    free(k.edges);
    free(k.first);
    free(k.by_callee);
    return rc;
}
