/*
 * capinfo.c -- look-ups on a loaded capture (capinfo.h).
 */
#include "model/capinfo.h"
#include "util/kmap.h"
#include "util/utf8.h"

#include <stdio.h>
#include <string.h>

const char *capture_string(const struct capture *c, uint32_t id)
{
    return id < c->nstrings ? c->strings[id] : NULL;
}

const char *capture_thread_name(const struct capture *c, int32_t pid, int32_t tid)
{
    const char *name = NULL;
    for (size_t i = 0; i < c->nthreads; i++)
        if (c->threads[i].pid == pid && c->threads[i].tid == tid && c->threads[i].name)
            name = c->threads[i].name;
    return name;
}

const struct cap_process *capture_process(const struct capture *c, int32_t pid)
{
    for (size_t i = 0; i < c->nprocesses; i++)
        if (c->processes[i].pid == pid)
            return &c->processes[i];
    return NULL;
}

const struct cap_frame *capture_stack_site(const struct capture *c, uint32_t stack)
{
    const struct cap_frame *inner = NULL;
    size_t steps = 0;
    for (uint32_t s = stack; s && s < c->nstacks && steps < c->nstacks;
         s = c->stacks[s].parent, steps++) {
        uint32_t f = c->stacks[s].frame;
        if (!f || f >= c->nframes)
            continue;
        if (c->frames[f].kind == CAP_FRAME_PYTHON)
            return &c->frames[f];
        if (!inner)
            inner = &c->frames[f];
    }
    return inner;
}

void capture_command(const struct capture *c, int32_t pid, char *buf, size_t len)
{
    const struct cap_process *p = capture_process(c, pid);
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; p && i < p->argc && n + 1 < len; i++) {
        const char *w = p->argv[i] ? p->argv[i] : "";
        if (i)
            buf[n++] = ' ';
        size_t k = strlen(w);
        /* cut inside a UTF-8 character: drop its start too, JSON wants whole ones */
        k = utf8_cut(w, k, len - n - 1);
        memcpy(buf + n, w, k);
        n += k;
        buf[n] = 0;
    }
    if (!buf[0])
        snprintf(buf, len, "process %d", (int)pid);
}

uint64_t capture_duration(const struct capture *c)
{
    if (c->has_duration)
        return c->duration_ns;
    uint64_t last = 0;
    for (size_t i = 0; i < c->nsamples; i++)
        if (c->samples[i].t_ns > last)
            last = c->samples[i].t_ns;
    return last;
}

size_t capture_sampled_threads(const struct capture *c)
{
    struct kmap seen = {0};
    int isnew;
    for (size_t i = 0; i < c->nsamples; i++)
        if (!kmap_put(&seen, (uint32_t)c->samples[i].pid, (uint32_t)c->samples[i].tid, 0, &isnew))
            break;
    size_t n = seen.n;
    kmap_free(&seen);
    return n;
}
