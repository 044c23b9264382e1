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
        fprintf(f, "  %s", s->function);
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

int report_table_print(const struct capture *c, const struct table_opts *o, FILE *out)
{
    struct profile p;
    if (profile_build(&p, c, &(struct profile_opts){ .skip = PROF_NO_TREE }) < 0)
        return -1;
    int rc = print_table(&p, o, out);
    profile_free(&p);
    return rc;
}
