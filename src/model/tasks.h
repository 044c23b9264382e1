/*
 * tasks.h -- asyncio tasks merged by coroutine (profile_opts.merge_tasks),
 * a step of profile_build after frame identity.
 *
 * Contract: a capture of `--async` roots each task's stack at a synthetic
 * frame `<task NAME>` whose callee is the task's coroutine (the outermost
 * frame of its await chain, sampler.c).  prof_tasks_build adds, for every
 * coroutine function found under such a root, one function `<task
 * QUALNAME>` (and its line) to p->funcs / p->lines, and marks the task
 * frames; prof_root_site then gives the site a stack's ROOT frame stands
 * for: for a task frame with a callee, its coroutine's merged site, so
 * 200 tasks Task-1..Task-200 running `handler` are one `<task handler>`.
 * The merge is per stack, not per frame, so one task name over two
 * coroutines (Task-1 of two processes) still splits by coroutine.  A task
 * root with no callee (its chain could not be read) keeps its own name.
 * Without merge_tasks nothing is added and prof_root_site is the frame's
 * own site.  0, or -1 when out of memory.
 */
#ifndef STETHO_MODEL_TASKS_H
#define STETHO_MODEL_TASKS_H

#include "model/profile.h"

int prof_tasks_build(struct profile *p);

/* The site (function, or line with by_line) of frame id `root` at the
 * root of a stack whose next frame is `callee` (0: none). */
uint32_t prof_root_site(const struct profile *p, uint32_t root, uint32_t callee, int by_line);

#endif
