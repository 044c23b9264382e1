/*
 * json.c -- the capture as one JSON document, schema
 * "stetho-profile/1" (docs/json-schema.md): the program, its threads, the
 * frame table, one entry per distinct (pid, tid, stack) with its summed
 * metrics (time from the samples, memory from the capture's per-stack
 * memory entries), the totals, and the memory timeline.
 *
 * Seconds are printed as exact decimals of the recorded nanoseconds (not
 * rounded floats), so the stacks' values add up exactly to the totals.
 */
#include "export/export.h"
#include "util/array.h"
#include "util/json.h"
#include "util/kmap.h"

#include <stdlib.h>
#include <string.h>

struct thread_row {
    int32_t pid, tid;
    const char *name;
};

/* The memory fields every stack entry has, 0 when it has none. */
static void put_memory(FILE *f, const struct prof_metrics *m)
{
    fprintf(f, ", \"alloc_bytes\": %llu, \"alloc_count\": %llu, \"peak_bytes\": %llu, "
            "\"leaked_bytes\": %llu, \"temporary_count\": %llu",
            (unsigned long long)m->alloc_bytes, (unsigned long long)m->alloc_count,
            (unsigned long long)m->peak_bytes, (unsigned long long)m->leaked_bytes,
            (unsigned long long)m->temporary_count);
}

static void put_metrics(FILE *f, const struct prof_metrics *m)
{
    fprintf(f, "\"samples\": %llu, \"wall_s\": ", (unsigned long long)m->samples);
    json_secs(f, m->wall_ns);
    fputs(", \"cpu_user_s\": ", f);
    json_secs(f, m->user_ns);
    fputs(", \"cpu_sys_s\": ", f);
    json_secs(f, m->sys_ns);
    for (int k = 0; k < CAP_WAIT_KINDS; k++) {
        fprintf(f, ", \"%s\": ", prof_wait_key(k));
        json_secs(f, m->wait_ns[k]);
    }
}

static const char *string_at(const struct capture *c, uint32_t id)
{
    const char *s = capture_string(c, id);
    return s ? s : "";
}

static void put_program(FILE *f, const struct capture *c)
{
    const struct cap_process *p = c->nprocesses ? &c->processes[0] : NULL;
    /* cut short: the run lasted at least until its last sample */
    uint64_t duration = capture_duration(c);
    fputs(" \"program\": {\"argv\": [", f);
    for (int i = 0; p && i < p->argc; i++) {
        if (i)
            fputs(", ", f);
        json_string(f, p->argv[i] ? p->argv[i] : "");
    }
    fputs("], \"python_version\": ", f);
    json_string(f, p ? p->python_version : NULL);
    fputs(", \"python_executable\": ", f);
    json_string(f, p ? p->python_executable : NULL);
    if (p)
        fprintf(f, ", \"pid\": %d", (int)p->pid);
    else
        fputs(", \"pid\": null", f);
    if (p && p->has_exit)
        fprintf(f, ", \"exit_code\": %d", (int)p->exit_code);
    else
        fputs(", \"exit_code\": null", f);
    fputs(", \"duration_s\": ", f);
    json_secs(f, duration);
    fputs(", \"interval_s\": ", f);
    json_secs(f, c->interval_ns);
    fputs("},\n", f);
}

/* Every thread: those the capture names, then the model's others (seen
 * only in samples or memory entries). */
static int put_threads(FILE *f, const struct profile *p)
{
    const struct capture *c = p->cap;
    struct kmap index = {0};
    struct thread_row *v = NULL;
    size_t n = 0, cap = 0;
    int rc = -1, isnew;

    for (size_t i = 0; i < c->nthreads + p->nthreads; i++) {
        int from_record = i < c->nthreads;
        const struct prof_thread *t = from_record ? NULL : &p->threads[i - c->nthreads];
        int32_t pid = from_record ? c->threads[i].pid : t->pid;
        int32_t tid = from_record ? c->threads[i].tid : t->tid;
        uint32_t *slot = kmap_put(&index, (uint32_t)pid, (uint32_t)tid, (uint32_t)n, &isnew);
        if (!slot)
            goto out;
        if (isnew) {
            if (ARRAY_RESERVE(v, n, cap) < 0)
                goto out;
            v[n++] = (struct thread_row){ pid, tid, NULL };
        }
        /* a thread renamed later keeps its latest name */
        if (from_record && c->threads[i].name)
            v[*slot].name = c->threads[i].name;
    }
    fputs(" \"threads\": [", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s\n  {\"pid\": %d, \"tid\": %d, \"name\": ", i ? "," : "",
                (int)v[i].pid, (int)v[i].tid);
        json_string(f, v[i].name);
        fputc('}', f);
    }
    fputs("],\n", f);
    rc = 0;
out:
    kmap_free(&index);
    free(v);
    return rc;
}

static void put_frames(FILE *f, const struct capture *c)
{
    static const char *const kinds[] = { "python", "native", "synthetic" };
    _Static_assert(sizeof kinds / sizeof kinds[0] == CAP_FRAME_SYNTHETIC + 1,
                   "a name for every frame kind");
    fputs(" \"frames\": [", f);
    for (size_t id = 1; id < c->nframes; id++) {
        const struct cap_frame *fr = &c->frames[id];
        fprintf(f, "%s\n  {\"function\": ", id > 1 ? "," : "");
        json_string(f, string_at(c, fr->function));
        fputs(", \"file\": ", f);
        json_string(f, string_at(c, fr->file));
        fprintf(f, ", \"line\": %d, \"first_line\": %d, \"kind\": \"%s\"", (int)fr->line,
                (int)fr->first_line, kinds[fr->kind <= CAP_FRAME_SYNTHETIC ? fr->kind : 2]);
        if (fr->module && fr->module < c->nmodules) {
            /* a native frame's place: what addr2line -e MODULE takes */
            fputs(", \"module\": ", f);
            json_string(f, string_at(c, c->modules[fr->module].path));
            fputs(", \"build_id\": ", f);
            json_string(f, string_at(c, c->modules[fr->module].build_id));
            fprintf(f, ", \"address\": %llu", (unsigned long long)fr->addr);
        }
        fputc('}', f);
    }
    fputs("],\n", f);
}

/* Frame indices of stack, root first (frame id - 1, as "frames" lists them). */
static void put_stack_frames(FILE *f, const struct capture *c, uint32_t stack,
                             uint32_t *buf, size_t cap)
{
    size_t n = 0;
    for (uint32_t s = stack; s && s < c->nstacks && n < cap; s = c->stacks[s].parent) {
        uint32_t fr = c->stacks[s].frame;
        if (fr && fr < c->nframes)
            buf[n++] = fr - 1;
    }
    fputc('[', f);
    for (size_t i = n; i > 0; i--)
        fprintf(f, "%s%u", i < n ? ", " : "", (unsigned)buf[i - 1]);
    fputc(']', f);
}

/* The model's rows: the samples' stacks, then those that only allocated. */
static int put_stacks(FILE *f, const struct profile *p)
{
    const struct capture *c = p->cap;
    uint32_t *buf = malloc((c->nstacks ? c->nstacks : 1) * sizeof *buf);
    if (!buf)
        return -1;
    fputs(" \"stacks\": [", f);
    for (size_t i = 0; i < p->nrows; i++) {
        const struct prof_row *r = &p->rows[i];
        fprintf(f, "%s\n  {\"pid\": %d, \"tid\": %d, \"frames\": ", i ? "," : "",
                (int)r->pid, (int)r->tid);
        put_stack_frames(f, c, r->stack, buf, c->nstacks);
        fputs(", ", f);
        put_metrics(f, &r->m);
        put_memory(f, &r->m);
        fputc('}', f);
    }
    fputs("],\n", f);
    free(buf);
    return 0;
}

/* The stacks' memory sums (so they add up, as the times do), then the
 * run's own peaks and mode. */
static void put_memory_totals(FILE *f, const struct capture *c, const struct prof_metrics *sum)
{
    const struct cap_mem_totals *t = &c->mem_totals;
    put_memory(f, sum);
    fprintf(f, ", \"peak_heap_bytes\": %llu, \"peak_time_s\": ",
            (unsigned long long)t->peak_heap_bytes);
    json_secs(f, t->peak_heap_t_ns);
    fprintf(f, ", \"peak_rss_bytes\": %llu, \"peak_rss_time_s\": ",
            (unsigned long long)t->peak_rss_bytes);
    json_secs(f, t->peak_rss_t_ns);
    fprintf(f, ", \"memory_mode\": \"%s\", \"sample_mean_bytes\": %llu",
            !c->has_memory ? "off" : t->sample_mean ? "sampled" : "exact",
            (unsigned long long)t->sample_mean);
}

static void put_timeline(FILE *f, const struct capture *c)
{
    fputs(" \"timeline\": [", f);
    for (size_t i = 0; i < c->ntimeline; i++) {
        const struct cap_timeline_point *pt = &c->timeline[i];
        fprintf(f, "%s\n  {\"t_s\": ", i ? "," : "");
        json_secs(f, pt->t_ns);
        fprintf(f, ", \"rss_bytes\": %llu, \"heap_bytes\": %llu}",
                (unsigned long long)pt->rss_bytes, (unsigned long long)pt->heap_bytes);
    }
    fputs("]", f);
}

int export_json(const struct capture *c, const struct export_opts *o, FILE *out)
{
    struct profile p;
    (void)o;                    /* every metric, every thread: nothing to choose */
    if (profile_build(&p, c, &(struct profile_opts){ .skip = PROF_ROWS_ONLY }) < 0)
        return -1;
    fputs("{\"schema\": \"stetho-profile/1\",\n", out);
    put_program(out, c);
    int rc = put_threads(out, &p);
    if (rc == 0) {
        put_frames(out, c);
        rc = put_stacks(out, &p);
    }
    if (rc == 0) {
        fputs(" \"totals\": {", out);
        put_metrics(out, &p.total);
        put_memory_totals(out, c, &p.total);
        fputs("},\n", out);
        put_timeline(out, c);
        fputs("}\n", out);
    }
    profile_free(&p);
    return rc;
}
