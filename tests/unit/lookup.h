/*
 * lookup.h -- finding a node, a function or a line in a built profile, for
 * the model's unit tests.
 *
 * Contract: every look-up returns the first match or NULL (a NULL parent
 * has no children), never asserts: the test that calls it checks what it
 * expects.
 */
#ifndef STETHO_TESTS_LOOKUP_H
#define STETHO_TESTS_LOOKUP_H

#include "model/profile.h"

#include <string.h>

/* The child of node `parent` whose function is `fn`. */
static inline const struct prof_node *child(const struct profile *p,
                                            const struct prof_node *parent, const char *fn)
{
    for (uint32_t i = 0; parent && i < parent->nchildren; i++) {
        const struct prof_node *n = &p->nodes[p->children[parent->first_child + i]];
        const struct prof_site *s = prof_node_site(p, n);
        if (s && !strcmp(s->function, fn))
            return n;
    }
    return NULL;
}

/* The child of node `parent` that is thread `tid`. */
static inline const struct prof_node *thread_node(const struct profile *p,
                                                  const struct prof_node *parent, int32_t tid)
{
    for (uint32_t i = 0; parent && i < parent->nchildren; i++) {
        const struct prof_node *n = &p->nodes[p->children[parent->first_child + i]];
        if (n->kind == PROF_NODE_THREAD && n->tid == tid)
            return n;
    }
    return NULL;
}

static inline const struct prof_site *func(const struct profile *p, const char *fn)
{
    for (size_t i = 0; i < p->nfuncs; i++)
        if (!strcmp(p->funcs[i].function, fn))
            return &p->funcs[i];
    return NULL;
}

static inline const struct prof_site *line_of(const struct profile *p, const char *fn, int line)
{
    for (size_t i = 0; i < p->nlines; i++)
        if (!strcmp(p->lines[i].function, fn) && p->lines[i].line == line)
            return &p->lines[i];
    return NULL;
}

#endif
