/*
 * profile.c -- build the report model of profile.h from a capture.
 *
 * Frame identity first (frames.c): each frame id is mapped to its
 * function and its line and marked hidden or not.  Then one pass over the
 * samples, and one over the memory entries, each counted like a sample.
 * Many samples repeat a (thread, stack), so its row is made once, with
 * its thread, its tree leaf and its stack's distinct functions and lines
 * (listed once per stack): a sample then costs one look-up and the
 * number of distinct functions on its stack, not its depth.  Node totals are summed bottom-up at the end.
 */
#include "model/profile.h"
#include "model/calls.h"
#include "model/frames.h"
#include "model/tasks.h"
#include "util/array.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

uint64_t prof_value(const struct prof_metrics *m, int metric)
{
    if (metric == PROF_SAMPLES)
        return m->samples;
    return prof_metric_ns(m, (enum prof_metric)metric);
}

/* Scratch state of one profile_build. */
struct builder {
    struct profile *p;
    const struct capture *c;
    size_t nodes_cap, threads_cap, rows_cap, row_flat_cap;
    struct kmap node_map;       /* (parent, kind << 32 | key) -> node */
    uint32_t *row_flat;         /* row -> offset of its stack's lists in flat */
    uint32_t *path;             /* frame ids of one stack, root first */
    size_t path_cap;
    uint32_t *func_seen, *line_seen;    /* stamp of the stack last listed in */
    uint32_t stamp;
    struct kmap flat_cache;     /* stack -> offset of its lists in flat */
    uint32_t *flat;             /* per stack: n, functions..., n, lines... */
    size_t nflat, flat_cap;
    int split_exact;            /* every sample counted had wall = user + sys + waits */
};

static uint64_t who(int32_t pid, int32_t tid)
{
    return (uint64_t)(uint32_t)pid << 32 | (uint32_t)tid;
}

/* The child of `parent` with this kind and key, created if new; or
 * UINT32_MAX when out of memory. */
static uint32_t child_node(struct builder *b, uint32_t parent, enum prof_node_kind kind,
                           uint32_t key)
{
    struct profile *p = b->p;
    int isnew;
    uint32_t *slot = kmap_put(&b->node_map, parent, (uint64_t)kind << 32 | key,
                              (uint32_t)p->nnodes, &isnew);
    if (!slot)
        return UINT32_MAX;
    if (!isnew)
        return *slot;
    /* the map entry stays, unused, if this fails: the build fails anyway */
    if (ARRAY_RESERVE(p->nodes, p->nnodes, b->nodes_cap) < 0)
        return UINT32_MAX;
    struct prof_node *n = &p->nodes[p->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->parent = parent;
    n->pid = p->nodes[parent].pid;
    n->tid = p->nodes[parent].tid;
    if (kind == PROF_NODE_PROCESS)
        n->pid = (int32_t)key;
    else if (kind == PROF_NODE_THREAD)
        n->tid = (int32_t)key;
    else
        n->site = key;
    return (uint32_t)p->nnodes++;
}

static int group_hide(struct prof_node *g, uint32_t func)
{
    for (uint32_t i = 0; i < g->nhidden; i++)
        if (g->hidden[i] == func)
            return 0;
    if (g->nhidden == g->hidden_cap) {
        uint32_t ncap = g->hidden_cap ? g->hidden_cap * 2 : 4;
        uint32_t *nv = realloc(g->hidden, ncap * sizeof *nv);
        if (!nv)
            return -1;
        g->hidden = nv;
        g->hidden_cap = ncap;
    }
    g->hidden[g->nhidden++] = func;
    return 0;
}

/* Frame ids of `stack`, root first, into b->path; their number, or -1. */
static long stack_path(struct builder *b, uint32_t stack)
{
    const struct capture *c = b->c;
    size_t depth = 0;
    /* parents precede children in a valid capture; the bound is for
     * safety against a loop all the same */
    for (uint32_t s = stack; s && s < c->nstacks && depth < c->nstacks; s = c->stacks[s].parent)
        depth++;
    if (depth > b->path_cap) {
        uint32_t *nv = realloc(b->path, depth * sizeof *nv);
        if (!nv)
            return -1;
        b->path = nv;
        b->path_cap = depth;
    }
    size_t i = depth;
    for (uint32_t s = stack; i > 0; s = c->stacks[s].parent) {
        uint32_t f = c->stacks[s].frame;
        b->path[--i] = f < c->nframes ? f : 0;
    }
    return (long)depth;
}

/* The leaf node of stack under the thread root `root`, creating the path. */
static uint32_t resolve_path(struct builder *b, uint32_t root, uint32_t stack)
{
    struct profile *p = b->p;
    long depth = stack_path(b, stack);
    if (depth < 0)
        return UINT32_MAX;
    const uint32_t *site_of = p->opts.by_line ? p->line_of : p->func_of;
    const uint8_t *hidden = p->hidden;
    uint32_t node = root;
    int shown = 0;              /* a frame has been put in the tree */
    for (long i = 0; i < depth && node != UINT32_MAX;) {
        uint32_t f = b->path[i];
        if (!f) {               /* unknown frame id: skip it */
            i++;
            continue;
        }
        if (!p->opts.collapse_libs || !hidden[f]) {
            const struct prof_node *at = &p->nodes[node];
            uint32_t site = i ? site_of[f]
                              : prof_root_site(p, f, depth > 1 ? b->path[1] : 0, p->opts.by_line);
            /* direct recursion folded: the caller's node is the callee's */
            if (!(p->opts.fold_recursion && at->kind == PROF_NODE_FRAME && at->site == site))
                node = child_node(b, node, PROF_NODE_FRAME, site);
            shown = 1;
            i++;
            continue;
        }
        long j = i;
        while (j < depth && (!b->path[j] || hidden[b->path[j]]))
            j++;
        if (j == depth && shown)
            break;              /* leads nowhere shown: the caller's self time */
        node = child_node(b, node, PROF_NODE_GROUP, p->func_of[f]);
        for (long k = i; k < j && node != UINT32_MAX; k++)
            if (b->path[k] && group_hide(&p->nodes[node], p->func_of[b->path[k]]) < 0)
                node = UINT32_MAX;
        i = j;
    }
    return node;
}

static int wanted_in_range(const struct profile_opts *o, uint64_t t_ns)
{
    return !o->has_range || (t_ns >= o->t0_ns && t_ns < o->t1_ns);
}

static int wanted_thread(const struct profile_opts *o, int32_t pid, int32_t tid)
{
    return (!o->pid || pid == o->pid) && (!o->tid || tid == o->tid);
}

static int wanted(const struct profile_opts *o, const struct cap_sample *s)
{
    return wanted_in_range(o, s->t_ns) && wanted_thread(o, s->pid, s->tid);
}

/* Memory entry i into *m, if it counts: the stack's whole-run metrics, or
 * with a time range the allocation intervals in it, then, if the range
 * has no end, what each stack holds now (see profile.h).  The number of
 * entries to try is mem_entries(). */
static size_t mem_entries(const struct profile *p)
{
    const struct capture *c = p->cap;
    if (!c->has_memory)
        return 0;
    if (!p->opts.has_range)
        return c->nmem;
    return c->nmem_allocs + (p->opts.t1_ns == UINT64_MAX ? c->nmem : 0);
}

static int mem_entry(const struct profile *p, size_t i, struct cap_mem_stack *m)
{
    const struct capture *c = p->cap;
    if (p->opts.has_range && i >= c->nmem_allocs) {
        const struct cap_mem_stack *s = &c->mem[i - c->nmem_allocs];
        if (!s->live_bytes)
            return 0;
        *m = (struct cap_mem_stack){ .pid = s->pid, .tid = s->tid, .stack = s->stack,
                                     .live_bytes = s->live_bytes };
    } else if (p->opts.has_range) {
        const struct cap_mem_interval *a = &c->mem_allocs[i];
        if (!wanted_in_range(&p->opts, a->t_ns))
            return 0;
        *m = (struct cap_mem_stack){ .pid = a->pid, .tid = a->tid, .stack = a->stack,
                                     .alloc_bytes = a->bytes, .alloc_count = a->count };
    } else {
        *m = c->mem[i];
    }
    return wanted_thread(&p->opts, m->pid, m->tid);
}

static int count_processes(struct profile *p)
{
    struct kmap pids = {0};
    const struct capture *c = p->cap;
    struct cap_mem_stack m;
    int isnew, rc = -1;
    for (size_t i = 0; i < c->nsamples; i++)
        if (wanted(&p->opts, &c->samples[i]) &&
            !kmap_put(&pids, (uint32_t)c->samples[i].pid, 0, 0, &isnew))
            goto out;
    for (size_t i = 0; i < mem_entries(p); i++)
        if (mem_entry(p, i, &m) && !kmap_put(&pids, (uint32_t)m.pid, 0, 0, &isnew))
            goto out;
    p->nprocesses = (int)pids.n;
    rc = 0;
out:
    kmap_free(&pids);
    return rc;
}

/* The node a thread's stacks hang from: its thread, or the root. */
static uint32_t thread_root(struct builder *b, int32_t pid, int32_t tid)
{
    struct profile *p = b->p;
    if (p->opts.merge_threads)
        return 0;
    uint32_t parent = 0;
    if (p->nprocesses > 1)
        parent = child_node(b, 0, PROF_NODE_PROCESS, (uint32_t)pid);
    if (parent == UINT32_MAX)
        return UINT32_MAX;
    /* a tid is only unique within its process: under its process node,
     * or alone in the only process */
    uint32_t t = child_node(b, parent, PROF_NODE_THREAD, (uint32_t)tid);
    if (t != UINT32_MAX)
        p->nodes[t].pid = pid;
    return t;
}

/* The index of thread (pid, tid) in p->threads, added if new; or -1. */
static long thread_of(struct builder *b, int32_t pid, int32_t tid)
{
    struct profile *p = b->p;
    int isnew;
    uint32_t *slot = kmap_put(&p->thread_index, who(pid, tid), 0, (uint32_t)p->nthreads, &isnew);
    if (!slot)
        return -1;
    if (isnew) {
        if (ARRAY_RESERVE(p->threads, p->nthreads, b->threads_cap) < 0)
            return -1;
        p->threads[p->nthreads++] = (struct prof_thread){ .pid = pid, .tid = tid,
                                                          .root = UINT32_MAX };
    }
    return (long)*slot;
}

static int flat_push(struct builder *b, uint32_t v)
{
    if (ARRAY_RESERVE(b->flat, b->nflat, b->flat_cap) < 0)
        return -1;
    b->flat[b->nflat++] = v;
    return 0;
}

/* Append the distinct functions (lines) of stack, innermost first, after
 * their count; `of` maps frame ids to them. */
static int flat_list(struct builder *b, uint32_t stack, const uint32_t *of, uint32_t *seen)
{
    const struct capture *c = b->c;
    size_t at = b->nflat, steps = 0;
    uint32_t callee = 0;
    if (flat_push(b, 0) < 0)
        return -1;
    for (uint32_t st = stack; st && st < c->nstacks && steps < c->nstacks;
         st = c->stacks[st].parent, steps++) {
        uint32_t f = c->stacks[st].frame;
        if (!f || f >= c->nframes)
            continue;
        uint32_t site = c->stacks[st].parent
                            ? of[f]
                            : prof_root_site(b->p, f, callee, of == b->p->line_of);
        callee = f;
        if (seen[site] == b->stamp)
            continue;
        seen[site] = b->stamp;
        if (flat_push(b, site) < 0)
            return -1;
        b->flat[at]++;
    }
    return 0;
}

/* m to the sites of a list (n, then the sites, innermost first): the
 * innermost's self, every one's total. */
static void add_listed(struct prof_site *sites, const uint32_t *list,
                       const struct prof_metrics *m)
{
    for (uint32_t i = 0; i < list[0]; i++) {
        if (i == 0)
            prof_metrics_sum(&sites[list[1]].self, m);
        prof_metrics_sum(&sites[list[1 + i]].total, m);
    }
}

/* The offset in flat of stack's distinct functions and lines, listed on
 * first use; or UINT32_MAX.  A stack's lists are made once, so deep
 * recursion costs its depth once per stack, not once per sample. */
static uint32_t flat_of(struct builder *b, uint32_t stack)
{
    struct profile *p = b->p;
    uint32_t at = kmap_get(&b->flat_cache, stack, 0, UINT32_MAX);
    if (at == UINT32_MAX) {
        int isnew;
        at = (uint32_t)b->nflat;
        b->stamp++;
        if (flat_list(b, stack, p->func_of, b->func_seen) < 0 ||
            flat_list(b, stack, p->line_of, b->line_seen) < 0 ||
            !kmap_put(&b->flat_cache, stack, 0, at, &isnew))
            return UINT32_MAX;
    }
    return at;
}

/* The row of (pid, tid, stack), made with its thread, leaf and lists if
 * new; its index, or -1. */
static long row_of(struct builder *b, int32_t pid, int32_t tid, uint32_t stack)
{
    struct profile *p = b->p;
    int isnew;
    uint32_t *slot = kmap_put(&p->row_index, who(pid, tid), stack, (uint32_t)p->nrows, &isnew);
    if (!slot)
        return -1;
    if (!isnew)
        return (long)*slot;
    long k = thread_of(b, pid, tid);
    uint32_t s = stack < b->c->nstacks ? stack : 0, root = 0, leaf = 0, flat = 0;
    if (k < 0)
        return -1;
    if (!(p->opts.skip & PROF_NO_TREE)) {
        root = thread_root(b, pid, tid);
        leaf = root == UINT32_MAX ? root : resolve_path(b, root, s);
    }
    if (!(p->opts.skip & PROF_NO_TABLES) && leaf != UINT32_MAX)
        flat = flat_of(b, s);
    if (leaf == UINT32_MAX || flat == UINT32_MAX || ARRAY_RESERVE(p->rows, p->nrows, b->rows_cap) < 0 ||
        ARRAY_RESERVE(b->row_flat, p->nrows, b->row_flat_cap) < 0)
        return -1;
    p->threads[k].root = root;
    b->row_flat[p->nrows] = flat;
    p->rows[p->nrows] = (struct prof_row){ .pid = pid, .tid = tid, .stack = stack,
                                           .thread = (uint32_t)k, .leaf = leaf };
    return (long)p->nrows++;
}

/* Count m (one sample's, or one memory entry's) for (pid, tid, stack):
 * the row, the whole, the tree leaf's self, and the flat tables (the
 * innermost frame's function and line get self, every distinct one on
 * the stack total).  The row's index, or -1. */
static long add_metrics(struct builder *b, int32_t pid, int32_t tid, uint32_t stack,
                        const struct prof_metrics *m)
{
    struct profile *p = b->p;
    long r = row_of(b, pid, tid, stack);
    if (r < 0)
        return -1;
    struct prof_row *row = &p->rows[r];
    prof_metrics_sum(&row->m, m);
    prof_metrics_sum(&p->total, m);
    if (!(p->opts.skip & PROF_NO_TREE))
        prof_metrics_sum(&p->nodes[row->leaf].self, m);
    if (p->opts.skip & PROF_NO_TABLES)
        return r;
    const uint32_t *funcs = &b->flat[b->row_flat[r]], *lines = funcs + 1 + funcs[0];
    add_listed(p->funcs, funcs, m);
    add_listed(p->lines, lines, m);
    return r;
}

/* Group the nodes' indices by parent into p->children. */
static int link_children(struct profile *p)
{
    p->children = calloc(p->nnodes, sizeof *p->children);
    if (!p->children)
        return -1;
    for (size_t i = 1; i < p->nnodes; i++)
        p->nodes[p->nodes[i].parent].nchildren++;
    uint32_t at = 0;
    for (size_t i = 0; i < p->nnodes; i++) {
        p->nodes[i].first_child = at;
        at += p->nodes[i].nchildren;
        p->nodes[i].nchildren = 0;
    }
    for (size_t i = 1; i < p->nnodes; i++) {
        struct prof_node *parent = &p->nodes[p->nodes[i].parent];
        p->children[parent->first_child + parent->nchildren++] = (uint32_t)i;
    }
    return 0;
}

/* Each thread's samples in time (= capture) order, and its name. */
static int order_samples(struct profile *p)
{
    const struct capture *c = p->cap;
    p->sample_order = malloc((c->nsamples ? c->nsamples : 1) * sizeof *p->sample_order);
    if (!p->sample_order)
        return -1;
    size_t at = 0;
    for (size_t k = 0; k < p->nthreads; k++) {
        p->threads[k].first = at;
        at += p->threads[k].nsamples;
        p->threads[k].nsamples = 0;
    }
    for (size_t i = 0; i < c->nsamples; i++) {
        if (p->sample_row[i] == UINT32_MAX)
            continue;           /* not counted */
        struct prof_thread *t = &p->threads[p->rows[p->sample_row[i]].thread];
        p->sample_order[t->first + t->nsamples++] = (uint32_t)i;
    }
    /* a thread renamed later keeps its latest name */
    for (size_t i = 0; i < c->nthreads; i++) {
        uint32_t k = kmap_get(&p->thread_index, who(c->threads[i].pid, c->threads[i].tid), 0,
                              UINT32_MAX);
        if (k != UINT32_MAX && c->threads[i].name)
            p->threads[k].name = c->threads[i].name;
    }
    return 0;
}

static void builder_free(struct builder *b)
{
    kmap_free(&b->node_map);
    free(b->row_flat);
    free(b->path);
    free(b->func_seen);
    free(b->line_seen);
    kmap_free(&b->flat_cache);
    free(b->flat);
}

static int split_adds_up(const struct prof_metrics *m)
{
    return m->wall_ns == m->user_ns + m->sys_ns + prof_wait_ns(m);
}

/* The samples: each counted, and its thread's sample count. */
static int add_samples(struct builder *b)
{
    struct profile *p = b->p;
    const struct capture *c = b->c;
    int first = 1;
    p->sample_row = malloc((c->nsamples ? c->nsamples : 1) * sizeof *p->sample_row);
    if (!p->sample_row)
        return -1;
    for (size_t i = 0; i < c->nsamples; i++) {
        const struct cap_sample *s = &c->samples[i];
        p->sample_row[i] = UINT32_MAX;
        if (!wanted(&p->opts, s))
            continue;
        struct prof_metrics one = {0};
        prof_metrics_add(&one, s);
        /* the sampler keeps the split exact; a file from elsewhere may not */
        b->split_exact &= split_adds_up(&one);
        long r = add_metrics(b, s->pid, s->tid, s->stack, &one);
        if (r < 0)
            return -1;
        p->sample_row[i] = (uint32_t)r;
        p->threads[p->rows[r].thread].nsamples++;
        if (first || s->t_ns < p->t_first_ns)
            p->t_first_ns = s->t_ns;
        if (first || s->t_ns > p->t_last_ns)
            p->t_last_ns = s->t_ns;
        first = 0;
    }
    return 0;
}

/* The memory entries, after the samples so that the time tree's nodes
 * keep their order; then the threads only the allocation intervals name. */
static int add_memory(struct builder *b)
{
    struct profile *p = b->p;
    const struct capture *c = b->c;
    for (size_t i = 0; i < mem_entries(p); i++) {
        struct cap_mem_stack m;
        struct prof_metrics one = {0};
        if (!mem_entry(p, i, &m))
            continue;
        prof_metrics_add_mem(&one, &m);
        if (add_metrics(b, m.pid, m.tid, m.stack, &one) < 0)
            return -1;
    }
    for (size_t i = 0; c->has_memory && !p->opts.has_range && i < c->nmem_allocs; i++)
        if (wanted_thread(&p->opts, c->mem_allocs[i].pid, c->mem_allocs[i].tid) &&
            thread_of(b, c->mem_allocs[i].pid, c->mem_allocs[i].tid) < 0)
            return -1;
    return 0;
}

/* Node totals bottom-up, once: a node's index is above its parent's. */
static void sum_totals(struct builder *b)
{
    struct profile *p = b->p;
    for (size_t i = p->nnodes; i-- > 0;) {
        struct prof_node *n = &p->nodes[i];
        assert(i == 0 || n->parent < i);
        prof_metrics_sum(&n->total, &n->self);
        if (i)
            prof_metrics_sum(&p->nodes[n->parent].total, &n->total);
        assert(!b->split_exact || split_adds_up(&n->total));
    }
    /* the tree holds everything counted, once */
    assert((p->opts.skip & PROF_NO_TREE) || p->nodes[0].total.samples == p->total.samples);
    assert((p->opts.skip & PROF_NO_TREE) || p->nodes[0].total.wall_ns == p->total.wall_ns);
}

int profile_build(struct profile *p, const struct capture *c, const struct profile_opts *o)
{
    memset(p, 0, sizeof *p);
    p->cap = c;
    if (o)
        p->opts = *o;
    struct builder b = { .p = p, .c = c, .split_exact = 1 };
    if (ARRAY_RESERVE(p->nodes, 0, b.nodes_cap) < 0)
        goto fail;
    memset(&p->nodes[0], 0, sizeof p->nodes[0]);
    p->nnodes = 1;              /* the root, all zero */
    if (prof_frames_build(p) < 0 || prof_tasks_build(p) < 0 || count_processes(p) < 0 ||
        prof_calls_build(p) < 0)
        goto fail;
    b.func_seen = calloc(p->nfuncs, sizeof *b.func_seen);
    b.line_seen = calloc(p->nlines ? p->nlines : 1, sizeof *b.line_seen);
    if (!b.func_seen || !b.line_seen || add_samples(&b) < 0 || add_memory(&b) < 0)
        goto fail;
    sum_totals(&b);
    if (link_children(p) < 0 || order_samples(p) < 0)
        goto fail;
    builder_free(&b);
    return 0;
fail:
    builder_free(&b);
    profile_free(p);
    return -1;
}

void profile_free(struct profile *p)
{
    for (size_t i = 0; i < p->nnodes; i++)
        free(p->nodes[i].hidden);
    free(p->nodes);
    free(p->children);
    free(p->funcs);
    free(p->lines);
    free(p->func_of);
    free(p->line_of);
    free(p->hidden);
    free(p->threads);
    kmap_free(&p->thread_index);
    free(p->sample_order);
    free(p->sample_row);
    free(p->rows);
    kmap_free(&p->row_index);
    free(p->call_edges);
    free(p->task_frame);
    kmap_free(&p->task_merged);
    for (size_t i = 0; i < p->ntask_names; i++)
        free(p->task_names[i]);
    free(p->task_names);
    kmap_free(&p->call_edge_index);
    memset(p, 0, sizeof *p);
}

const struct prof_site *prof_node_site(const struct profile *p, const struct prof_node *n)
{
    if (n->kind == PROF_NODE_GROUP)
        return n->site < p->nfuncs ? &p->funcs[n->site] : NULL;
    if (n->kind != PROF_NODE_FRAME)
        return NULL;
    if (p->opts.by_line)
        return n->site < p->nlines ? &p->lines[n->site] : NULL;
    return n->site < p->nfuncs ? &p->funcs[n->site] : NULL;
}

const struct prof_row *prof_row_of(const struct profile *p, int32_t pid, int32_t tid,
                                   uint32_t stack)
{
    uint32_t r = kmap_get(&p->row_index, who(pid, tid), stack, UINT32_MAX);
    return r == UINT32_MAX ? NULL : &p->rows[r];
}

size_t prof_stack_funcs(const struct profile *p, uint32_t stack, uint32_t *buf)
{
    const struct capture *c = p->cap;
    size_t n = 0;
    uint32_t callee = 0;
    for (uint32_t s = stack; s && s < c->nstacks && n < c->nstacks; s = c->stacks[s].parent) {
        uint32_t fr = c->stacks[s].frame;
        if (fr && fr < c->nframes) {
            buf[n++] = c->stacks[s].parent ? p->func_of[fr] : prof_root_site(p, fr, callee, 0);
            callee = fr;
        }
    }
    if (!n) {
        buf[0] = p->none_func;
        return 1;
    }
    for (size_t i = 0, j = n - 1; i < j; i++, j--) {
        uint32_t t = buf[i];
        buf[i] = buf[j];
        buf[j] = t;
    }
    return n;
}
