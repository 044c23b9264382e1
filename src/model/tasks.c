/*
 * tasks.c -- asyncio tasks merged by coroutine (tasks.h).
 *
 * The task frames are recognised by their text (a synthetic frame
 * `<task ...>`), the only mark the capture gives them: a user frame can
 * never be synthetic.  Each coroutine function under one gets its merged
 * function once, here, before the tables are sized; looking one up later
 * is one map probe per distinct stack, not per sample.
 */
#include "model/tasks.h"
#include "util/array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_task_frame(const struct profile *p, uint32_t f)
{
    const struct capture *c = p->cap;
    const struct prof_site *s = &p->funcs[p->func_of[f]];
    return c->frames[f].kind == CAP_FRAME_SYNTHETIC && !strncmp(s->function, "<task ", 6) &&
           s->function[strlen(s->function) - 1] == '>';
}

/* The merged function of coroutine function `coro`, made if new. */
static int merge_one(struct profile *p, uint32_t coro, size_t *funcs_cap, size_t *lines_cap,
                     size_t *names_cap)
{
    int isnew;
    uint32_t *slot = kmap_put(&p->task_merged, coro, 0, (uint32_t)p->nfuncs, &isnew);
    if (!slot)
        return -1;
    if (!isnew)
        return 0;
    const char *qualname = p->funcs[coro].function;
    size_t len = strlen(qualname) + sizeof "<task >";
    char *name = malloc(len);
    if (!name || ARRAY_RESERVE(p->task_names, p->ntask_names, *names_cap) < 0 ||
        ARRAY_RESERVE(p->funcs, p->nfuncs, *funcs_cap) < 0 ||
        ARRAY_RESERVE(p->lines, p->nlines, *lines_cap) < 0) {
        free(name);
        return -1;
    }
    snprintf(name, len, "<task %s>", qualname);
    p->task_names[p->ntask_names++] = name;
    struct prof_site s = { .function = name, .file = "", .func = (uint32_t)p->nfuncs,
                           .kind = CAP_FRAME_SYNTHETIC, .loc = p->funcs[p->none_func].loc };
    p->funcs[p->nfuncs++] = s;
    p->lines[p->nlines++] = s;
    return 0;
}

int prof_tasks_build(struct profile *p)
{
    const struct capture *c = p->cap;
    if (!p->opts.merge_tasks || c->nframes < 2)
        return 0;
    p->task_frame = calloc(c->nframes, 1);
    if (!p->task_frame)
        return -1;
    for (size_t f = 1; f < c->nframes; f++)
        p->task_frame[f] = (uint8_t)is_task_frame(p, (uint32_t)f);
    /* none_func stays last: it moves behind the merged functions */
    struct prof_site none = p->funcs[p->none_func];
    size_t funcs_cap = p->nfuncs, lines_cap = p->nlines, names_cap = 0;
    p->nfuncs--;
    p->task_func0 = (uint32_t)p->nfuncs;
    p->task_line0 = (uint32_t)p->nlines;
    for (size_t s = 1; s < c->nstacks; s++) {
        uint32_t r = c->stacks[s].parent, f = c->stacks[s].frame;
        if (!r || r >= c->nstacks || c->stacks[r].parent || f >= c->nframes || !f)
            continue;           /* not the second frame of a stack */
        uint32_t root = c->stacks[r].frame;
        if (root < c->nframes && p->task_frame[root] &&
            merge_one(p, p->func_of[f], &funcs_cap, &lines_cap, &names_cap) < 0)
            return -1;
    }
    if (ARRAY_RESERVE(p->funcs, p->nfuncs, funcs_cap) < 0)
        return -1;
    p->none_func = (uint32_t)p->nfuncs;
    none.func = p->none_func;
    p->funcs[p->nfuncs++] = none;
    return 0;
}

uint32_t prof_root_site(const struct profile *p, uint32_t root, uint32_t callee, int by_line)
{
    uint32_t m = UINT32_MAX;
    if (p->task_frame && callee && p->task_frame[root])
        m = kmap_get(&p->task_merged, p->func_of[callee], 0, UINT32_MAX);
    if (m == UINT32_MAX)
        return by_line ? p->line_of[root] : p->func_of[root];
    /* funcs and lines get their merged sites together, in one order */
    return by_line ? p->task_line0 + (m - p->task_func0) : m;
}
