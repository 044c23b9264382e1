/*
 * leaks.c -- `stetho leaks`: suspects, held at exit, temporary
 * allocations (leaks.h).
 *
 * The three answer different questions.  A suspect is memory that grows
 * while the program runs -- what eventually exhausts a server.  Held at
 * exit is everything not freed when the program finalized, most of it
 * usually harmless (module globals, caches filled once).  Temporary
 * allocations (freed before their thread allocated anything else, as
 * memray counts them) hold nothing but cost allocator time.
 */
#include "report/leaks.h"
#include "model/capinfo.h"
#include "model/gcpauses.h"
#include "model/growth.h"
#include "model/location.h"
#include "model/places.h"
#include "model/types.h"
#include "util/json.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOP_N 5
#define CALLERS 4               /* frames shown of a suspect's stack */

struct leaks {
    const struct capture *c;
    struct profile p;
    struct prof_places places;
    struct growth g;
    struct prof_types types;
    struct prof_gc_pauses pauses;
    int built;
    void (*str)(FILE *, const char *);  /* the JSON string writer */
};

static int leaks_build(struct leaks *l, const struct capture *c)
{
    memset(l, 0, sizeof *l);
    l->c = c;
    if (profile_build(&l->p, c, &(struct profile_opts){ .skip = PROF_ROWS_ONLY }) < 0)
        return -1;
    l->built = 1;
    if (prof_places_build(&l->places, &l->p) < 0 || growth_build(&l->g, c) < 0 ||
        prof_types_build(&l->types, c) < 0)
        return -1;
    prof_gc_pauses_build(&l->pauses, c);
    return 0;
}

static void leaks_free(struct leaks *l)
{
    growth_free(&l->g);
    prof_types_free(&l->types);
    prof_places_free(&l->places);
    if (l->built)
        profile_free(&l->p);
}

static const char *str(const struct capture *c, uint32_t id, const char *none)
{
    const char *s = capture_string(c, id);
    return s ? s : none;
}

/* Is the place the innermost Python frame of a suspect's stack? */
static int is_suspect_place(const struct leaks *l, const struct prof_place *pl)
{
    for (size_t i = 0; i < l->g.nsuspects; i++) {
        const struct cap_frame *f =
            capture_stack_site(l->c, l->g.series[l->g.suspects[i].series].stack);
        if (f && pl->line && pl->line == &l->p.lines[l->p.line_of[f - l->c->frames]])
            return 1;
    }
    return 0;
}

/* The place's temporary allocations, for sorting. */
static int by_temporary(const void *a, const void *b)
{
    const struct prof_place *x = *(const struct prof_place *const *)a;
    const struct prof_place *y = *(const struct prof_place *const *)b;
    if (x->m.temporary_count != y->m.temporary_count)
        return x->m.temporary_count < y->m.temporary_count ? 1 : -1;
    return (x->order > y->order) - (x->order < y->order);
}

/* The places with temporary allocations, most first (NULL: out of memory). */
static const struct prof_place **temporary_places(const struct leaks *l, size_t *n)
{
    const struct prof_place **v = malloc((l->places.n ? l->places.n : 1) * sizeof *v);
    *n = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < l->places.n; i++)
        if (l->places.v[i].m.temporary_count)
            v[(*n)++] = &l->places.v[i];
    qsort(v, *n, sizeof *v, by_temporary);
    return v;
}

/* ---- the garbage collector ---- */

#define GC_SHARE_WARN 0.10      /* of the wall time: "GC works hard" */

struct gc_view {
    int known;                          /* the capture has GC records */
    struct cap_gc_point end;            /* each process's last record, summed */
    int nprocs;
    uint64_t gc_wall, wall;             /* in [gc] samples, in all samples */
    uint64_t nsamples, longest_ns, pauses;      /* runs of [gc] samples */
    uint32_t longest_samples;
    struct { uint64_t gc, wall; } *threads;     /* per profile thread */
};

static int is_gc_stack(const struct capture *c, uint32_t stack)
{
    if (!stack || stack >= c->nstacks)
        return 0;
    const struct cap_frame *f = &c->frames[c->stacks[stack].frame];
    const char *name = capture_string(c, f->function);
    return f->kind == CAP_FRAME_SYNTHETIC && name && !strcmp(name, "[gc]");
}

static int gc_build(struct gc_view *v, const struct leaks *l)
{
    const struct capture *c = l->c;
    const struct profile *p = &l->p;
    memset(v, 0, sizeof *v);
    /* the last record of each pid: records are in time order */
    for (size_t i = c->ngc; i-- > 0;) {
        int seen = 0;
        for (size_t j = i + 1; j < c->ngc && !seen; j++)
            seen = c->gc[j].pid == c->gc[i].pid;
        if (seen)
            continue;
        v->known = 1;
        v->nprocs++;
        for (int k = 0; k < CAP_GC_GENERATIONS; k++) {
            v->end.collections[k] += c->gc[i].collections[k];
            v->end.collected[k] += c->gc[i].collected[k];
            v->end.uncollectable[k] += c->gc[i].uncollectable[k];
        }
    }
    v->threads = calloc(p->nthreads ? p->nthreads : 1, sizeof *v->threads);
    if (!v->threads)
        return -1;
    for (size_t t = 0; t < p->nthreads; t++) {
        const struct prof_thread *th = &p->threads[t];
        uint64_t run_ns = 0;
        uint32_t run = 0;
        for (size_t k = 0; k <= th->nsamples; k++) {
            const struct cap_sample *s =
                k < th->nsamples ? &c->samples[p->sample_order[th->first + k]] : NULL;
            int in_gc = s && is_gc_stack(c, s->stack);
            if (s) {
                v->threads[t].wall += s->wall_ns;
                v->wall += s->wall_ns;
            }
            if (in_gc) {
                v->threads[t].gc += s->wall_ns;
                v->gc_wall += s->wall_ns;
                v->nsamples++;
                run_ns += s->wall_ns;
                run++;
            } else if (run) {
                v->pauses++;
                if (run_ns > v->longest_ns) {
                    v->longest_ns = run_ns;
                    v->longest_samples = run;
                }
                run_ns = run = 0;
            }
        }
    }
    return 0;
}

static uint64_t gc_sum(const uint64_t *v)
{
    return v[0] + v[1] + v[2];
}

/* The collector's warnings, each a line without "warning: " (the text
 * and JSON forms show the same): it worked hard for little, or left
 * objects uncollectable.  Their number. */
#define GC_WARNINGS 2
#define GC_WARNING_LEN 320

static int gc_warnings(const struct leaks *l, const struct gc_view *v,
                       char w[GC_WARNINGS][GC_WARNING_LEN])
{
    const struct capture *c = l->c;
    char a[PROF_FMT_LEN], b[PROF_FMT_LEN];
    int n = 0;
    double share = v->wall ? (double)v->gc_wall / (double)v->wall : 0;
    uint64_t collected = gc_sum(v->end.collected), uncollectable = gc_sum(v->end.uncollectable);
    if (share >= GC_SHARE_WARN) {
        int len = snprintf(w[n], GC_WARNING_LEN, "the collector took %.0f%% of the time and"
                           " collected %s objects", share * 100,
                           prof_fmt_count(a, sizeof a, collected));
        uint64_t objects = c->mem_totals.by_allocator_count[CAP_MEM_ALLOCATORS - 1];
        if (v->known && objects && collected * 20 < objects && len > 0 && len < GC_WARNING_LEN)
            snprintf(w[n] + len, GC_WARNING_LEN - (size_t)len, ", under 5%% of the %s objects"
                     " allocated: it mostly traversed objects that live on (gc.freeze() after"
                     " start-up, or a higher gc.set_threshold(), would spare it)",
                     prof_fmt_count(b, sizeof b, objects));
        n++;
    }
    if (uncollectable)
        snprintf(w[n++], GC_WARNING_LEN, "%s objects were uncollectable (left in gc.garbage)",
                 prof_fmt_count(a, sizeof a, uncollectable));
    return n;
}

/* ---- text ---- */

static void put_place(FILE *f, const struct prof_place *pl, const char *cwd)
{
    if (!pl->line) {
        fputs(PROF_NO_FRAMES, f);
        return;
    }
    fputs(pl->line->function, f);
    if (pl->line->file[0])
        fprintf(f, "  %s:%d", loc_short(pl->line->file, cwd), (int)pl->line->line);
}

static void put_suspect(FILE *f, const struct leaks *l, const struct growth_suspect *s,
                        const char *cwd)
{
    const struct capture *c = l->c;
    char a[PROF_FMT_LEN], b[PROF_FMT_LEN], r[PROF_FMT_LEN];
    fprintf(f, "  %s/s since %.2fs: %s -> %s, rose in %.0f%% of %u buckets, R^2 %.2f\n",
            prof_fmt_bytes(r, sizeof r, (uint64_t)(s->rate + 0.5)), prof_secs(s->since_ns),
            prof_fmt_bytes(a, sizeof a, s->from_bytes), prof_fmt_bytes(b, sizeof b, s->to_bytes),
            s->rose * 100, s->nbuckets, s->r2);
    uint32_t stack = l->g.series[s->series].stack;
    const struct cap_frame *site = capture_stack_site(c, stack);
    fputs("      ", f);
    if (site)
        fprintf(f, "%s  %s:%d", str(c, site->function, "?"),
                loc_short(str(c, site->file, ""), cwd), (int)site->line);
    else
        fputs(PROF_NO_FRAMES, f);
    fputs("  (", f);
    int shown = 0;
    for (uint32_t st = stack; st && st < c->nstacks && shown <= CALLERS; st = c->stacks[st].parent) {
        const struct cap_frame *fr = &c->frames[c->stacks[st].frame];
        fprintf(f, "%s%s", shown ? " <- " : "", shown == CALLERS ? "..." : str(c, fr->function, "?"));
        shown++;
    }
    fputs(")\n", f);
}

/* A pause histogram bound: "0.1ms", "3ms", "100ms". */
static const char *hist_label(char *buf, size_t len, uint64_t ns)
{
    double ms = (double)ns / 1e6;
    snprintf(buf, len, ms < 1 ? "%.1fms" : "%.0fms", ms);
    return buf;
}

static void pauses_text(FILE *f, const struct prof_gc_pauses *ps)
{
    char a[PROF_FMT_LEN], h[32];
    if (!ps->exact) {
        fputs("  pauses: not timed (no agent timings: recorded with --memory off, by attach,"
              " or by an older stetho); what follows is from the [gc] samples\n", f);
        return;
    }
    fputs("  pauses (each collection timed by the agent, gc.callbacks):\n", f);
    for (int k = 0; k < CAP_GC_GENERATIONS; k++) {
        const struct prof_gc_gen *g = &ps->gen[k];
        fprintf(f, "    generation %d: %s collections, %.3fs in all, longest %.3f ms", k,
                prof_fmt_count(a, sizeof a, g->collections), prof_secs(g->total_ns),
                (double)g->longest_ns / 1e6);
        for (int b = 0; b < PROF_GC_HIST && g->collections; b++)
            if (g->hist[b])
                fprintf(f, "%s%s%s %llu", b == 0 || !g->hist[b - 1] ? "; " : ", ",
                        b == PROF_GC_HIST - 1 ? ">" : "<=",
                        hist_label(h, sizeof h, prof_gc_hist_le_ns[b == PROF_GC_HIST - 1
                                                                       ? b - 1 : b]),
                        (unsigned long long)g->hist[b]);
        fputc('\n', f);
    }
}

static void gc_text(FILE *f, const struct leaks *l, const struct gc_view *v)
{
    const struct capture *c = l->c;
    const struct profile *p = &l->p;
    char a[PROF_FMT_LEN], b[PROF_FMT_LEN], d[PROF_FMT_LEN];
    fputs("\nGarbage collector", f);
    if (!v->known) {
        fputs(": counters not recorded (an older capture, or not read in time)\n", f);
    } else {
        fprintf(f, " (its counters since the interpreter started, as gc.get_stats() gives them,"
                " at the last read%s):\n", v->nprocs > 1 ? "; processes summed" : "");
        for (int k = 0; k < CAP_GC_GENERATIONS; k++)
            fprintf(f, "  generation %d: %s collections, %s objects collected, %s uncollectable\n",
                    k, prof_fmt_count(a, sizeof a, v->end.collections[k]),
                    prof_fmt_count(b, sizeof b, v->end.collected[k]),
                    prof_fmt_count(d, sizeof d, v->end.uncollectable[k]));
    }
    pauses_text(f, &l->pauses);
    double share = v->wall ? (double)v->gc_wall / (double)v->wall : 0;
    fprintf(f, "  time collecting: %.3fs, %.1f%% of the wall time", prof_secs(v->gc_wall),
            share * 100);
    if (v->nsamples)
        fprintf(f, "; the longest pause seen %.3fs (%u sample%s in a row)",
                prof_secs(v->longest_ns), v->longest_samples, v->longest_samples == 1 ? "" : "s");
    fprintf(f, "\n  (from the [gc] samples: known to the sampling interval, %.0f ms; a pause"
            " shorter than it is seen only in proportion)\n", prof_secs(c->interval_ns) * 1e3);
    for (size_t t = 0; t < p->nthreads && p->nthreads > 1; t++)
        if (v->threads[t].gc)
            fprintf(f, "    thread %d (%s): %.1f%% of its wall time\n", (int)p->threads[t].tid,
                    p->threads[t].name ? p->threads[t].name : "?",
                    100.0 * (double)v->threads[t].gc / (double)v->threads[t].wall);
    char w[GC_WARNINGS][GC_WARNING_LEN];
    for (int i = 0, n = gc_warnings(l, v, w); i < n; i++)
        fprintf(f, "  warning: %s\n", w[i]);
}

/* The type census: the largest types at the last census, where most of
 * each was created. */
static void types_text(FILE *f, const struct leaks *l, const char *cwd)
{
    const struct prof_types *ty = &l->types;
    char a[PROF_FMT_LEN], b[PROF_FMT_LEN], d[PROF_FMT_LEN], e[PROF_FMT_LEN], g[PROF_FMT_LEN];
    if (!ty->nrows) {
        fputs("\nLive objects by type: no census (an older capture, or no object the census"
              " could read)\n", f);
        return;
    }
    fprintf(f, "\nLive objects by type (%zu census%s of the object allocator's live blocks; the"
            " last at %.2fs, the one nearest the heap's peak at %.2fs):\n", ty->ncensus,
            ty->ncensus == 1 ? "" : "es", prof_secs(ty->end_t_ns), prof_secs(ty->peak_t_ns));
    for (size_t i = 0; i < ty->nrows && i < TOP_N; i++) {
        const struct prof_type_row *r = &ty->rows[i];
        fprintf(f, "  %s: %s objects, %s at the end (peak %s, %s; %s%s since the first)",
                r->name ? r->name : "?", prof_fmt_count(a, sizeof a, r->end_count),
                prof_fmt_bytes(b, sizeof b, r->end_bytes), prof_fmt_count(d, sizeof d, r->count),
                prof_fmt_bytes(e, sizeof e, r->bytes), r->growth_count < 0 ? "-" : "+",
                prof_fmt_count(g, sizeof g, (uint64_t)(r->growth_count < 0 ? -r->growth_count
                                                                           : r->growth_count)));
        if (r->top_func)
            fprintf(f, "\n      %.0f%% created at %s  %s:%d", r->top_share * 100, r->top_func,
                    loc_short(r->top_file ? r->top_file : "", cwd), (int)r->top_line);
        fputc('\n', f);
    }
    if (ty->nrows > TOP_N)
        fprintf(f, "  ... %zu more types (stetho leaks --json lists them all)\n",
                ty->nrows - TOP_N);
}

static int text(FILE *f, const struct leaks *l)
{
    const struct capture *c = l->c;
    char cwd[PATH_MAX], a[PROF_FMT_LEN], b[PROF_FMT_LEN];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    const struct growth *g = &l->g;
    if (!g->bucket_ns)
        fputs("Leak suspects: none known (this capture has no growth records: recorded by an"
              " older stetho, or cut short)\n", f);
    else if (!g->nsuspects)
        fprintf(f, "Leak suspects: none (no stack's held memory kept rising; %zu stacks held"
                " memory, in buckets of %s)\n", g->nseries, prof_fmt_ns(a, sizeof a, g->bucket_ns));
    else {
        fprintf(f, "Leak suspects: %zu stack%s whose held memory kept rising (buckets of %s)\n",
                g->nsuspects, g->nsuspects == 1 ? "" : "s", prof_fmt_ns(a, sizeof a, g->bucket_ns));
        for (size_t i = 0; i < g->nsuspects && i < TOP_N; i++)
            put_suspect(f, l, &g->suspects[i], cwd);
        if (g->nsuspects > TOP_N)
            fprintf(f, "  ... %zu more (stetho leaks --json lists them all)\n",
                    g->nsuspects - TOP_N);
    }

    types_text(f, l, cwd);

    const struct cap_mem_totals *t = &c->mem_totals;
    struct prof_places *pl = (struct prof_places *)&l->places;
    prof_places_sort(pl, PROF_LEAKED, PROF_ALLOCATED);
    fprintf(f, "\nHeld at exit: %s not freed when the program finalized%s\n",
            prof_fmt_bytes(a, sizeof a, t->leaked_bytes),
            t->leaked_bytes ? " (a suspect's, or simply never freed: globals, caches filled once)"
                            : "");
    for (size_t i = 0; i < pl->n && i < TOP_N && pl->v[i].m.leaked_bytes; i++) {
        fprintf(f, "  %10s  ", prof_fmt_bytes(a, sizeof a, pl->v[i].m.leaked_bytes));
        put_place(f, &pl->v[i], cwd);
        fputs(is_suspect_place(l, &pl->v[i]) ? "  (a suspect)\n" : "\n", f);
    }

    size_t nt;
    const struct prof_place **tp = temporary_places(l, &nt);
    if (!tp)
        return -1;
    fprintf(f, "\nTemporary allocations: %s of %s (%.1f%%) freed before their thread allocated"
            " anything else: time, not memory\n", prof_fmt_count(a, sizeof a, t->temporary_count),
            prof_fmt_count(b, sizeof b, t->alloc_count),
            t->alloc_count ? 100.0 * (double)t->temporary_count / (double)t->alloc_count : 0.0);
    for (size_t i = 0; i < nt && i < TOP_N; i++) {
        const struct prof_metrics *m = &tp[i]->m;
        fprintf(f, "  %12s  %3.0f%% of its allocations  ",
                prof_fmt_count(a, sizeof a, m->temporary_count),
                m->alloc_count ? 100.0 * (double)m->temporary_count / (double)m->alloc_count : 0.0);
        put_place(f, tp[i], cwd);
        fputc('\n', f);
    }
    free(tp);
    if (c->mem_totals.sample_mean)
        fprintf(f, "(estimated: the run sampled allocations every %s on average)\n",
                prof_fmt_bytes(a, sizeof a, c->mem_totals.sample_mean));
    return 0;
}

static int text_all(FILE *f, const struct leaks *l, const char *path)
{
    if (!l->c->has_memory)
        fputs("Leaks: this capture has no memory record (run with --memory exact or"
              " sampled)\n", f);
    else if (text(f, l) < 0)
        return -1;
    struct gc_view v;
    if (gc_build(&v, l) < 0)
        return -1;
    gc_text(f, l, &v);
    free(v.threads);
    if (!path)
        return 0;
    fputs("\nDig further:\n", f);
    if (l->c->has_memory)
        fprintf(f, "  stetho tree %s --metric leaked       who holds what was never freed\n"
                "  stetho table %s --metric allocations what allocates most often\n"
                "  stetho html %s                       the heap over time\n", path, path, path);
    fprintf(f, "  stetho tree %s --show-all            where the [gc] frames sit\n", path);
    return 0;
}

int leaks_text(const struct capture *c, const char *path, FILE *out)
{
    struct leaks l;
    int rc = leaks_build(&l, c);
    if (rc == 0)
        rc = text_all(out, &l, path);
    leaks_free(&l);
    return rc;
}

/* ---- JSON ---- */

static void json_place(FILE *f, const struct leaks *l, const struct prof_place *pl)
{
    fputs("{\"function\": ", f);
    l->str(f, pl->line ? pl->line->function : PROF_NO_FRAMES);
    fputs(", \"file\": ", f);
    l->str(f, pl->line ? pl->line->file : "");
    fprintf(f, ", \"line\": %d", pl->line ? (int)pl->line->line : 0);
}

static void json_suspect(FILE *f, const struct leaks *l, const struct growth_suspect *s)
{
    const struct capture *c = l->c;
    const struct growth_series *se = &l->g.series[s->series];
    fputs("{\"frames\": [", f);      /* innermost first */
    int first = 1;
    for (uint32_t st = se->stack; st && st < c->nstacks; st = c->stacks[st].parent) {
        const struct cap_frame *fr = &c->frames[c->stacks[st].frame];
        fputs(first ? "{\"function\": " : ", {\"function\": ", f);
        l->str(f, str(c, fr->function, "?"));
        fputs(", \"file\": ", f);
        l->str(f, str(c, fr->file, ""));
        fprintf(f, ", \"line\": %d}", (int)fr->line);
        first = 0;
    }
    fprintf(f, "], \"rate_bytes_per_s\": %.0f, \"r2\": %.4f, \"rose\": %.4f, \"since_s\": ",
            s->rate, s->r2, s->rose);
    json_secs(f, s->since_ns);
    fprintf(f, ", \"from_bytes\": %llu, \"to_bytes\": %llu, \"buckets\": %u, \"live_bytes\": [",
            (unsigned long long)s->from_bytes, (unsigned long long)s->to_bytes, s->nbuckets);
    for (uint32_t i = 0; i < se->n; i++)
        fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)se->live[i]);
    fputs("]}", f);
}

static void pauses_json(FILE *f, const struct prof_gc_pauses *ps)
{
    if (!ps->exact) {
        fputs("null", f);
        return;
    }
    for (int k = 0; k < CAP_GC_GENERATIONS; k++) {
        const struct prof_gc_gen *g = &ps->gen[k];
        fprintf(f, "%s{\"collections\": %llu, \"collected\": %llu, \"uncollectable\": %llu,"
                " \"total_s\": ", k ? ", " : "[", (unsigned long long)g->collections,
                (unsigned long long)g->collected, (unsigned long long)g->uncollectable);
        json_secs(f, g->total_ns);
        fputs(", \"longest_s\": ", f);
        json_secs(f, g->longest_ns);
        fputs(", \"histogram\": [", f);
        for (int b = 0; b < PROF_GC_HIST; b++) {
            fputs(b ? ", {\"le_s\": " : "{\"le_s\": ", f);
            if (b == PROF_GC_HIST - 1)
                fputs("null", f);
            else
                json_secs(f, prof_gc_hist_le_ns[b]);
            fprintf(f, ", \"count\": %llu}", (unsigned long long)g->hist[b]);
        }
        fputs("]}", f);
    }
    fputs("]", f);
}

static void gc_json(FILE *f, const struct leaks *l, const struct gc_view *v)
{
    const struct profile *p = &l->p;
    fputs("{\"generations\": ", f);
    if (!v->known)
        fputs("null", f);
    for (int k = 0; v->known && k < CAP_GC_GENERATIONS; k++)
        fprintf(f, "%s{\"collections\": %llu, \"collected\": %llu, \"uncollectable\": %llu}%s",
                k ? ", " : "[", (unsigned long long)v->end.collections[k],
                (unsigned long long)v->end.collected[k],
                (unsigned long long)v->end.uncollectable[k], k == 2 ? "]" : "");
    fputs(", \"time_s\": ", f);
    json_secs(f, v->gc_wall);
    fprintf(f, ", \"share\": %.4f, \"samples\": %llu, \"pauses\": %llu, \"longest_pause_s\": ",
            v->wall ? (double)v->gc_wall / (double)v->wall : 0.0,
            (unsigned long long)v->nsamples, (unsigned long long)v->pauses);
    json_secs(f, v->longest_ns);
    fputs(", \"exact_pauses\": ", f);
    pauses_json(f, &l->pauses);
    fputs(", \"threads\": [", f);
    int first = 1;
    for (size_t t = 0; t < p->nthreads; t++) {
        if (!v->threads[t].gc)
            continue;
        fprintf(f, "%s{\"pid\": %d, \"tid\": %d, \"name\": ", first ? "" : ", ",
                (int)p->threads[t].pid, (int)p->threads[t].tid);
        l->str(f, p->threads[t].name);
        fputs(", \"time_s\": ", f);
        json_secs(f, v->threads[t].gc);
        fprintf(f, ", \"share\": %.4f}", (double)v->threads[t].gc / (double)v->threads[t].wall);
        first = 0;
    }
    char w[GC_WARNINGS][GC_WARNING_LEN];
    fputs("], \"warnings\": [", f);
    for (int i = 0, n = gc_warnings(l, v, w); i < n; i++) {
        fputs(i ? ", " : "", f);
        l->str(f, w[i]);
    }
    fputs("]}", f);
}

static void types_json(FILE *f, const struct prof_types *ty)
{
    fprintf(f, "{\"censuses\": %zu, \"estimated\": %s, \"end_s\": ", ty->ncensus,
            ty->sample_mean ? "true" : "false");
    json_secs(f, ty->end_t_ns);
    fputs(", \"peak_s\": ", f);
    json_secs(f, ty->peak_t_ns);
    fputs(", \"rows\": [", f);
    for (size_t i = 0; i < ty->nrows; i++) {
        const struct prof_type_row *r = &ty->rows[i];
        fputs(i ? ",\n    {\"type\": " : "\n    {\"type\": ", f);
        json_string(f, r->name ? r->name : "?");
        fprintf(f, ", \"count\": %llu, \"bytes\": %llu, \"end_count\": %llu, \"end_bytes\": %llu,"
                " \"growth_count\": %lld, \"growth_bytes\": %lld, \"created_at\": ",
                (unsigned long long)r->count, (unsigned long long)r->bytes,
                (unsigned long long)r->end_count, (unsigned long long)r->end_bytes,
                (long long)r->growth_count, (long long)r->growth_bytes);
        if (!r->top_func) {
            fputs("null}", f);
            continue;
        }
        fputs("{\"function\": ", f);
        json_string(f, r->top_func);
        fputs(", \"file\": ", f);
        json_string(f, r->top_file ? r->top_file : "");
        fprintf(f, ", \"line\": %d, \"share\": %.4f}}", (int)r->top_line, r->top_share);
    }
    fputs("]}", f);
}

static int json(FILE *f, const struct leaks *l)
{
    struct gc_view v;
    if (gc_build(&v, l) < 0)
        return -1;
    fputs("{\"gc\": ", f);
    gc_json(f, l, &v);
    free(v.threads);
    fprintf(f, ",\n  \"memory\": %s", l->c->has_memory ? "true" : "false");
    if (!l->c->has_memory)
        return fputs("}", f), 0;
    const struct cap_mem_totals *t = &l->c->mem_totals;
    fputs(",\n  \"bucket_s\": ", f);
    if (l->g.bucket_ns)
        json_secs(f, l->g.bucket_ns);
    else
        fputs("null", f);
    fprintf(f, ", \"stacks_holding\": %zu, \"suspects\": [", l->g.nseries);
    for (size_t i = 0; i < l->g.nsuspects; i++) {
        fputs(i ? ",\n   " : "\n   ", f);
        json_suspect(f, l, &l->g.suspects[i]);
    }
    fputs("],\n  \"types\": ", f);
    types_json(f, &l->types);
    struct prof_places *pl = (struct prof_places *)&l->places;
    prof_places_sort(pl, PROF_LEAKED, PROF_ALLOCATED);
    fprintf(f, ",\n  \"leaked_bytes\": %llu, \"top_leaked\": [",
            (unsigned long long)t->leaked_bytes);
    for (size_t i = 0; i < pl->n && i < TOP_N && pl->v[i].m.leaked_bytes; i++) {
        fputs(i ? ", " : "", f);
        json_place(f, l, &pl->v[i]);
        fprintf(f, ", \"leaked_bytes\": %llu, \"suspect\": %s}",
                (unsigned long long)pl->v[i].m.leaked_bytes,
                is_suspect_place(l, &pl->v[i]) ? "true" : "false");
    }
    size_t nt;
    const struct prof_place **tp = temporary_places(l, &nt);
    if (!tp)
        return -1;
    fprintf(f, "],\n  \"temporary_count\": %llu, \"alloc_count\": %llu, \"top_temporary\": [",
            (unsigned long long)t->temporary_count, (unsigned long long)t->alloc_count);
    for (size_t i = 0; i < nt && i < TOP_N; i++) {
        fputs(i ? ", " : "", f);
        json_place(f, l, tp[i]);
        fprintf(f, ", \"temporary_count\": %llu, \"alloc_count\": %llu}",
                (unsigned long long)tp[i]->m.temporary_count,
                (unsigned long long)tp[i]->m.alloc_count);
    }
    free(tp);
    fputs("]}", f);
    return 0;
}

static int json_with(const struct capture *c, FILE *out, void (*str)(FILE *, const char *))
{
    struct leaks l;
    int rc = leaks_build(&l, c);
    l.str = str;
    if (rc == 0)
        rc = json(out, &l);
    leaks_free(&l);
    return rc;
}

int leaks_json(const struct capture *c, FILE *out)
{
    return json_with(c, out, json_string);
}

int leaks_json_script(const struct capture *c, FILE *out)
{
    return json_with(c, out, json_string_script);
}
