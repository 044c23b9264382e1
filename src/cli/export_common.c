/*
 * export_common.c -- functions, threads and metrics shared by the export
 * formats (export_common.h).
 */
#include "cli/export.h"
#include "cli/export_common.h"
#include "util/kmap.h"

#include <stdlib.h>
#include <string.h>

int export_reserve(void **v, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *nv = realloc(*v, ncap * sz);
    if (!nv)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

uint64_t export_metric_value(const struct prof_metrics *m, int metric)
{
    if (metric == EXPORT_SAMPLES)
        return m->samples;
    return prof_metric_ns(m, (enum prof_metric)metric);
}

void export_command(const struct capture *c, int32_t pid, char *buf, size_t len)
{
    const struct cap_process *p = capture_process(c, pid);
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; p && i < p->argc && n + 1 < len; i++) {
        int w = snprintf(buf + n, len - n, "%s%s", i ? " " : "", p->argv[i] ? p->argv[i] : "");
        if (w < 0)
            break;
        n += (size_t)w < len - n ? (size_t)w : len - n - 1;
    }
    /* cut inside a UTF-8 character: drop its start too, JSON wants whole ones */
    size_t k = n;
    while (k > 0 && ((unsigned char)buf[k - 1] & 0xc0) == 0x80)
        k--;
    if (k > 0 && (unsigned char)buf[k - 1] >= 0xc0) {
        unsigned char lead = (unsigned char)buf[k - 1];
        size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
        if (n - (k - 1) < need)
            buf[k - 1] = 0;
    }
    if (!buf[0])
        snprintf(buf, len, "process %d", (int)pid);
}

static uint64_t hash_str(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static const char *string_or(const struct capture *c, uint32_t id, const char *none)
{
    return id < c->nstrings && c->strings[id] ? c->strings[id] : none;
}

static int add_func(struct export_funcs *f, size_t *cap, const char *name, const char *file,
                    int32_t first_line, uint8_t kind)
{
    if (export_reserve((void **)&f->v, cap, f->n, sizeof *f->v) < 0)
        return -1;
    f->v[f->n++] = (struct export_func){ name, file, first_line, kind };
    return 0;
}

int export_funcs_build(struct export_funcs *f, const struct capture *c)
{
    struct kmap index = {0};
    size_t cap = 0;
    memset(f, 0, sizeof *f);
    f->of_frame = calloc(c->nframes ? c->nframes : 1, sizeof *f->of_frame);
    if (!f->of_frame)
        goto fail;
    for (size_t id = 1; id < c->nframes; id++) {
        const struct cap_frame *fr = &c->frames[id];
        const char *name = string_or(c, fr->function, "?");
        const char *file = string_or(c, fr->file, "");
        uint64_t a = hash_str(name, 1469598103934665603ULL);
        uint64_t b = hash_str(file, a) ^ (uint32_t)fr->first_line;
        int isnew;
        uint32_t *slot = kmap_put(&index, a, b, (uint32_t)f->n, &isnew);
        if (!slot)
            goto fail;
        const struct export_func *e = isnew ? NULL : &f->v[*slot];
        if (e && !strcmp(e->name, name) && !strcmp(e->file, file) &&
            e->first_line == fr->first_line) {
            f->of_frame[id] = *slot;
            continue;
        }
        /* new, or a hash collision: then the two stay apart, harmlessly */
        f->of_frame[id] = (uint32_t)f->n;
        if (add_func(f, &cap, name, file, fr->first_line, fr->kind) < 0)
            goto fail;
    }
    f->none = (uint32_t)f->n;
    if (add_func(f, &cap, EXPORT_NO_FRAMES, "", 0, CAP_FRAME_SYNTHETIC) < 0)
        goto fail;
    kmap_free(&index);
    return 0;
fail:
    kmap_free(&index);
    export_funcs_free(f);
    return -1;
}

void export_funcs_free(struct export_funcs *f)
{
    free(f->v);
    free(f->of_frame);
    memset(f, 0, sizeof *f);
}

size_t export_stack_funcs(const struct capture *c, const struct export_funcs *f,
                          uint32_t stack, uint32_t *buf)
{
    size_t n = 0;
    for (uint32_t s = stack; s && s < c->nstacks && n < c->nstacks; s = c->stacks[s].parent) {
        uint32_t fr = c->stacks[s].frame;
        if (fr && fr < c->nframes)
            buf[n++] = f->of_frame[fr];
    }
    if (!n) {
        buf[0] = f->none;
        return 1;
    }
    for (size_t i = 0, j = n - 1; i < j; i++, j--) {
        uint32_t t = buf[i];
        buf[i] = buf[j];
        buf[j] = t;
    }
    return n;
}

static uint64_t who(int32_t pid, int32_t tid)
{
    return (uint64_t)(uint32_t)pid << 32 | (uint32_t)tid;
}

int export_threads_build(struct export_threads *t, const struct capture *c)
{
    struct kmap index = {0}, pids = {0};
    uint32_t *of = malloc((c->nsamples ? c->nsamples : 1) * sizeof *of);
    size_t cap = 0;
    int isnew;
    memset(t, 0, sizeof *t);
    t->order = malloc((c->nsamples ? c->nsamples : 1) * sizeof *t->order);
    if (!of || !t->order)
        goto fail;

    for (size_t i = 0; i < c->nsamples; i++) {
        const struct cap_sample *s = &c->samples[i];
        uint32_t *slot = kmap_put(&index, who(s->pid, s->tid), 0, (uint32_t)t->n, &isnew);
        if (!slot)
            goto fail;
        if (isnew) {
            if (export_reserve((void **)&t->v, &cap, t->n, sizeof *t->v) < 0)
                goto fail;
            t->v[t->n++] = (struct export_thread){ s->pid, s->tid, NULL, 0, 0 };
            if (!kmap_put(&pids, (uint32_t)s->pid, 0, 0, &isnew))
                goto fail;
            t->nprocesses += isnew;
        }
        of[i] = *slot;
        t->v[*slot].n++;
    }
    /* counting sort: each thread's samples stay in capture (= time) order */
    size_t at = 0;
    for (size_t k = 0; k < t->n; k++) {
        t->v[k].first = at;
        at += t->v[k].n;
        t->v[k].n = 0;
    }
    for (size_t i = 0; i < c->nsamples; i++) {
        struct export_thread *th = &t->v[of[i]];
        t->order[th->first + th->n++] = (uint32_t)i;
    }
    /* a thread renamed later keeps its latest name */
    for (size_t i = 0; i < c->nthreads; i++) {
        uint32_t k = kmap_get(&index, who(c->threads[i].pid, c->threads[i].tid), 0, UINT32_MAX);
        if (k != UINT32_MAX && c->threads[i].name)
            t->v[k].name = c->threads[i].name;
    }
    kmap_free(&index);
    kmap_free(&pids);
    free(of);
    return 0;
fail:
    kmap_free(&index);
    kmap_free(&pids);
    free(of);
    export_threads_free(t);
    return -1;
}

void export_threads_free(struct export_threads *t)
{
    free(t->v);
    free(t->order);
    memset(t, 0, sizeof *t);
}
