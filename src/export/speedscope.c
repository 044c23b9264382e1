/*
 * speedscope.c -- speedscope's file format (https://www.speedscope.app,
 * "file-format-schema.json"): one "sampled" profile per thread and per
 * metric, all sharing one frame table.
 *
 * Samples are written in time order, so speedscope's "Time Order" view is
 * the thread's timeline; consecutive samples of the same stack are merged
 * into one entry with their summed weight, which changes nothing in any
 * view and keeps the file small.  A sample whose weight is 0 for a metric
 * (no CPU while it slept, say) is left out of that metric's profile.
 */
#include "export/export.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

/* The profiles each thread gets.  A new metric (memory, say) is one line;
 * unit is one of the schema's: bytes, nanoseconds, none, ... */
static const struct {
    const char *name, *unit;
    int metric;
} metrics[] = {
    { "wall", "nanoseconds", PROF_WALL },
    { "cpu", "nanoseconds", PROF_CPU },
    { "wait", "nanoseconds", PROF_WAIT },
};

#define NMETRICS (sizeof metrics / sizeof metrics[0])

static uint64_t sample_value(const struct cap_sample *s, int metric)
{
    struct prof_metrics m = {0};
    prof_metrics_add(&m, s);
    return prof_value(&m, metric);
}

static void put_frames(FILE *f, const struct profile *p)
{
    fputs("\"shared\": {\"frames\": [", f);
    for (size_t i = 0; i < p->nfuncs; i++) {
        const struct prof_site *e = &p->funcs[i];
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", f);
        json_string(f, e->function);
        if (e->file[0]) {
            fputs(", \"file\": ", f);
            json_string(f, e->file);
        }
        if (e->first_line > 0)
            fprintf(f, ", \"line\": %d", (int)e->first_line);
        fputc('}', f);
    }
    fputs("]},\n", f);
}

/* "Thread 123 (worker) — wall"; the pid too when there are several. */
static void put_profile_name(FILE *f, const struct prof_thread *t, int nprocesses,
                             const char *metric)
{
    char name[512];
    int n = snprintf(name, sizeof name, "Thread %d", (int)t->tid);
    if (t->name && n >= 0 && (size_t)n < sizeof name)
        n += snprintf(name + n, sizeof name - n, " (%s)", t->name);
    if (nprocesses > 1 && n >= 0 && (size_t)n < sizeof name)
        n += snprintf(name + n, sizeof name - n, " of process %d", (int)t->pid);
    if (n >= 0 && (size_t)n < sizeof name)
        snprintf(name + n, sizeof name - n, " \xe2\x80\x94 %s", metric);
    json_string(f, name);
}

/* One thread's profile for one metric: the samples, then their weights,
 * merged the same way in both passes. */
static void put_profile(FILE *f, const struct profile *p, const struct prof_thread *t,
                        size_t m, uint64_t total, uint32_t *buf, int first)
{
    const struct capture *c = p->cap;
    fputs(first ? "\n {\"type\": \"sampled\", \"name\": "
                : ",\n {\"type\": \"sampled\", \"name\": ", f);
    put_profile_name(f, t, p->nprocesses, metrics[m].name);
    fprintf(f, ", \"unit\": \"%s\", \"startValue\": 0, \"endValue\": %llu,\n  \"samples\": [",
            metrics[m].unit, (unsigned long long)total);
    for (int pass = 0; pass < 2; pass++) {
        int any = 0;
        uint64_t weight = 0;
        uint32_t stack = 0;
        for (size_t k = 0; k <= t->nsamples; k++) {
            const struct cap_sample *s =
                k < t->nsamples ? &c->samples[p->sample_order[t->first + k]] : NULL;
            uint64_t v = s ? sample_value(s, metrics[m].metric) : 0;
            if (s && !v)
                continue;
            if (s && weight && s->stack == stack) {
                weight += v;
                continue;
            }
            /* a new stack, or the end: the run before it is complete */
            if (weight && pass == 1)
                fprintf(f, "%s%llu", any++ ? ", " : "", (unsigned long long)weight);
            if (s && pass == 0) {
                size_t n = prof_stack_funcs(p, s->stack, buf);
                fputs(any++ ? ",\n   [" : "\n   [", f);
                for (size_t i = 0; i < n; i++)
                    fprintf(f, "%s%u", i ? ", " : "", (unsigned)buf[i]);
                fputc(']', f);
            }
            weight = v;
            stack = s ? s->stack : 0;
        }
        fputs(pass == 0 ? "],\n  \"weights\": [" : "]}", f);
    }
}

int export_speedscope(const struct capture *c, const struct export_opts *o, FILE *out)
{
    struct profile p;
    uint32_t *buf = malloc((c->nstacks + 1) * sizeof *buf);
    /* every thread and metric (speedscope picks): only --merge-tasks applies */
    if (!buf)
        return -1;
    if (profile_build(&p, c, &(struct profile_opts){ .skip = PROF_ROWS_ONLY,
                                                     .merge_tasks = o->merge_tasks }) < 0) {
        free(buf);
        return -1;
    }

    char command[256] = "stetho capture";
    if (c->nprocesses)
        capture_command(c, c->processes[0].pid, command, sizeof command);
    fputs("{\"$schema\": \"https://www.speedscope.app/file-format-schema.json\",\n"
          "\"exporter\": \"stetho\", \"name\": ", out);
    json_string(out, command);
    fputs(",\n", out);
    put_frames(out, &p);
    fputs("\"profiles\": [", out);

    /* open on the busiest thread's wall time: the likeliest question */
    size_t nprofiles = 0, active = 0;
    uint64_t busiest = 0;
    for (size_t k = 0; k < p.nthreads && p.threads[k].nsamples; k++) {
        const struct prof_thread *t = &p.threads[k];
        uint64_t total[NMETRICS] = {0}, cpu = 0;
        for (size_t i = 0; i < t->nsamples; i++) {
            const struct cap_sample *s = &c->samples[p.sample_order[t->first + i]];
            for (size_t m = 0; m < NMETRICS; m++)
                total[m] += sample_value(s, metrics[m].metric);
            cpu += s->user_ns + s->sys_ns;
        }
        if (k == 0 || cpu > busiest) {
            busiest = cpu;
            active = nprofiles;         /* the thread's first profile, wall */
        }
        for (size_t m = 0; m < NMETRICS; m++) {
            /* a metric the thread never had makes an empty, useless view */
            if (m && !total[m])
                continue;
            put_profile(out, &p, t, m, total[m], buf, nprofiles++ == 0);
        }
    }
    fprintf(out, "],\n\"activeProfileIndex\": %zu}\n", active);
    profile_free(&p);
    free(buf);
    return 0;
}
