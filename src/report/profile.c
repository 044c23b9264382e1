/*
 * profile.c -- aggregate a capture's samples into the call tree and the
 * per-function and per-line tables of profile.h.
 *
 * One pass over the frames first: each frame id is mapped to its function
 * and its line (by content, so a frame recorded twice still lands on one
 * entry) and marked hidden or not.  Then one pass over the samples, and
 * one over the memory entries, each counted like a sample.  Many
 * samples repeat a stack, so the tree path of (thread root, stack id) is
 * resolved once and cached as its leaf node, and a stack's distinct
 * functions and lines are listed once: a sample then costs the number of
 * distinct functions on its stack, not its depth.  Node totals are summed
 * bottom-up at the end.
 */
#include "report/profile.h"
#include "util/kmap.h"
#include "report/location.h"

#include <stdlib.h>
#include <string.h>

/* ---- metrics ---- */

uint64_t prof_wait_ns(const struct prof_metrics *m)
{
    uint64_t w = 0;
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        w += m->wait_ns[k];
    return w;
}

uint64_t prof_metric_ns(const struct prof_metrics *m, enum prof_metric which)
{
    switch (which) {
    case PROF_WALL: return m->wall_ns;
    case PROF_CPU: return m->user_ns + m->sys_ns;
    case PROF_USER: return m->user_ns;
    case PROF_SYS: return m->sys_ns;
    case PROF_WAIT: return prof_wait_ns(m);
    case PROF_PEAK: return m->peak_bytes;
    case PROF_ALLOCATED: return m->alloc_bytes;
    case PROF_ALLOCATIONS: return m->alloc_count;
    case PROF_LEAKED: return m->leaked_bytes;
    case PROF_NMETRICS: break;
    }
    return 0;
}

enum prof_unit prof_metric_unit(enum prof_metric which)
{
    switch (which) {
    case PROF_PEAK: case PROF_ALLOCATED: case PROF_LEAKED: return PROF_UNIT_BYTES;
    case PROF_ALLOCATIONS: return PROF_UNIT_COUNT;
    default: return PROF_UNIT_NS;
    }
}

static const char *const metric_names[PROF_NMETRICS] = {
    "wall", "cpu", "user", "sys", "wait", "peak", "allocated", "allocations", "leaked",
};

const char *prof_metric_name(enum prof_metric which)
{
    return (unsigned)which < PROF_NMETRICS ? metric_names[which] : "?";
}

int prof_metric_parse(const char *s, enum prof_metric *out)
{
    for (int i = 0; i < PROF_NMETRICS; i++)
        if (!strcmp(s, metric_names[i])) {
            *out = (enum prof_metric)i;
            return 0;
        }
    return -1;
}

const char *prof_wait_name(int kind)
{
    static const char *const names[CAP_WAIT_KINDS] = { "io", "sleep", "lock", "gil", "other" };
    return kind >= 0 && kind < CAP_WAIT_KINDS ? names[kind] : "?";
}

char *prof_fmt_ns(char *buf, size_t len, uint64_t ns)
{
    snprintf(buf, len, "%.3fs", (double)ns / 1e9);
    return buf;
}

char *prof_fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    if (bytes < 1024) {
        snprintf(buf, len, "%u B", (unsigned)bytes);
        return buf;
    }
    double v = (double)bytes / 1024;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    /* three significant digits; a value that rounds up to the next
     * decade just gets one more digit ("1024 KiB"), which is still true */
    snprintf(buf, len, v < 9.995 ? "%.2f %s" : v < 99.95 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

char *prof_fmt_count(char *buf, size_t len, uint64_t n)
{
    char digits[24];
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    size_t at = 0;
    for (int i = 0; i < nd && at + 1 < len; i++) {
        if (i && (nd - i) % 3 == 0 && at + 2 < len)
            buf[at++] = ',';
        buf[at++] = digits[i];
    }
    if (len)
        buf[at < len ? at : len - 1] = '\0';
    return buf;
}

char *prof_fmt_metric(char *buf, size_t len, enum prof_metric which, uint64_t v)
{
    switch (prof_metric_unit(which)) {
    case PROF_UNIT_BYTES: return prof_fmt_bytes(buf, len, v);
    case PROF_UNIT_COUNT: return prof_fmt_count(buf, len, v);
    default: return prof_fmt_ns(buf, len, v);
    }
}

void prof_metrics_add(struct prof_metrics *m, const struct cap_sample *s)
{
    m->samples++;
    m->wall_ns += s->wall_ns;
    m->user_ns += s->user_ns;
    m->sys_ns += s->sys_ns;
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        m->wait_ns[k] += s->wait_ns[k];
}

void prof_metrics_add_mem(struct prof_metrics *m, const struct cap_mem_stack *s)
{
    m->alloc_bytes += s->alloc_bytes;
    m->alloc_count += s->alloc_count;
    m->peak_bytes += s->peak_bytes;
    m->leaked_bytes += s->leaked_bytes;
    m->temporary_count += s->temporary_count;
}

static void prof_metrics_sum(struct prof_metrics *m, const struct prof_metrics *add)
{
    m->samples += add->samples;
    m->wall_ns += add->wall_ns;
    m->user_ns += add->user_ns;
    m->sys_ns += add->sys_ns;
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        m->wait_ns[k] += add->wait_ns[k];
    m->alloc_bytes += add->alloc_bytes;
    m->alloc_count += add->alloc_count;
    m->peak_bytes += add->peak_bytes;
    m->leaked_bytes += add->leaked_bytes;
    m->temporary_count += add->temporary_count;
}

/* ---- capture look-ups ---- */

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

/* ---- building ---- */

/* Scratch state of one profile_build. */
struct builder {
    struct profile *p;
    const struct capture *c;
    uint32_t *canon;            /* string id -> first id with that text */
    uint32_t *frame_func;       /* frame id -> index into p->funcs */
    uint32_t *frame_line;       /* frame id -> index into p->lines */
    uint8_t *frame_hidden;      /* frame id -> a library frame */
    size_t nodes_cap;
    struct kmap node_map;       /* (parent, kind << 32 | key) -> node */
    struct kmap path_cache;     /* (thread root, stack) -> leaf node */
    uint32_t *path;             /* frame ids of one stack, root first */
    size_t path_cap;
    uint32_t *func_seen, *line_seen;    /* stamp of the stack last listed in */
    uint32_t stamp;
    struct kmap flat_cache;     /* stack -> offset of its lists in flat */
    uint32_t *flat;             /* per stack: n, functions..., n, lines... */
    size_t nflat, flat_cap;
};

static const char *string_at(const struct capture *c, uint32_t id)
{
    return id < c->nstrings && c->strings[id] ? c->strings[id] : NULL;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int canonicalise_strings(struct builder *b)
{
    const struct capture *c = b->c;
    struct kmap m = {0};
    b->canon = calloc(c->nstrings ? c->nstrings : 1, sizeof *b->canon);
    if (!b->canon)
        return -1;
    for (size_t id = 1; id < c->nstrings; id++) {
        const char *s = c->strings[id];
        b->canon[id] = (uint32_t)id;
        if (!s)
            continue;
        int isnew;
        uint32_t *first = kmap_put(&m, hash_str(s), strlen(s), (uint32_t)id, &isnew);
        if (!first) {
            kmap_free(&m);
            return -1;
        }
        /* a hash collision between different texts only loses a merge */
        if (!isnew && !strcmp(c->strings[*first], s))
            b->canon[id] = *first;
    }
    kmap_free(&m);
    return 0;
}

static int add_site(struct prof_site **v, size_t *n, size_t *cap, const struct cap_frame *f,
                    const char *function, const char *file, int32_t line)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct prof_site *nv = realloc(*v, ncap * sizeof *nv);
        if (!nv)
            return -1;
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = (struct prof_site){ .function = function, .file = file,
                                       .first_line = f->first_line, .line = line,
                                       .kind = f->kind };
    return 0;
}

static int map_frames(struct builder *b)
{
    const struct capture *c = b->c;
    struct profile *p = b->p;
    size_t nf = c->nframes ? c->nframes : 1, funcs_cap = 0, lines_cap = 0;
    struct kmap funcs = {0}, lines = {0};
    int rc = -1;

    b->frame_func = calloc(nf, sizeof *b->frame_func);
    b->frame_line = calloc(nf, sizeof *b->frame_line);
    b->frame_hidden = calloc(nf, 1);
    if (!b->frame_func || !b->frame_line || !b->frame_hidden)
        goto out;
    for (size_t id = 1; id < c->nframes; id++) {
        const struct cap_frame *f = &c->frames[id];
        uint32_t fn = f->function < c->nstrings ? b->canon[f->function] : 0;
        uint32_t file = f->file < c->nstrings ? b->canon[f->file] : 0;
        const char *fname = string_at(c, fn), *ffile = string_at(c, file);
        uint64_t a = (uint64_t)fn << 32 | file;
        int isnew;

        uint32_t *slot = kmap_put(&funcs, a, (uint32_t)f->first_line, (uint32_t)p->nfuncs, &isnew);
        if (!slot || (isnew && add_site(&p->funcs, &p->nfuncs, &funcs_cap, f,
                                        fname ? fname : "?", ffile ? ffile : "",
                                        f->first_line) < 0))
            goto out;
        b->frame_func[id] = *slot;

        slot = kmap_put(&lines, a, (uint64_t)(uint32_t)f->first_line << 32 | (uint32_t)f->line,
                        (uint32_t)p->nlines, &isnew);
        if (!slot || (isnew && add_site(&p->lines, &p->nlines, &lines_cap, f,
                                        fname ? fname : "?", ffile ? ffile : "",
                                        f->line) < 0))
            goto out;
        b->frame_line[id] = *slot;

        b->frame_hidden[id] = f->kind != CAP_FRAME_SYNTHETIC &&
                              loc_classify(ffile) != LOC_USER;
    }
    b->func_seen = calloc(p->nfuncs ? p->nfuncs : 1, sizeof *b->func_seen);
    b->line_seen = calloc(p->nlines ? p->nlines : 1, sizeof *b->line_seen);
    if (b->func_seen && b->line_seen)
        rc = 0;
out:
    kmap_free(&funcs);
    kmap_free(&lines);
    return rc;
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
    if (p->nnodes == b->nodes_cap) {
        size_t ncap = b->nodes_cap * 2;
        struct prof_node *nv = realloc(p->nodes, ncap * sizeof *nv);
        if (!nv)
            return UINT32_MAX;     /* the map entry stays, unused: build fails */
        p->nodes = nv;
        b->nodes_cap = ncap;
    }
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
    uint32_t cached = kmap_get(&b->path_cache, root, stack, UINT32_MAX);
    if (cached != UINT32_MAX)
        return cached;

    long depth = stack_path(b, stack);
    if (depth < 0)
        return UINT32_MAX;
    const uint32_t *site_of = p->opts.by_line ? b->frame_line : b->frame_func;
    uint32_t node = root;
    int shown = 0;              /* a frame has been put in the tree */
    for (long i = 0; i < depth && node != UINT32_MAX;) {
        uint32_t f = b->path[i];
        if (!f) {               /* unknown frame id: skip it */
            i++;
            continue;
        }
        if (!p->opts.collapse_libs || !b->frame_hidden[f]) {
            node = child_node(b, node, PROF_NODE_FRAME, site_of[f]);
            shown = 1;
            i++;
            continue;
        }
        long j = i;
        while (j < depth && (!b->path[j] || b->frame_hidden[b->path[j]]))
            j++;
        if (j == depth && shown)
            break;              /* leads nowhere shown: the caller's self time */
        node = child_node(b, node, PROF_NODE_GROUP, b->frame_func[f]);
        for (long k = i; k < j && node != UINT32_MAX; k++)
            if (b->path[k] && group_hide(&p->nodes[node], b->frame_func[b->path[k]]) < 0)
                node = UINT32_MAX;
        i = j;
    }
    if (node == UINT32_MAX)
        return UINT32_MAX;
    int isnew;
    if (!kmap_put(&b->path_cache, root, stack, node, &isnew))
        return UINT32_MAX;
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
 * with a time range the allocation intervals in it (see profile.h).  The
 * number of entries to try is mem_entries(). */
static size_t mem_entries(const struct profile *p)
{
    const struct capture *c = p->cap;
    if (!c->has_memory)
        return 0;
    return p->opts.has_range ? c->nmem_allocs : c->nmem;
}

static int mem_entry(const struct profile *p, size_t i, struct cap_mem_stack *m)
{
    const struct capture *c = p->cap;
    if (p->opts.has_range) {
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

static int flat_push(struct builder *b, uint32_t v)
{
    if (b->nflat == b->flat_cap) {
        size_t ncap = b->flat_cap ? b->flat_cap * 2 : 1024;
        uint32_t *nv = realloc(b->flat, ncap * sizeof *nv);
        if (!nv)
            return -1;
        b->flat = nv;
        b->flat_cap = ncap;
    }
    b->flat[b->nflat++] = v;
    return 0;
}

/* Append the distinct functions (lines) of stack, innermost first, after
 * their count; `of` maps frame ids to them. */
static int flat_list(struct builder *b, uint32_t stack, const uint32_t *of, uint32_t *seen)
{
    const struct capture *c = b->c;
    size_t at = b->nflat, steps = 0;
    if (flat_push(b, 0) < 0)
        return -1;
    for (uint32_t st = stack; st && st < c->nstacks && steps < c->nstacks;
         st = c->stacks[st].parent, steps++) {
        uint32_t f = c->stacks[st].frame;
        if (!f || f >= c->nframes || seen[of[f]] == b->stamp)
            continue;
        seen[of[f]] = b->stamp;
        if (flat_push(b, of[f]) < 0)
            return -1;
        b->flat[at]++;
    }
    return 0;
}

/* The per-function and per-line tables: the innermost frame's function
 * and line get self time, every distinct one on the stack total time.
 * A stack's distinct lists are made once, so deep recursion costs its
 * depth once per stack, not once per sample. */
static int add_flat(struct builder *b, uint32_t stack, const struct prof_metrics *m)
{
    struct profile *p = b->p;
    uint32_t at = kmap_get(&b->flat_cache, stack, 0, UINT32_MAX);
    if (at == UINT32_MAX) {
        int isnew;
        at = (uint32_t)b->nflat;
        b->stamp++;
        if (flat_list(b, stack, b->frame_func, b->func_seen) < 0 ||
            flat_list(b, stack, b->frame_line, b->line_seen) < 0 ||
            !kmap_put(&b->flat_cache, stack, 0, at, &isnew))
            return -1;
    }
    const uint32_t *funcs = &b->flat[at], *lines = funcs + 1 + funcs[0];
    for (uint32_t i = 0; i < funcs[0]; i++) {
        if (i == 0)
            prof_metrics_sum(&p->funcs[funcs[1]].self, m);
        prof_metrics_sum(&p->funcs[funcs[1 + i]].total, m);
    }
    for (uint32_t i = 0; i < lines[0]; i++) {
        if (i == 0)
            prof_metrics_sum(&p->lines[lines[1]].self, m);
        prof_metrics_sum(&p->lines[lines[1 + i]].total, m);
    }
    return 0;
}

/* Count m (one sample's, or one memory entry's) for (pid, tid, stack):
 * the whole, the tree leaf's self, the flat tables. */
static int add_metrics(struct builder *b, int32_t pid, int32_t tid, uint32_t stack,
                       const struct prof_metrics *m)
{
    struct profile *p = b->p;
    if (stack >= b->c->nstacks)
        stack = 0;
    uint32_t root = thread_root(b, pid, tid);
    uint32_t leaf = root == UINT32_MAX ? root : resolve_path(b, root, stack);
    if (leaf == UINT32_MAX)
        return -1;
    prof_metrics_sum(&p->total, m);
    prof_metrics_sum(&p->nodes[leaf].self, m);
    return add_flat(b, stack, m);
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

static void builder_free(struct builder *b)
{
    free(b->canon);
    free(b->frame_func);
    free(b->frame_line);
    free(b->frame_hidden);
    kmap_free(&b->node_map);
    kmap_free(&b->path_cache);
    free(b->path);
    free(b->func_seen);
    free(b->line_seen);
    kmap_free(&b->flat_cache);
    free(b->flat);
}

int profile_build(struct profile *p, const struct capture *c, const struct profile_opts *o)
{
    memset(p, 0, sizeof *p);
    p->cap = c;
    if (o)
        p->opts = *o;
    struct builder b = { .p = p, .c = c, .nodes_cap = 64 };
    p->nodes = calloc(b.nodes_cap, sizeof *p->nodes);
    p->nnodes = 1;              /* the root, all zero */
    if (!p->nodes || canonicalise_strings(&b) < 0 || map_frames(&b) < 0 ||
        count_processes(p) < 0)
        goto fail;

    int first = 1;
    for (size_t i = 0; i < c->nsamples; i++) {
        const struct cap_sample *s = &c->samples[i];
        if (!wanted(&p->opts, s))
            continue;
        struct prof_metrics one = {0};
        prof_metrics_add(&one, s);
        if (add_metrics(&b, s->pid, s->tid, s->stack, &one) < 0)
            goto fail;
        if (first || s->t_ns < p->t_first_ns)
            p->t_first_ns = s->t_ns;
        if (first || s->t_ns > p->t_last_ns)
            p->t_last_ns = s->t_ns;
        first = 0;
    }
    /* memory after the samples, so the time tree's nodes keep their order */
    for (size_t i = 0; i < mem_entries(p); i++) {
        struct cap_mem_stack m;
        struct prof_metrics one = {0};
        if (!mem_entry(p, i, &m))
            continue;
        prof_metrics_add_mem(&one, &m);
        if (add_metrics(&b, m.pid, m.tid, m.stack, &one) < 0)
            goto fail;
    }
    /* totals bottom-up, once: a node's index is above its parent's */
    for (size_t i = p->nnodes; i-- > 0;) {
        struct prof_node *n = &p->nodes[i];
        prof_metrics_sum(&n->total, &n->self);
        if (i)
            prof_metrics_sum(&p->nodes[n->parent].total, &n->total);
    }
    if (link_children(p) < 0)
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
