/*
 * chrome.c -- the Trace Event Format (JSON) of chrome://tracing and
 * Perfetto (ui.perfetto.dev): each thread a track of nested "X" (complete)
 * events, a flame chart over time.
 *
 * A sample stands for the time since its thread's previous sample, so it
 * covers [t_ns - wall_ns, t_ns].  Going through a thread's samples in
 * order, a function that stays at the same depth under the same callers
 * from one sample to the next is one event; it ends where a sample no
 * longer has it, or where the thread's samples stop being back to back
 * (the sampler lost sight of it for a while).  So the outermost events
 * of a thread add up to its sampled wall time, and any event is as long
 * as the samples that saw it, give or take one interval at each end.
 *
 * Times are microseconds, as the format wants, written with three
 * decimals: the capture's nanoseconds, exactly.
 */
#include "export/export.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

static void put_us(FILE *f, uint64_t ns)
{
    fprintf(f, "%llu.%03u", (unsigned long long)(ns / 1000), (unsigned)(ns % 1000));
}

struct open_frame {
    uint32_t func;
    uint64_t start_ns;
};

struct writer {
    FILE *f;
    const struct profile *p;
    int32_t pid, tid;
    int any;                    /* an event was written: the next needs a comma */
};

static void sep(struct writer *w)
{
    fputs(w->any++ ? ",\n" : "\n", w->f);
}

static void put_event(struct writer *w, const struct open_frame *o, uint64_t end_ns)
{
    const struct prof_site *e = &w->p->funcs[o->func];
    sep(w);
    fputs("{\"ph\": \"X\", \"name\": ", w->f);
    json_string(w->f, e->function);
    fprintf(w->f, ", \"cat\": \"%s\", \"pid\": %d, \"tid\": %d, \"ts\": ",
            e->kind == CAP_FRAME_PYTHON ? "python" : e->kind == CAP_FRAME_NATIVE ? "native"
                                                                              : "other",
            (int)w->pid, (int)w->tid);
    put_us(w->f, o->start_ns);
    fputs(", \"dur\": ", w->f);
    put_us(w->f, end_ns - o->start_ns);
    if (e->file[0]) {
        fputs(", \"args\": {\"file\": ", w->f);
        json_string(w->f, e->file);
        fprintf(w->f, ", \"line\": %d}", (int)e->first_line);
    }
    fputc('}', w->f);
}

static void put_metadata(struct writer *w, const char *what, int32_t tid, const char *name)
{
    sep(w);
    fprintf(w->f, "{\"ph\": \"M\", \"name\": \"%s\", \"pid\": %d, \"tid\": %d, "
            "\"args\": {\"name\": ", what, (int)w->pid, (int)tid);
    json_string(w->f, name);
    fputs("}}", w->f);
}

/* One thread's events; open and buf have room for the deepest stack. */
static void put_thread(struct writer *w, const struct prof_thread *t, struct open_frame *open,
                       uint32_t *buf)
{
    const struct capture *c = w->p->cap;
    size_t depth = 0;
    uint64_t end = 0;
    for (size_t k = 0; k < t->nsamples; k++) {
        const struct cap_sample *s = &c->samples[w->p->sample_order[t->first + k]];
        uint64_t start = s->t_ns > s->wall_ns ? s->t_ns - s->wall_ns : 0;
        if (k && start < end)
            start = end;        /* never overlap the sample before */
        size_t n = prof_stack_funcs(w->p, s->stack, buf), keep = 0;
        if (depth && start == end)
            while (keep < depth && keep < n && open[keep].func == buf[keep])
                keep++;
        /* what the new sample does not continue ends where the last one did */
        while (depth > keep)
            put_event(w, &open[--depth], end);
        for (; depth < n; depth++)
            open[depth] = (struct open_frame){ buf[depth], start };
        end = s->t_ns > start ? s->t_ns : start;
    }
    while (depth > 0)
        put_event(w, &open[--depth], end);
}

int export_chrome(const struct capture *c, const struct export_opts *o, FILE *out)
{
    struct profile p;
    uint32_t *buf = malloc((c->nstacks + 1) * sizeof *buf);
    struct open_frame *open = malloc((c->nstacks + 1) * sizeof *open);
    /* a timeline of every thread: only --merge-tasks to choose */
    if (!buf || !open || profile_build(&p, c, &(struct profile_opts){ .skip = PROF_ROWS_ONLY,
                                                     .merge_tasks = o->merge_tasks }) < 0) {
        free(buf);
        free(open);
        return -1;
    }

    struct writer w = { .f = out, .p = &p };
    fputs("{\"displayTimeUnit\": \"ms\", \"otherData\": {\"exporter\": \"stetho\"},\n"
          "\"traceEvents\": [", out);
    char name[256];
    for (size_t k = 0; k < p.nthreads && p.threads[k].nsamples; k++) {
        const struct prof_thread *t = &p.threads[k];
        w.pid = t->pid;
        w.tid = t->tid;
        if (!k || t->pid != p.threads[k - 1].pid) {
            int seen = 0;       /* a process's name once, at its first thread */
            for (size_t j = 0; j < k && !seen; j++)
                seen = p.threads[j].pid == t->pid;
            if (!seen) {
                capture_command(c, t->pid, name, sizeof name);
                put_metadata(&w, "process_name", 0, name);
            }
        }
        if (t->name)
            snprintf(name, sizeof name, "%s (%d)", t->name, (int)t->tid);
        else
            snprintf(name, sizeof name, "Thread %d", (int)t->tid);
        put_metadata(&w, "thread_name", t->tid, name);
        put_thread(&w, t, open, buf);
    }
    fputs("]}\n", out);
    profile_free(&p);
    free(buf);
    free(open);
    return 0;
}
