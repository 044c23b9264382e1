/*
 * diff_html.c -- `stetho diff BASE NEW --html OUT`: the HTML report's page
 * (report/html_report.h's template, CSS and JavaScript) with the data of
 * a differential flame graph (diff.h; format in docs/html-report.md).
 *
 * The page gets the matched stacks (model/match.h) -- each a list of
 * function identities, root first, with the chosen metric's base and new
 * value -- and builds one tree of both sides from them, so a frame that
 * only one side has is a node like any other.  The function table is
 * written in match_sort's order, the order of the terminal diff.  Rows
 * and stacks without any of the chosen metric on either side are left
 * out (they are in the diff for another metric).
 */
#include "report/diff.h"
#include "report/html_report.h"
#include "model/location.h"
#include "model/match.h"
#include "util/json.h"

#include <inttypes.h>
#include <stdlib.h>

static const char *unit_name(enum prof_metric which)
{
    switch (prof_metric_unit(which)) {
    case PROF_UNIT_NS: return "ns";
    case PROF_UNIT_BYTES: return "bytes";
    default: return "count";
    }
}

struct page {
    const struct match *d;
    const struct diff_opts *o;
};

static void put_pair(FILE *out, const struct prof_metrics m[2], enum prof_metric which)
{
    fprintf(out, "%" PRIu64 ",%" PRIu64, prof_metric_ns(&m[0], which),
            prof_metric_ns(&m[1], which));
}

/* Neither side has any of the metric (the row is there for another). */
static int none(const struct prof_metrics m[2], enum prof_metric which)
{
    return !prof_metric_ns(&m[0], which) && !prof_metric_ns(&m[1], which);
}

static int write_data(void *ctx, FILE *out)
{
    const struct page *pg = ctx;
    const struct match *d = pg->d;
    const struct diff_opts *o = pg->o;
    struct match_order *fo, *so;
    size_t nf, ns;
    int rc = match_sort(d, o->metric, o->by_total, &fo, &nf, &so, &ns);
    if (rc == 0) {
        const struct capture *nc = d->p[1].cap;
        const struct cap_process *proc = nc->nprocesses ? &nc->processes[0] : NULL;
        fputs("{\"format\":\"stetho-diff-html/1\",\n\"meta\":{\"base\":", out);
        json_string_script(out, o->base_name);
        fputs(",\"new\":", out);
        json_string_script(out, o->new_name);
        fprintf(out, ",\"metric\":\"%s\",\"unit\":\"%s\",\"sort\":\"%s\",\"argv\":[",
                prof_metric_name(o->metric), unit_name(o->metric),
                o->by_total ? "total" : "self");
        for (int i = 0; proc && i < proc->argc; i++) {
            if (i)
                putc(',', out);
            json_string_script(out, proc->argv[i]);
        }
        fputs("]},\n\"totals\":[", out);
        struct prof_metrics t[2] = { d->p[0].total, d->p[1].total };
        put_pair(out, t, o->metric);
        /* identity: name, file, short file */
        fputs("],\n\"funcs\":[", out);
        for (size_t i = 0; i < d->nfuncs; i++) {
            fputs(i ? ",\n[" : "[", out);
            json_string_script(out, d->funcs[i].function);
            putc(',', out);
            json_string_script(out, d->funcs[i].file);
            putc(',', out);
            json_string_script(out, loc_short(d->funcs[i].file, NULL));
            putc(']', out);
        }
        /* base, new, then the identities root first */
        fputs("],\n\"stacks\":[", out);
        for (size_t k = 0, first = 1; k < ns; k++) {
            const struct match_stack *s = &d->stacks[so[k].i];
            if (none(s->m, o->metric))
                continue;
            fputs(first ? "[" : ",\n[", out);
            first = 0;
            put_pair(out, s->m, o->metric);
            for (uint32_t j = 0; j < s->depth; j++)
                fprintf(out, ",%" PRIu32, d->path[s->first + j]);
            putc(']', out);
        }
        /* identity, base self, new self, base total, new total */
        fputs("],\n\"functions\":[", out);
        for (size_t k = 0, first = 1; k < nf; k++) {
            const struct match_func *f = &d->funcs[fo[k].i];
            if (none(f->total, o->metric))
                continue;
            fprintf(out, "%s[%" PRIu32 ",", first ? "" : ",\n", fo[k].i);
            first = 0;
            put_pair(out, f->self, o->metric);
            putc(',', out);
            put_pair(out, f->total, o->metric);
            putc(']', out);
        }
        fputs("]}\n", out);
    }
    free(fo);
    free(so);
    return rc;
}

int report_diff_html(const struct capture *base, const struct capture *new_,
                     const struct diff_opts *o, FILE *out)
{
    struct match d;
    int rc = match_build(&d, base, new_);
    if (rc == 0)
        rc = html_page_write(out, write_data, &(struct page){ &d, o });
    match_free(&d);
    return rc;
}
