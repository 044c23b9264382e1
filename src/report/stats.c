/*
 * stats.c -- `stetho stats CAPTURE [--json]`: a capture's numbers at a
 * glance, as memray's stats command gives them, with time besides.
 *
 * Time: duration, samples, and wall = user + sys + waiting with the waits
 * by kind (summed over threads).  Memory, when recorded: allocated bytes
 * and count, peak heap and RSS with their times, leaked bytes, temporary
 * allocations, the allocation-size histogram, the bytes and counts per
 * allocator, and the ten locations that allocated the most bytes and the
 * ten that allocated most often.  A location is a stack's innermost Python
 * frame (function file:line), so the lines of a loop stay apart while the
 * callers that reach them merge.
 *
 * Everything comes from the capture's totals and the report model: its
 * time totals and its places (model/places.h: locations merged by the
 * text of function, file and line).  The JSON form (schema
 * "stetho-stats/1", docs/json-schema.md) has the same numbers
 * unformatted, and the leaks report's (report/leaks.h) as its "leaks";
 * `stetho stats` prints that report's text after its own.
 */
#include "report/stats.h"
#include "report/leaks.h"
#include "model/location.h"
#include "model/places.h"
#include "util/json.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOP_N 10
#define BAR_WIDTH 40

/* agent/protocol.h enum agent_allocator, in order */
static const char *const allocator_names[] = {
    "malloc", "calloc", "realloc", "memalign", "mmap", "PyMem_Raw", "PyMem", "PyObject",
};
_Static_assert(sizeof allocator_names / sizeof allocator_names[0] == CAP_MEM_ALLOCATORS,
               "a name for every allocator the capture counts");

struct stats {
    const struct capture *c;
    struct profile p;
    const struct prof_metrics *time;    /* every sample */
    uint64_t duration_ns;
    size_t nthreads;
    struct prof_places places;
};


static int stats_build(struct stats *st, const struct capture *c)
{
    memset(st, 0, sizeof *st);
    st->c = c;
    if (profile_build(&st->p, c, &(struct profile_opts){ .skip = PROF_ROWS_ONLY }) < 0)
        return -1;
    st->time = &st->p.total;
    /* cut short, the run lasted at least until its last sample */
    st->duration_ns = capture_duration(c);
    for (size_t k = 0; k < st->p.nthreads && st->p.threads[k].nsamples; k++)
        st->nthreads++;
    return prof_places_build(&st->places, &st->p);
}

static void stats_free(struct stats *st)
{
    prof_places_free(&st->places);
    profile_free(&st->p);
}

/* Histogram bucket k: sizes in [lo, hi]; the last bucket has no top. */
static uint64_t bucket_lo(int k)
{
    return k ? 1ull << (k - 1) : 0;
}

static int bucket_open(int k)
{
    return k == CAP_MEM_HIST - 1;
}

static uint64_t bucket_hi(int k)
{
    return k ? (1ull << k) - 1 : 0;
}

/* A power of two (or 0) as "512 B", "4 KiB", "16 MiB": exact, short. */
static char *pow2_bytes(char *buf, size_t len, uint64_t v)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    int u = 0;
    while (v >= 1024 && v % 1024 == 0 && u < 6) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%llu %s", (unsigned long long)v, units[u]);
    return buf;
}

/* ---- text ---- */

static void text_location(FILE *out, const struct prof_place *l, const char *cwd)
{
    if (!l->line) {
        fputs(PROF_NO_FRAMES "\n", out);
        return;
    }
    fputs(l->line->function, out);
    if (l->line->file[0]) {
        fprintf(out, "  %s", loc_short(l->line->file, cwd));
        if (l->line->line > 0)
            fprintf(out, ":%d", (int)l->line->line);
    }
    fputc('\n', out);
}

static void text_time(FILE *out, const struct stats *st)
{
    const struct capture *c = st->c;
    const struct prof_metrics *t = st->time;
    fprintf(out, "Duration:          %.3f s%s\n", prof_secs(st->duration_ns),
            c->truncated ? " (capture truncated)" : "");
    fprintf(out, "Samples:           %llu", (unsigned long long)t->samples);
    if (c->interval_ns)
        fprintf(out, " every %g ms", (double)c->interval_ns / 1e6);
    fprintf(out, " from %zu thread%s\n", st->nthreads, st->nthreads == 1 ? "" : "s");
    fprintf(out, "Wall time:         %.3f s = user %.3f + sys %.3f + waiting %.3f  "
            "(summed over threads)\n", prof_secs(t->wall_ns), prof_secs(t->user_ns), prof_secs(t->sys_ns),
            prof_secs(prof_wait_ns(t)));
    fputs("Waiting by kind:  ", out);
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        fprintf(out, " %s %.3f", prof_wait_name(k), prof_secs(t->wait_ns[k]));
    fputc('\n', out);
}

static void text_histogram(FILE *out, const struct cap_mem_totals *t)
{
    int first = -1, last = -1;
    uint64_t max = 0;
    for (int k = 0; k < CAP_MEM_HIST; k++)
        if (t->size_hist[k]) {
            if (first < 0)
                first = k;
            last = k;
            if (t->size_hist[k] > max)
                max = t->size_hist[k];
        }
    fputs("\nAllocation sizes:\n", out);
    if (first < 0) {
        fputs("  (none recorded)\n", out);
        return;
    }
    /* every bucket between the first and last used, so the shape shows */
    for (int k = first; k <= last; k++) {
        char lo[PROF_FMT_LEN], hi[PROF_FMT_LEN], label[2 * PROF_FMT_LEN + 8], n[PROF_FMT_LEN];
        if (k == 0)
            snprintf(label, sizeof label, "0 B");
        else if (bucket_open(k))
            snprintf(label, sizeof label, ">= %s", pow2_bytes(lo, sizeof lo, bucket_lo(k)));
        else
            snprintf(label, sizeof label, "[%s, %s)", pow2_bytes(lo, sizeof lo, bucket_lo(k)),
                     pow2_bytes(hi, sizeof hi, bucket_hi(k) + 1));
        int w = (int)((double)t->size_hist[k] / (double)max * BAR_WIDTH + 0.5);
        if (w == 0 && t->size_hist[k])
            w = 1;              /* a used bucket never looks empty */
        fprintf(out, "  %-18s %12s%s", label, prof_fmt_count(n, sizeof n, t->size_hist[k]),
                w ? "  " : "");
        for (int i = 0; i < w; i++)
            fputs("\u2587", out);
        fputc('\n', out);
    }
}

static void text_memory(FILE *out, struct stats *st)
{
    const struct capture *c = st->c;
    const struct cap_mem_totals *t = &c->mem_totals;
    char b[PROF_FMT_LEN], n[PROF_FMT_LEN], cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';

    if (t->sample_mean)
        fprintf(out, "\nMemory: estimated (sampled every %s on average)\n",
                prof_fmt_bytes(b, sizeof b, t->sample_mean));
    else
        fputs("\nMemory: exact (every allocation)\n", out);
    fprintf(out, "  Allocated:             %s", prof_fmt_bytes(b, sizeof b, t->alloc_bytes));
    fprintf(out, " in %s allocations\n", prof_fmt_count(n, sizeof n, t->alloc_count));
    fprintf(out, "  Peak heap:             %s at %.3f s\n",
            prof_fmt_bytes(b, sizeof b, t->peak_heap_bytes), prof_secs(t->peak_heap_t_ns));
    if (t->peak_mapped_bytes) {         /* the heap counts only their resident part */
        fprintf(out, "  Mapped at the peak:    %s", prof_fmt_bytes(b, sizeof b, t->peak_mapped_bytes));
        fprintf(out, ", %s of it resident (in the heap)\n",
                prof_fmt_bytes(b, sizeof b, t->peak_mapped_resident_bytes));
    }
    fprintf(out, "  Peak RSS:              %s at %.3f s\n",
            prof_fmt_bytes(b, sizeof b, t->peak_rss_bytes), prof_secs(t->peak_rss_t_ns));
    fprintf(out, "  Leaked:                %s\n", prof_fmt_bytes(b, sizeof b, t->leaked_bytes));
    fprintf(out, "  Temporary allocations: %s\n",
            prof_fmt_count(n, sizeof n, t->temporary_count));
    if (!c->has_mem_totals)
        fputs("  (the run was cut short: totals derived from what it wrote, no leaks)\n", out);

    text_histogram(out, t);

    fputs("\nAllocators:\n", out);
    int any = 0;
    for (int k = 0; k < CAP_MEM_ALLOCATORS; k++) {
        if (!t->by_allocator_bytes[k] && !t->by_allocator_count[k])
            continue;
        fprintf(out, "  %-10s %10s %14s\n", allocator_names[k],
                prof_fmt_bytes(b, sizeof b, t->by_allocator_bytes[k]),
                prof_fmt_count(n, sizeof n, t->by_allocator_count[k]));
        any = 1;
    }
    if (!any)
        fputs("  (none recorded)\n", out);

    struct prof_places *pl = &st->places;
    const struct prof_place *v = pl->v;
    prof_places_sort(pl, PROF_ALLOCATED, PROF_ALLOCATIONS);
    fprintf(out, "\nTop %d locations by allocated bytes:\n", TOP_N);
    for (size_t i = 0; i < pl->n && i < TOP_N && v[i].m.alloc_bytes; i++) {
        fprintf(out, "  %10s  ", prof_fmt_bytes(b, sizeof b, v[i].m.alloc_bytes));
        text_location(out, &v[i], cwd);
    }
    prof_places_sort(pl, PROF_ALLOCATIONS, PROF_ALLOCATED);
    fprintf(out, "\nTop %d locations by allocation count:\n", TOP_N);
    for (size_t i = 0; i < pl->n && i < TOP_N && v[i].m.alloc_count; i++) {
        fprintf(out, "  %12s  ", prof_fmt_count(n, sizeof n, v[i].m.alloc_count));
        text_location(out, &v[i], cwd);
    }
}

static void text_stats(FILE *out, struct stats *st)
{
    const struct capture *c = st->c;
    const struct cap_process *p = c->nprocesses ? &c->processes[0] : NULL;
    fputs("Program:           ", out);
    for (int i = 0; p && i < p->argc; i++)
        fprintf(out, "%s%s", i ? " " : "", p->argv[i] ? p->argv[i] : "");
    if (!p || !p->argc)
        fputs("(unknown)", out);
    if (p && p->has_exit)
        fprintf(out, "  (exit %d)", (int)p->exit_code);
    fputc('\n', out);
    text_time(out, st);
    if (c->has_memory)
        text_memory(out, st);
    else
        fputs("\nMemory: not recorded (the run used --memory off)\n", out);
}

/* ---- JSON ---- */

static void json_location(FILE *out, const struct prof_place *l)
{
    const struct prof_site *f = l->line;
    fputs("{\"function\": ", out);
    json_string(out, f ? f->function : PROF_NO_FRAMES);
    fputs(", \"file\": ", out);
    json_string(out, f ? f->file : "");
    fprintf(out, ", \"line\": %d, \"alloc_bytes\": %llu, \"alloc_count\": %llu}",
            f ? (int)f->line : 0, (unsigned long long)l->m.alloc_bytes,
            (unsigned long long)l->m.alloc_count);
}

static void json_top(FILE *out, struct stats *st, const char *key, enum prof_metric by,
                     enum prof_metric then)
{
    prof_places_sort(&st->places, by, then);
    fprintf(out, ",\n  \"%s\": [", key);
    for (size_t i = 0; i < st->places.n && i < TOP_N; i++) {
        if (!prof_metric_ns(&st->places.v[i].m, by))
            break;
        fputs(i ? ",\n    " : "\n    ", out);
        json_location(out, &st->places.v[i]);
    }
    fputc(']', out);
}

static void json_memory(FILE *out, struct stats *st)
{
    const struct cap_mem_totals *t = &st->c->mem_totals;
    const char *comma = "";
    fprintf(out, "{\"mode\": \"%s\", \"sample_mean_bytes\": %llu,\n",
            t->sample_mean ? "sampled" : "exact", (unsigned long long)t->sample_mean);
    fprintf(out, "  \"alloc_bytes\": %llu, \"alloc_count\": %llu, \"peak_heap_bytes\": %llu, "
            "\"peak_time_s\": ", (unsigned long long)t->alloc_bytes,
            (unsigned long long)t->alloc_count, (unsigned long long)t->peak_heap_bytes);
    json_secs(out, t->peak_heap_t_ns);
    fprintf(out, ", \"peak_rss_bytes\": %llu, \"peak_rss_time_s\": ",
            (unsigned long long)t->peak_rss_bytes);
    json_secs(out, t->peak_rss_t_ns);
    fprintf(out, ", \"peak_mapped_bytes\": %llu, \"peak_mapped_resident_bytes\": %llu, "
            "\"leaked_mapped_bytes\": %llu", (unsigned long long)t->peak_mapped_bytes,
            (unsigned long long)t->peak_mapped_resident_bytes,
            (unsigned long long)t->leaked_mapped_bytes);
    fprintf(out, ",\n  \"leaked_bytes\": %llu, \"temporary_count\": %llu, \"complete\": %s,\n",
            (unsigned long long)t->leaked_bytes, (unsigned long long)t->temporary_count,
            st->c->has_mem_totals ? "true" : "false");
    fputs("  \"size_histogram\": [", out);
    for (int k = 0; k < CAP_MEM_HIST; k++) {
        if (!t->size_hist[k])
            continue;
        fprintf(out, "%s\n    {\"min_bytes\": %llu, \"max_bytes\": ", comma,
                (unsigned long long)bucket_lo(k));
        if (bucket_open(k))
            fputs("null", out);
        else
            fprintf(out, "%llu", (unsigned long long)bucket_hi(k));
        fprintf(out, ", \"count\": %llu}", (unsigned long long)t->size_hist[k]);
        comma = ",";
    }
    fputs("],\n  \"allocators\": [", out);
    comma = "";
    for (int k = 0; k < CAP_MEM_ALLOCATORS; k++) {
        if (!t->by_allocator_bytes[k] && !t->by_allocator_count[k])
            continue;
        fprintf(out, "%s\n    {\"name\": \"%s\", \"bytes\": %llu, \"count\": %llu}", comma,
                allocator_names[k], (unsigned long long)t->by_allocator_bytes[k],
                (unsigned long long)t->by_allocator_count[k]);
        comma = ",";
    }
    fputc(']', out);
    json_top(out, st, "top_by_bytes", PROF_ALLOCATED, PROF_ALLOCATIONS);
    json_top(out, st, "top_by_count", PROF_ALLOCATIONS, PROF_ALLOCATED);
    fputc('}', out);
}

static int json_stats(FILE *out, struct stats *st)
{
    const struct capture *c = st->c;
    const struct prof_metrics *t = st->time;
    fputs("{\"schema\": \"stetho-stats/1\",\n \"duration_s\": ", out);
    json_secs(out, st->duration_ns);
    fprintf(out, ", \"truncated\": %s, \"interval_s\": ", c->truncated ? "true" : "false");
    json_secs(out, c->interval_ns);
    fprintf(out, ", \"samples\": %llu, \"threads\": %zu,\n \"time\": {\"wall_s\": ",
            (unsigned long long)t->samples, st->nthreads);
    json_secs(out, t->wall_ns);
    fputs(", \"cpu_user_s\": ", out);
    json_secs(out, t->user_ns);
    fputs(", \"cpu_sys_s\": ", out);
    json_secs(out, t->sys_ns);
    fputs(", \"wait_s\": ", out);
    json_secs(out, prof_wait_ns(t));
    for (int k = 0; k < CAP_WAIT_KINDS; k++) {
        fprintf(out, ", \"%s\": ", prof_wait_key(k));
        json_secs(out, t->wait_ns[k]);
    }
    fputs("},\n \"memory\": ", out);
    if (c->has_memory)
        json_memory(out, st);
    else
        fputs("null", out);
    fputs(",\n \"leaks\": ", out);
    int rc = leaks_json(c, out);
    fputs("}\n", out);
    return rc;
}

int stats_write(const struct capture *c, int json, FILE *out)
{
    struct stats st;
    int rc = stats_build(&st, c);
    if (rc == 0) {
        if (json)
            rc = json_stats(out, &st);
        else
            text_stats(out, &st);
    }
    stats_free(&st);
    return rc;
}
