/*
 * diff.c -- `stetho diff`: two captures' models side by side (diff.h),
 * matched by model/match.h, as terminal tables or JSON.
 */
#include "report/diff.h"
#include "model/location.h"
#include "model/match.h"
#include "util/json.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* ---- values ---- */

/* How many metrics a table shows: the memory ones only when a side has
 * memory. */
static int nmetrics(const struct match *d)
{
    return d->p[0].cap->has_memory || d->p[1].cap->has_memory ? PROF_NMETRICS : PROF_PEAK;
}

static char *fmt_delta(char *buf, size_t len, enum prof_metric which, uint64_t b, uint64_t n)
{
    char v[PROF_FMT_LEN - 1];       /* room for the sign */
    uint64_t mag = n >= b ? n - b : b - n;
    if (prof_metric_unit(which) == PROF_UNIT_NS)
        snprintf(v, sizeof v, "%.3fs", prof_secs(mag));
    else
        prof_fmt_metric(v, sizeof v, which, mag);
    /* no sign on what prints as zero ("-0.000s") */
    int zero = !mag || (prof_metric_unit(which) == PROF_UNIT_NS && mag < 500000);
    snprintf(buf, len, "%s%s", zero ? "" : n > b ? "+" : "-", v);
    return buf;
}

static char *fmt_percent(char *buf, size_t len, uint64_t b, uint64_t n)
{
    if (!b)
        snprintf(buf, len, "%s", n ? "new" : "");
    else
        snprintf(buf, len, "%+.1f%%", ((double)n - (double)b) * 100.0 / (double)b);
    return buf;
}

static int width_of(enum prof_metric which)
{
    switch (prof_metric_unit(which)) {
    case PROF_UNIT_BYTES: return 10;
    case PROF_UNIT_COUNT: return 12;
    default: return 9;
    }
}

/* ---- the terminal tables ---- */

static void put_header(const struct match *d, const struct diff_opts *o, FILE *f)
{
    int w = width_of(o->metric);
    fprintf(f, "%*s %*s %8s", w, "base", w, "new", "%");
    for (int m = 0; m < nmetrics(d); m++)
        fprintf(f, " %*s", width_of((enum prof_metric)m), prof_metric_name((enum prof_metric)m));
}

static void put_values(const struct match *d, const struct diff_opts *o,
                       const struct prof_metrics m[2], FILE *f)
{
    char a[PROF_FMT_LEN], b[PROF_FMT_LEN], pc[PROF_FMT_LEN];
    int w = width_of(o->metric);
    uint64_t vb = prof_metric_ns(&m[0], o->metric), vn = prof_metric_ns(&m[1], o->metric);
    fprintf(f, "%*s %*s %8s", w, prof_fmt_metric(a, sizeof a, o->metric, vb), w,
            prof_fmt_metric(b, sizeof b, o->metric, vn), fmt_percent(pc, sizeof pc, vb, vn));
    for (int k = 0; k < nmetrics(d); k++) {
        enum prof_metric which = (enum prof_metric)k;
        fprintf(f, " %*s", width_of(which),
                fmt_delta(a, sizeof a, which, prof_metric_ns(&m[0], which),
                          prof_metric_ns(&m[1], which)));
    }
}

static void put_more(FILE *f, size_t n, long limit)
{
    if (limit && n > (size_t)limit)
        fprintf(f, "... %zu more (--limit 0 shows every row)\n", n - (size_t)limit);
}

static void print_text(const struct match *d, const struct diff_opts *o, struct match_order *fo,
                       size_t nf, struct match_order *so, size_t ns, FILE *f)
{
    char cwd[PATH_MAX], a[PROF_FMT_LEN], b[PROF_FMT_LEN], pc[PROF_FMT_LEN];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    const char *mname = prof_metric_name(o->metric);
    fprintf(f, "Base: %s\nNew:  %s\n\n", o->base_name, o->new_name);
    fprintf(f, "%-12s %12s %12s %12s %8s\n", "Totals", "base", "new", "new - base", "%");
    for (int k = 0; k < nmetrics(d); k++) {
        enum prof_metric which = (enum prof_metric)k;
        uint64_t vb = prof_metric_ns(&d->p[0].total, which);
        uint64_t vn = prof_metric_ns(&d->p[1].total, which);
        char dl[PROF_FMT_LEN];
        fprintf(f, "%-12s %12s %12s %12s %8s\n", prof_metric_name(which),
                prof_fmt_metric(a, sizeof a, which, vb), prof_fmt_metric(b, sizeof b, which, vn),
                fmt_delta(dl, sizeof dl, which, vb, vn), fmt_percent(pc, sizeof pc, vb, vn));
    }

    const char *which = o->by_total ? "total" : "self";
    fprintf(f, "\nFunctions by the change in %s %s (base, new, %%); then new - base of every"
            " %s metric\n", which, mname, which);
    put_header(d, o, f);
    fputs("  function\n", f);
    for (size_t i = 0; i < nf && (!o->limit || (long)i < o->limit); i++) {
        const struct match_func *fn = &d->funcs[fo[i].i];
        put_values(d, o, o->by_total ? fn->total : fn->self, f);
        fprintf(f, "  %s", fn->function);
        if (fn->file[0])
            fprintf(f, "  %s", loc_short(fn->file, cwd));
        fputc('\n', f);
    }
    put_more(f, nf, o->limit);

    fprintf(f, "\nStacks by the change in %s (innermost function first)\n", mname);
    put_header(d, o, f);
    fputs("  stack\n", f);
    for (size_t i = 0; i < ns && (!o->limit || (long)i < o->limit); i++) {
        const struct match_stack *s = &d->stacks[so[i].i];
        put_values(d, o, s->m, f);
        fputs(" ", f);
        for (uint32_t j = s->depth; j-- > 0;) {
            if (s->depth - j > 4) {
                fputs(" <- ...", f);
                break;
            }
            fprintf(f, " %s%s", j + 1 < s->depth ? "<- " : "",
                    d->funcs[d->path[s->first + j]].function);
        }
        fputc('\n', f);
    }
    put_more(f, ns, o->limit);
}

/* ---- JSON ---- */

static void json_signed_secs(FILE *f, uint64_t b, uint64_t n)
{
    if (n < b)
        fputc('-', f);
    json_secs(f, n >= b ? n - b : b - n);
}

/* {"samples": .., "wall_s": .., ..., "leaked_bytes": ..}: one side, or
 * with both given, new minus base. */
static void json_metrics(FILE *f, const struct match *d, const struct prof_metrics *b,
                         const struct prof_metrics *n)
{
    fputc('{', f);
    if (n)
        fprintf(f, "\"samples\": %lld", (long long)n->samples - (long long)b->samples);
    else
        fprintf(f, "\"samples\": %llu", (unsigned long long)b->samples);
    for (int k = 0; k < nmetrics(d); k++) {
        enum prof_metric which = (enum prof_metric)k;
        enum prof_unit u = prof_metric_unit(which);
        fprintf(f, ", \"%s%s\": ", prof_metric_name(which),
                u == PROF_UNIT_NS ? "_s" : u == PROF_UNIT_BYTES ? "_bytes" : "");
        uint64_t vb = prof_metric_ns(b, which), vn = n ? prof_metric_ns(n, which) : vb;
        if (u == PROF_UNIT_NS)
            n ? json_signed_secs(f, vb, vn) : json_secs(f, vb);
        else if (n)
            fprintf(f, "%s%llu", vn < vb ? "-" : "",
                    (unsigned long long)(vn >= vb ? vn - vb : vb - vn));
        else
            fprintf(f, "%llu", (unsigned long long)vb);
    }
    fputc('}', f);
}

static void json_sides(FILE *f, const struct match *d, const struct prof_metrics m[2])
{
    fputs("{\"base\": ", f);
    json_metrics(f, d, &m[0], NULL);
    fputs(", \"new\": ", f);
    json_metrics(f, d, &m[1], NULL);
    fputs(", \"delta\": ", f);
    json_metrics(f, d, &m[0], &m[1]);
    fputc('}', f);
}

static void print_json(const struct match *d, const struct diff_opts *o, struct match_order *fo,
                       size_t nf, struct match_order *so, size_t ns, FILE *f)
{
    fputs("{\"schema\": \"stetho-diff/1\",\n \"base\": ", f);
    json_string(f, o->base_name);
    fputs(", \"new\": ", f);
    json_string(f, o->new_name);
    fprintf(f, ", \"metric\": \"%s\", \"sort\": \"%s\",\n \"totals\": ",
            prof_metric_name(o->metric), o->by_total ? "total" : "self");
    struct prof_metrics t[2] = { d->p[0].total, d->p[1].total };
    json_sides(f, d, t);
    fputs(",\n \"functions\": [", f);
    for (size_t i = 0; i < nf; i++) {
        const struct match_func *fn = &d->funcs[fo[i].i];
        fputs(i ? ",\n  {\"function\": " : "\n  {\"function\": ", f);
        json_string(f, fn->function);
        fputs(", \"file\": ", f);
        json_string(f, fn->file);
        fputs(", \"self\": ", f);
        json_sides(f, d, fn->self);
        fputs(", \"total\": ", f);
        json_sides(f, d, fn->total);
        fputc('}', f);
    }
    fputs("],\n \"stacks\": [", f);
    for (size_t i = 0; i < ns; i++) {
        const struct match_stack *s = &d->stacks[so[i].i];
        fputs(i ? ",\n  {\"frames\": [" : "\n  {\"frames\": [", f);
        for (uint32_t j = 0; j < s->depth; j++) {
            const struct match_func *fn = &d->funcs[d->path[s->first + j]];
            fputs(j ? ", {\"function\": " : "{\"function\": ", f);
            json_string(f, fn->function);
            fputs(", \"file\": ", f);
            json_string(f, fn->file);
            fputc('}', f);
        }
        fputs("], \"metrics\": ", f);
        json_sides(f, d, s->m);
        fputc('}', f);
    }
    fputs("]}\n", f);
}

int report_diff(const struct capture *base, const struct capture *new_,
                const struct diff_opts *o, FILE *out)
{
    struct match d;
    struct match_order *fo = NULL, *so = NULL;
    size_t nf = 0, ns = 0;
    int rc = -1;
    if (match_build(&d, base, new_) < 0 ||
        match_sort(&d, o->metric, o->by_total, &fo, &nf, &so, &ns) < 0)
        goto out;
    if (o->json)
        print_json(&d, o, fo, nf, so, ns, out);
    else
        print_text(&d, o, fo, nf, so, ns, out);
    rc = 0;
out:
    free(fo);
    free(so);
    match_free(&d);
    return rc;
}
