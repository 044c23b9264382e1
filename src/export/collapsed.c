/*
 * collapsed.c -- "collapsed" (or "folded") stacks, the input of
 * flamegraph.pl and inferno: one line per distinct stack,
 *
 *     Thread 12;main (app.py:10);work (app.py:3) 1500
 *
 * frames root first and separated by ';', then a space and the value of
 * the chosen metric (--metric): whole microseconds, or samples.  Frames
 * are "function (file:line)" with the line the function starts on, so a
 * function is one box whatever line it was on; the call tree is the
 * reports' (profile_build), thread roots and all, so the two agree.
 *
 * The format has no quoting: a ';' inside a name would split the frame,
 * and a line break would end the line, so both become something else.
 */
#include "export/export.h"

#include <stdlib.h>

/* name with ';' -> ':' and control characters (line breaks) -> ' ' */
static void put_name(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fputc(*p == ';' ? ':' : *p < 0x20 || *p == 0x7f ? ' ' : *p, f);
}

static void put_node(FILE *f, const struct profile *p, const struct prof_node *n)
{
    char num[32];
    switch (n->kind) {
    case PROF_NODE_PROCESS:
        snprintf(num, sizeof num, "Process %d", (int)n->pid);
        fputs(num, f);
        break;
    case PROF_NODE_THREAD:
        snprintf(num, sizeof num, "Thread %d", (int)n->tid);
        fputs(num, f);
        break;
    default: {
        const struct prof_site *site = prof_node_site(p, n);
        if (!site) {
            fputs("?", f);
            break;
        }
        put_name(f, site->function);
        if (site->file[0]) {
            fputs(" (", f);
            put_name(f, site->file);
            if (site->first_line > 0)
                fprintf(f, ":%d", (int)site->first_line);
            fputc(')', f);
        }
    }
    }
}

/* ns as whole microseconds, rounded: what flame graph tools add up */
static uint64_t value_of(const struct prof_metrics *m, int metric)
{
    uint64_t v = prof_value(m, metric);
    return metric == EXPORT_SAMPLES ? v : (v + 500) / 1000;
}

int export_collapsed(const struct capture *c, const struct export_opts *o, FILE *out)
{
    struct profile p;
    struct profile_opts po = { .merge_threads = o->merge_threads,
                               .merge_tasks = o->merge_tasks,
                               .skip = PROF_NO_TABLES };
    if (profile_build(&p, c, &po) < 0)
        return -1;
    uint32_t *path = malloc(p.nnodes * sizeof *path);
    if (!path) {
        profile_free(&p);
        return -1;
    }
    for (size_t i = 0; i < p.nnodes; i++) {
        const struct prof_node *n = &p.nodes[i];
        uint64_t v = value_of(&n->self, o->metric);
        if (!v)
            continue;           /* rounds to nothing: no box to draw */
        size_t depth = 0;
        for (uint32_t k = (uint32_t)i; k; k = p.nodes[k].parent)
            path[depth++] = k;
        for (size_t d = depth; d > 0; d--) {
            put_node(out, &p, &p.nodes[path[d - 1]]);
            if (d > 1)
                fputc(';', out);
        }
        /* time in a thread (or, merged, anywhere) with no Python frame */
        if (n->kind != PROF_NODE_FRAME && n->kind != PROF_NODE_GROUP)
            fputs(depth ? ";" PROF_NO_FRAMES : PROF_NO_FRAMES, out);
        fprintf(out, " %llu\n", (unsigned long long)v);
    }
    free(path);
    profile_free(&p);
    return 0;
}
