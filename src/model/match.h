/*
 * match.h -- two captures' report models matched by identity, for
 * `stetho diff` (report/diff.h): its tables, JSON and HTML page.
 *
 * Contract: both captures are aggregated by the report model; functions
 * are matched across them by identity -- (function name, file) text, not
 * line numbers, so a function whose lines moved still matches -- and
 * stacks by the sequence of those identities, root first, whatever the
 * process or thread (pids and tids differ between runs).  Functions of
 * one capture with the same identity (two definitions of `f` in one
 * file) are summed.  Side 0 is the base, side 1 the new capture; the
 * strings point into the profiles, valid until match_free.  match_sort
 * orders the functions and stacks that either side has by |new - base|
 * of a metric (self, or total with by_total, for functions), largest
 * first, ties by name.  0, or -1 when out of memory.
 */
#ifndef STETHO_MODEL_MATCH_H
#define STETHO_MODEL_MATCH_H

#include <stddef.h>
#include <stdint.h>
#include "model/profile.h"
#include "util/kmap.h"

struct match_func {
    const char *function, *file;        /* from the first capture that has it */
    struct prof_metrics self[2], total[2];
};

struct match_stack {
    size_t first;                       /* its identities: path[first ..) */
    uint32_t depth;
    struct prof_metrics m[2];
};

struct match {
    struct profile p[2];
    int built[2];
    struct match_func *funcs;           /* one per identity */
    size_t nfuncs, funcs_cap;
    struct kmap func_index;             /* (hash function, hash file) -> funcs */
    struct match_stack *stacks;
    size_t nstacks, stacks_cap;
    uint32_t *path;                     /* the stacks' identities, root first */
    size_t npath, path_cap;
    struct kmap stack_index;            /* (hash of identities, depth) -> stacks */
};

struct match_order {
    uint32_t i;                 /* into match.funcs or match.stacks */
    uint64_t key;               /* |new - base| */
    const char *name;
};

int match_build(struct match *d, const struct capture *base, const struct capture *new_);
void match_free(struct match *d);
/* *fo and *so are the caller's to free (also after a failure). */
int match_sort(const struct match *d, enum prof_metric metric, int by_total,
               struct match_order **fo, size_t *nf, struct match_order **so, size_t *ns);

#endif
