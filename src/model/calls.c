/* calls.c -- exact call counts into the report model (calls.h). */
#include "model/calls.h"
#include "util/array.h"

#include <stdlib.h>

static void add(struct prof_calls *to, const struct cap_call *c)
{
    to->calls += c->calls;
    to->primitive_calls += c->primitive_calls;
    to->cum_ns += c->cum_ns;
    to->own_ns += c->own_ns;
}

int prof_calls_build(struct profile *p)
{
    const struct capture *c = p->cap;
    struct kmap *index = &p->call_edge_index;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < c->ncalls && rc == 0; i++) {
        const struct cap_call *k = &c->calls[i];
        if (p->opts.pid && k->pid != p->opts.pid)
            continue;
        p->has_calls = 1;
        uint32_t callee = p->func_of[k->callee];
        if (!k->caller) {
            add(&p->funcs[callee].calls, k);
            continue;
        }
        uint32_t caller = p->func_of[k->caller];
        int isnew;
        uint32_t *slot = kmap_put(index, caller, callee, (uint32_t)p->ncall_edges, &isnew);
        if (!slot || (isnew && ARRAY_RESERVE(p->call_edges, p->ncall_edges, cap) < 0)) {
            rc = -1;
            break;
        }
        if (isnew)
            p->call_edges[p->ncall_edges++] = (struct prof_call_edge){ caller, callee, { 0 } };
        add(&p->call_edges[*slot].c, k);
    }
    return rc;
}

const struct prof_calls *prof_call_edge(const struct profile *p, uint32_t caller,
                                        uint32_t callee)
{
    uint32_t i = kmap_get(&p->call_edge_index, caller, callee, UINT32_MAX);
    return i == UINT32_MAX ? NULL : &p->call_edges[i].c;
}
