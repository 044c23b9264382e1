/*
 * table.c -- `stetho table`: the functions (or lines)
 * that took the most time, one row each, with the time split into CPU and
 * the kinds of waiting.
 *
 * The user/sys/wait columns and the sample count follow --sort: with
 * "self" they split each row's self time, with "total" its total time, so
 * a row's columns always add up to the time it is sorted by (for wall).
 * A capture with memory adds four columns (allocated bytes, allocations,
 * bytes held at the heap's peak, leaked bytes) that follow --sort too, and
 * rows for functions that allocated without ever being sampled; --metric
 * can then be one of them.
 */
#include "report/table.h"
#include "model/location.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* qsort has no context argument: sort pointers to rows paired with keys. */
struct row {
    const struct prof_site *site;
    uint64_t key, tiebreak;
};

static int by_key(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    if (x->tiebreak != y->tiebreak)
        return x->tiebreak < y->tiebreak ? 1 : -1;
    return x->site < y->site ? -1 : x->site > y->site;
}


/* The self or total column of the sort metric, w wide: seconds as they
 * always were, bytes and counts as text. */
static void put_value(FILE *f, int w, enum prof_metric m, uint64_t v)
{
    char b[PROF_FMT_LEN];
    if (prof_metric_unit(m) == PROF_UNIT_NS)
        fprintf(f, "%*.3f", w, prof_secs(v));
    else
        fprintf(f, "%*s", w, prof_fmt_metric(b, sizeof b, m, v));
}

static void put_memory(FILE *f, const struct prof_metrics *m)
{
    char a[PROF_FMT_LEN], n[PROF_FMT_LEN], pk[PROF_FMT_LEN], l[PROF_FMT_LEN];
    fprintf(f, " %10s %13s %10s %10s", prof_fmt_bytes(a, sizeof a, m->alloc_bytes),
            prof_fmt_count(n, sizeof n, m->alloc_count),
            prof_fmt_bytes(pk, sizeof pk, m->peak_bytes),
            prof_fmt_bytes(l, sizeof l, m->leaked_bytes));
}

static int print_table(const struct profile *p, const struct table_opts *o, FILE *f)
{
    const struct prof_site *sites = o->lines ? p->lines : p->funcs;
    size_t n = o->lines ? p->nlines : p->nfuncs, nrows = 0;
    int memory = p->cap->has_memory;
    struct row *rows = malloc((n ? n : 1) * sizeof *rows);
    if (!rows)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const struct prof_site *s = &sites[i];
        if (!s->total.samples && !(memory && (s->total.alloc_count || s->total.peak_bytes ||
                                              s->total.leaked_bytes)))
            continue;
        uint64_t self = prof_metric_ns(&s->self, o->metric);
        uint64_t total = prof_metric_ns(&s->total, o->metric);
        rows[nrows++] = (struct row){ s, o->by_total ? total : self, o->by_total ? self : total };
    }
    qsort(rows, nrows, sizeof *rows, by_key);

    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    const char *m = prof_metric_name(o->metric), *which = o->by_total ? "total" : "self";
    int is_time = prof_metric_unit(o->metric) == PROF_UNIT_NS;
    fprintf(f, "%s by %s %s%s; user..other split the %s time (seconds)",
            o->lines ? "Lines" : "Functions", which, m, is_time ? " time" : "", which);
    if (memory)
        fprintf(f, ", allocated..leaked its memory%s",
                p->cap->mem_totals.sample_mean ? " (estimated: the run sampled allocations)" : "");
    fputc('\n', f);
    char self_h[24], total_h[24];
    snprintf(self_h, sizeof self_h, "self %s", m);
    snprintf(total_h, sizeof total_h, "total %s", m);
    int w = strlen(total_h) > 10 ? (int)strlen(total_h) : 10;     /* "total allocations" */
    fprintf(f, "%*s %*s %8s %8s %8s %8s %8s %8s %8s %8s", w, self_h, w, total_h, "user",
            "sys", "io", "sleep", "lock", "gil", "other", "samples");
    if (memory)
        fprintf(f, " %10s %13s %10s %10s", "allocated", "allocations", "peak", "leaked");
    fprintf(f, "  %s\n", o->lines ? "line" : "function");
    uint64_t whole = prof_metric_ns(&p->total, o->metric);
    for (size_t i = 0; i < nrows && (o->limit == 0 || (long)i < o->limit); i++) {
        const struct prof_site *s = rows[i].site;
        const struct prof_metrics *split = o->by_total ? &s->total : &s->self;
        put_value(f, w, o->metric, prof_metric_ns(&s->self, o->metric));
        fputc(' ', f);
        put_value(f, w, o->metric, prof_metric_ns(&s->total, o->metric));
        fprintf(f, " %8.3f %8.3f", prof_secs(split->user_ns), prof_secs(split->sys_ns));
        for (int k = 0; k < CAP_WAIT_KINDS; k++)
            fprintf(f, " %8.3f", prof_secs(split->wait_ns[k]));
        fprintf(f, " %8llu", (unsigned long long)split->samples);
        if (memory)
            put_memory(f, split);
        /* C/C++ frames (--native) marked, as in the tree */
        fprintf(f, "  %s%s", s->kind == CAP_FRAME_NATIVE ? "[native] " : "", s->function);
        if (s->file[0])
            fprintf(f, "  %s", loc_short(s->file, cwd));
        if (s->line > 0)
            fprintf(f, ":%d", (int)s->line);
        fputc('\n', f);
    }
    if (o->limit && nrows > (size_t)o->limit)
        fprintf(f, "... %zu more (--limit 0 shows every row)\n", nrows - (size_t)o->limit);
    fprintf(f, "%*s ", w, "");
    put_value(f, w, o->metric, whole);
    fprintf(f, " %8.3f %8.3f", prof_secs(p->total.user_ns), prof_secs(p->total.sys_ns));
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        fprintf(f, " %8.3f", prof_secs(p->total.wait_ns[k]));
    fprintf(f, " %8llu", (unsigned long long)p->total.samples);
    if (memory)
        put_memory(f, &p->total);
    fprintf(f, "  (all samples%s)\n", memory ? " and memory" : "");
    free(rows);
    return 0;
}

struct crow {
    const struct prof_site *site;
    uint64_t key;
};

static int by_crow(const void *a, const void *b)
{
    const struct crow *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return x->site < y->site ? -1 : x->site > y->site;
}

static double per(uint64_t ns, uint64_t n)
{
    return n ? prof_secs(ns) / (double)n : 0.0;
}

/* pstats' func_std_string: a built-in's "<label>" shows as "{label}". */
static void put_where(FILE *f, const struct prof_site *s, const char *cwd)
{
    size_t n = strlen(s->function);
    if (s->kind == CAP_FRAME_NATIVE && n >= 2 && s->function[0] == '<' &&
        s->function[n - 1] == '>')
        fprintf(f, "{%.*s}\n", (int)(n - 2), s->function + 1);
    else if (s->kind == CAP_FRAME_NATIVE)
        fprintf(f, "%s\n", s->function);
    else
        fprintf(f, "%s:%d(%s)\n", loc_short(s->file, cwd), (int)s->first_line, s->function);
}

static int print_calls(const struct profile *p, const struct table_opts *o, FILE *f)
{
    if (!p->has_calls)
        return -2;
    struct crow *rows = malloc((p->nfuncs ? p->nfuncs : 1) * sizeof *rows);
    if (!rows)
        return -1;
    size_t nrows = 0;
    uint64_t total_calls = 0, total_prim = 0;
    for (size_t i = 0; i < p->nfuncs; i++) {
        const struct prof_site *s = &p->funcs[i];
        if (!s->calls.calls)
            continue;
        total_calls += s->calls.calls;
        total_prim += s->calls.primitive_calls;
        rows[nrows++] = (struct crow){ s, o->by_total ? s->calls.cum_ns : s->calls.own_ns };
    }
    qsort(rows, nrows, sizeof *rows, by_crow);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    fprintf(f, "%llu function calls (%llu primitive calls), counted; ordered by %s\n",
            (unsigned long long)total_calls, (unsigned long long)total_prim,
            o->by_total ? "cumulative time" : "internal time");
    fprintf(f, "user, sys, wait: the sampled split of each function's total time (seconds; "
               "- never sampled: C functions are not on sampled stacks)\n\n");
    fprintf(f, "%13s %9s %9s %9s %9s %8s %8s %8s  %s\n", "ncalls", "tottime", "percall",
            "cumtime", "percall", "user", "sys", "wait", "filename:lineno(function)");
    for (size_t i = 0; i < nrows && (o->limit == 0 || (long)i < o->limit); i++) {
        const struct prof_site *s = rows[i].site;
        const struct prof_calls *k = &s->calls;
        char n[48];
        if (k->calls != k->primitive_calls)
            snprintf(n, sizeof n, "%llu/%llu", (unsigned long long)k->calls,
                     (unsigned long long)k->primitive_calls);
        else
            snprintf(n, sizeof n, "%llu", (unsigned long long)k->calls);
        fprintf(f, "%13s %9.3f %9.3g %9.3f %9.3g ", n, prof_secs(k->own_ns),
                per(k->own_ns, k->calls), prof_secs(k->cum_ns), per(k->cum_ns, k->primitive_calls));
        if (s->total.samples) {
            uint64_t wait = 0;
            for (int w = 0; w < CAP_WAIT_KINDS; w++)
                wait += s->total.wait_ns[w];
            fprintf(f, "%8.3f %8.3f %8.3f  ", prof_secs(s->total.user_ns),
                    prof_secs(s->total.sys_ns), prof_secs(wait));
        } else {
            fprintf(f, "%8s %8s %8s  ", "-", "-", "-");    /* never sampled (C functions) */
        }
        put_where(f, s, cwd);
    }
    if (o->limit && nrows > (size_t)o->limit)
        fprintf(f, "... %zu more (--limit 0 shows every row)\n", nrows - (size_t)o->limit);
    free(rows);
    return 0;
}

int report_table_print(const struct capture *c, const struct table_opts *o, FILE *out)
{
    struct profile p;
    if (profile_build(&p, c, &(struct profile_opts){ .skip = PROF_NO_TREE,
                                                     .merge_tasks = o->merge_tasks }) < 0)
        return -1;
    int rc = o->calls ? print_calls(&p, o, out) : print_table(&p, o, out);
    profile_free(&p);
    return rc;
}
