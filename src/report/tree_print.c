/*
 * tree_print.c -- print a profile's call tree as indented text (see
 * tree_print.h).
 *
 * The walk is iterative (an explicit stack of levels) because Python stacks
 * can be thousands of frames deep, and the guide prefix ("│  ├─ ") is one
 * buffer grown and cut as the walk goes down and up.
 *
 * A memory metric (peak, allocated, ...) prints the same tree with bytes
 * or counts in place of seconds; the memory summary after `stetho run`
 * (report_memory_headline) is here too, as it speaks the same language.
 */
#include "report/tree_print.h"
#include "model/calls.h"
#include "model/location.h"
#include "model/places.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ANSI_RESET "\033[0m"
#define ANSI_DIM "\033[2m"
#define ANSI_BOLD "\033[1m"

void tree_opts_init(struct tree_opts *o)
{
    memset(o, 0, sizeof *o);
    o->metric = PROF_WALL;
    o->min_percent = 1.0;
}

/* One line to print below a node: a child, or the node's own [self] time. */
struct entry {
    uint32_t node;
    int is_self;
    uint64_t value;             /* the chosen metric: ns, bytes or a count */
};

/* One level of the walk: the entries under one printed node. */
struct level {
    struct entry *v;
    size_t n, next;
    size_t prefix_len;          /* the prefix length for this level's lines */
};

struct printer {
    const struct profile *p;
    const struct tree_opts *o;
    FILE *out;
    uint64_t whole;             /* the metric over every sample */
    uint64_t cutoff;            /* lines below this are left out */
    char cwd[PATH_MAX];
    char *prefix;
    size_t prefix_len, prefix_cap;
};


static const char *pct_color(double pct)
{
    if (pct >= 50)
        return "\033[31m";      /* red */
    if (pct >= 20)
        return "\033[33m";      /* yellow */
    if (pct >= 5)
        return "\033[32m";      /* green */
    return "\033[2;32m";        /* dim green */
}

static const char *color(const struct printer *pr, const char *code)
{
    return pr->o->color ? code : "";
}

/* "[12.3 MiB in 1,234 allocations, peak 1.00 MiB, leaked 0 B]"; peak
 * and leaked are whole-run moments, so a time range leaves them out */
static void print_memory_split(struct printer *pr, const struct prof_metrics *m)
{
    char b[PROF_FMT_LEN], n[PROF_FMT_LEN];
    fprintf(pr->out, "  %s[%s in %s allocation%s", color(pr, ANSI_DIM),
            prof_fmt_bytes(b, sizeof b, m->alloc_bytes), prof_fmt_count(n, sizeof n, m->alloc_count),
            m->alloc_count == 1 ? "" : "s");
    if (!pr->p->opts.has_range) {
        fprintf(pr->out, ", peak %s", prof_fmt_bytes(b, sizeof b, m->peak_bytes));
        fprintf(pr->out, ", leaked %s", prof_fmt_bytes(b, sizeof b, m->leaked_bytes));
    }
    fprintf(pr->out, "]%s", color(pr, ANSI_RESET));
}

/* "[user 1.10 sys 0.02 wait 0.11 (io 0.10 lock 0.01)]" */
static void print_split(struct printer *pr, const struct prof_metrics *m)
{
    FILE *f = pr->out;
    if (prof_metric_unit(pr->o->metric) != PROF_UNIT_NS) {
        print_memory_split(pr, m);
        return;
    }
    fprintf(f, "  %s[user %.2f sys %.2f wait %.2f", color(pr, ANSI_DIM),
            prof_secs(m->user_ns), prof_secs(m->sys_ns), prof_secs(prof_wait_ns(m)));
    int open = 0;
    for (int k = 0; k < CAP_WAIT_KINDS; k++) {
        if (m->wait_ns[k] < 5000000)    /* would print as 0.00 */
            continue;
        fprintf(f, "%s%s %.2f", open ? " " : " (", prof_wait_name(k), prof_secs(m->wait_ns[k]));
        open = 1;
    }
    fprintf(f, "%s]%s", open ? ")" : "", color(pr, ANSI_RESET));
}

static void print_location(struct printer *pr, const struct prof_site *s)
{
    if (!s->file[0])
        return;
    fprintf(pr->out, "  %s%s", color(pr, ANSI_DIM), loc_short(s->file, pr->cwd));
    if (s->line > 0)
        fprintf(pr->out, ":%d", (int)s->line);
    fputs(color(pr, ANSI_RESET), pr->out);
}

/* "12/3" as cProfile's ncalls: all calls, then primitive ones if fewer. */
static void print_ncalls(FILE *f, const struct prof_calls *k)
{
    fprintf(f, "%llu", (unsigned long long)k->calls);
    if (k->primitive_calls != k->calls)
        fprintf(f, "/%llu", (unsigned long long)k->primitive_calls);
}

/* A capture of `run --calls`: "[37 calls, 12 from w_parent]" -- the
 * function's exact count over the whole capture and, under a caller's node,
 * that caller -> callee edge's.  Not this node's own: the capture counts
 * per function and per edge, and a node is one path of many to it. */
static void print_calls(struct printer *pr, const struct prof_node *n)
{
    const struct profile *p = pr->p;
    const struct prof_site *s = n->kind == PROF_NODE_FRAME ? prof_node_site(p, n) : NULL;
    if (!p->has_calls || !s || !p->funcs[s->func].calls.calls)
        return;
    FILE *f = pr->out;
    fprintf(f, "  %s[", color(pr, ANSI_DIM));
    print_ncalls(f, &p->funcs[s->func].calls);
    fputs(p->funcs[s->func].calls.calls == 1 ? " call" : " calls", f);
    const struct prof_node *up = &p->nodes[n->parent];
    const struct prof_site *ps = up->kind == PROF_NODE_FRAME ? prof_node_site(p, up) : NULL;
    const struct prof_calls *e = ps ? prof_call_edge(p, ps->func, s->func) : NULL;
    if (e && e->calls) {
        fputs(", ", f);
        print_ncalls(f, e);
        fprintf(f, " from %s", p->funcs[ps->func].function);
    }
    fprintf(f, "]%s", color(pr, ANSI_RESET));
}

static void print_argv(FILE *f, const struct cap_process *proc, size_t max)
{
    size_t used = 0;
    int i = 0;
    for (; i < proc->argc && used < max; i++) {
        const char *a = proc->argv[i] ? proc->argv[i] : "";
        int quote = !a[0] || strpbrk(a, " \t\n'\"") != NULL;
        fprintf(f, quote ? "%s'%s'" : "%s%s", i ? " " : "", a);
        used += strlen(a) + 1;
    }
    if (i < proc->argc)
        fputs(" ...", f);
}

static void print_label(struct printer *pr, const struct entry *e)
{
    const struct profile *p = pr->p;
    const struct prof_node *n = &p->nodes[e->node];
    FILE *f = pr->out;

    if (e->is_self) {
        /* a thread's own time is its samples without any Python stack */
        int frame = n->kind == PROF_NODE_FRAME || n->kind == PROF_NODE_GROUP;
        fputs(frame ? "[self]" : "[no Python frames]", f);
        return;
    }
    switch (n->kind) {
    case PROF_NODE_PROCESS: {
        const struct cap_process *proc = capture_process(p->cap, n->pid);
        fprintf(f, "%sProcess %d%s", color(pr, ANSI_BOLD), (int)n->pid, color(pr, ANSI_RESET));
        if (proc && proc->argc) {
            fprintf(f, "  %s", color(pr, ANSI_DIM));
            print_argv(f, proc, 60);
            fputs(color(pr, ANSI_RESET), f);
        }
        break;
    }
    case PROF_NODE_THREAD: {
        const char *name = capture_thread_name(p->cap, n->pid, n->tid);
        fprintf(f, "%sThread %d", color(pr, ANSI_BOLD), (int)n->tid);
        if (name)
            fprintf(f, " (%s)", name);
        fputs(color(pr, ANSI_RESET), f);
        break;
    }
    case PROF_NODE_GROUP: {
        /* "[3 frames hidden]  threading, selectors" */
        fprintf(f, "%s[%u frame%s hidden]  ", color(pr, ANSI_DIM), (unsigned)n->nhidden,
                n->nhidden == 1 ? "" : "s");
        char mods[8][64];
        int nmods = 0;
        for (uint32_t i = 0; i < n->nhidden; i++) {
            char m[64];
            loc_module(p->funcs[n->hidden[i]].file, m, sizeof m);
            int seen = 0;
            for (int k = 0; k < nmods && !seen; k++)
                seen = !strcmp(mods[k], m);
            if (seen || !m[0])
                continue;
            if (nmods == 8) {
                fputs(", ...", f);
                break;
            }
            fprintf(f, "%s%s", nmods ? ", " : "", m);
            memcpy(mods[nmods++], m, sizeof m);
        }
        fputs(color(pr, ANSI_RESET), f);
        break;
    }
    case PROF_NODE_FRAME: {
        const struct prof_site *s = prof_node_site(p, n);
        if (s && s->kind == CAP_FRAME_NATIVE)
            fprintf(f, "%s[native]%s ", color(pr, ANSI_DIM), color(pr, ANSI_RESET));
        fputs(s ? s->function : "?", f);
        if (s)
            print_location(pr, s);
        break;
    }
    default:
        fputs("[all]", f);
    }
}

static void print_line(struct printer *pr, const struct entry *e, const char *guide)
{
    const struct prof_node *n = &pr->p->nodes[e->node];
    double pct = pr->whole ? 100.0 * (double)e->value / (double)pr->whole : 0;
    char v[PROF_FMT_LEN];
    fprintf(pr->out, "%.*s%s%s%s %4.1f%%%s  ", (int)pr->prefix_len,
            pr->prefix ? pr->prefix : "", guide, color(pr, pct_color(pct)),
            prof_fmt_metric(v, sizeof v, pr->o->metric, e->value), pct, color(pr, ANSI_RESET));
    print_label(pr, e);
    if (!e->is_self)
        print_calls(pr, n);
    print_split(pr, e->is_self ? &n->self : &n->total);
    fputc('\n', pr->out);
}

static int by_value(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->value != y->value)
        return x->value < y->value ? 1 : -1;
    /* ties: the fixed order of the tree, so output is stable */
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    return x->is_self - y->is_self;
}

/* The lines under `node`, sorted; *n = 0 if none.  -1 when out of memory. */
static int entries_of(struct printer *pr, uint32_t node, struct entry **v, size_t *n)
{
    const struct profile *p = pr->p;
    const struct prof_node *nd = &p->nodes[node];
    enum prof_metric m = pr->o->metric;
    *v = malloc((nd->nchildren + 1) * sizeof **v);
    *n = 0;
    if (!*v)
        return -1;
    for (uint32_t i = 0; i < nd->nchildren; i++) {
        uint32_t c = p->children[nd->first_child + i];
        uint64_t val = prof_metric_ns(&p->nodes[c].total, m);
        if (val >= pr->cutoff)
            (*v)[(*n)++] = (struct entry){ c, 0, val };
    }
    /* own time gets a line only beside children, as a leaf's total is it;
     * a node's own memory may come without any sample */
    uint64_t self = prof_metric_ns(&nd->self, m);
    int has_self = prof_metric_unit(m) == PROF_UNIT_NS ? nd->self.samples != 0 : self != 0;
    if (*n && has_self && self >= pr->cutoff)
        (*v)[(*n)++] = (struct entry){ node, 1, self };
    qsort(*v, *n, sizeof **v, by_value);
    return 0;
}

static int prefix_add(struct printer *pr, const char *s)
{
    size_t k = strlen(s);
    if (pr->prefix_len + k + 1 > pr->prefix_cap) {
        size_t ncap = (pr->prefix_cap + k + 1) * 2;
        char *np = realloc(pr->prefix, ncap);
        if (!np)
            return -1;
        pr->prefix = np;
        pr->prefix_cap = ncap;
    }
    memcpy(pr->prefix + pr->prefix_len, s, k + 1);
    pr->prefix_len += k;
    return 0;
}

/* Print every line under the root: its entries without guides, deeper
 * levels with them. */
static int print_tree(struct printer *pr)
{
    struct level *stack = NULL;
    size_t depth = 0, cap = 0;
    int rc = -1;

    struct entry *top;
    size_t ntop;
    if (entries_of(pr, 0, &top, &ntop) < 0)
        return -1;
    for (size_t t = 0; t < ntop; t++) {
        uint8_t kind = pr->p->nodes[top[t].node].kind;
        if (t && !top[t].is_self && (kind == PROF_NODE_THREAD || kind == PROF_NODE_PROCESS))
            fputc('\n', pr->out);      /* one paragraph per thread */
        pr->prefix_len = 0;
        print_line(pr, &top[t], "");
        if (top[t].is_self)
            continue;
        /* walk below this top line */
        if (cap == 0) {
            cap = 64;
            if (!(stack = malloc(cap * sizeof *stack)))
                goto out;
        }
        depth = 1;
        stack[0] = (struct level){ .prefix_len = 0 };
        if (entries_of(pr, top[t].node, &stack[0].v, &stack[0].n) < 0)
            goto out;
        while (depth) {
            struct level *l = &stack[depth - 1];
            if (l->next == l->n) {
                free(l->v);
                l->v = NULL;
                depth--;
                continue;
            }
            struct entry e = l->v[l->next++];
            int last = l->next == l->n;
            pr->prefix_len = l->prefix_len;
            print_line(pr, &e, last ? "└─ " : "├─ ");
            if (e.is_self)
                continue;
            if (prefix_add(pr, last ? "   " : "│  ") < 0)
                goto out;
            if (depth == cap) {
                struct level *ns = realloc(stack, cap * 2 * sizeof *ns);
                if (!ns)
                    goto out;
                stack = ns;
                cap *= 2;
            }
            struct level *child = &stack[depth];
            *child = (struct level){ .prefix_len = pr->prefix_len };
            if (entries_of(pr, e.node, &child->v, &child->n) < 0)
                goto out;
            if (child->n)
                depth++;
            else
                free(child->v);
        }
    }
    rc = 0;
out:
    for (size_t i = 0; i < depth; i++)
        free(stack[i].v);
    free(stack);
    free(top);
    return rc;
}

/* "Memory:   peak heap 12.3 MiB at 0.512 s, peak RSS ...", then allocated
 * and leaked on a line of their own */
static void print_memory_header(struct printer *pr)
{
    const struct capture *c = pr->p->cap;
    const struct cap_mem_totals *t = &c->mem_totals;
    FILE *f = pr->out;
    char b[PROF_FMT_LEN], n[PROF_FMT_LEN];

    fprintf(f, "%sMemory:%s   peak heap %s at %.3f s", color(pr, ANSI_BOLD), color(pr, ANSI_RESET),
            prof_fmt_bytes(b, sizeof b, t->peak_heap_bytes), prof_secs(t->peak_heap_t_ns));
    if (t->peak_mapped_bytes) {         /* the heap counts only their resident part */
        fprintf(f, " (mappings: %s mapped", prof_fmt_bytes(b, sizeof b, t->peak_mapped_bytes));
        fprintf(f, ", %s resident)", prof_fmt_bytes(b, sizeof b, t->peak_mapped_resident_bytes));
    }
    fprintf(f, ", peak RSS %s at %.3f s", prof_fmt_bytes(b, sizeof b, t->peak_rss_bytes),
            prof_secs(t->peak_rss_t_ns));
    fprintf(f, "\n          allocated %s", prof_fmt_bytes(b, sizeof b, t->alloc_bytes));
    fprintf(f, " in %s allocations", prof_fmt_count(n, sizeof n, t->alloc_count));
    fprintf(f, ", leaked %s", prof_fmt_bytes(b, sizeof b, t->leaked_bytes));
    if (t->sample_mean)
        fprintf(f, "; %sestimated (sampled every %s on average)%s", color(pr, ANSI_DIM),
                prof_fmt_bytes(b, sizeof b, t->sample_mean), color(pr, ANSI_RESET));
    fputc('\n', f);
    if (pr->p->opts.has_range)
        fprintf(f, "          in this range: allocated %s in %s allocations\n",
                prof_fmt_bytes(b, sizeof b, pr->p->total.alloc_bytes),
                prof_fmt_count(n, sizeof n, pr->p->total.alloc_count));
}

static void print_header(struct printer *pr)
{
    const struct profile *p = pr->p;
    const struct capture *c = p->cap;
    FILE *f = pr->out;
    const struct cap_process *proc = c->nprocesses ? &c->processes[0] : NULL;

    fprintf(f, "%sProgram:%s  ", color(pr, ANSI_BOLD), color(pr, ANSI_RESET));
    if (proc && proc->argc)
        print_argv(f, proc, 200);
    else
        fputs("(unknown)", f);
    if (proc && proc->has_exit)
        fprintf(f, "  (exit %d)", (int)proc->exit_code);
    if (c->nprocesses > 1)
        fprintf(f, "  (+%zu child process%s)", c->nprocesses - 1, c->nprocesses > 2 ? "es" : "");
    fputc('\n', f);
    fprintf(f, "%sPython:%s   %s", color(pr, ANSI_BOLD), color(pr, ANSI_RESET),
            proc && proc->python_version ? proc->python_version : "unknown");
    if (proc && proc->python_executable)
        fprintf(f, "  %s", proc->python_executable);
    fputc('\n', f);

    uint64_t duration = c->has_duration ? c->duration_ns : p->t_last_ns;
    fprintf(f, "%sDuration:%s %.3f s%s  %sSamples:%s %llu", color(pr, ANSI_BOLD),
            color(pr, ANSI_RESET), prof_secs(duration), c->truncated ? " (capture truncated)" : "",
            color(pr, ANSI_BOLD), color(pr, ANSI_RESET), (unsigned long long)p->total.samples);
    if (c->interval_ns)
        fprintf(f, " every %g ms", (double)c->interval_ns / 1e6);
    size_t nthreads = capture_sampled_threads(c);
    fprintf(f, " from %zu thread%s", nthreads, nthreads == 1 ? "" : "s");
    if (p->opts.has_range)
        fprintf(f, ", between %.3f s and %.3f s", prof_secs(p->opts.t0_ns), prof_secs(p->opts.t1_ns));
    fputc('\n', f);

    const struct prof_metrics *t = &p->total;
    fprintf(f, "%sTime:%s     wall %.3f s = user %.3f + sys %.3f + waiting %.3f",
            color(pr, ANSI_BOLD), color(pr, ANSI_RESET), prof_secs(t->wall_ns), prof_secs(t->user_ns),
            prof_secs(t->sys_ns), prof_secs(prof_wait_ns(t)));
    int open = 0;
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        if (t->wait_ns[k]) {
            fprintf(f, "%s%s %.3f", open ? ", " : " (", prof_wait_name(k), prof_secs(t->wait_ns[k]));
            open = 1;
        }
    fprintf(f, "%s  %s(summed over threads)%s\n", open ? ")" : "", color(pr, ANSI_DIM),
            color(pr, ANSI_RESET));
    if (c->has_memory)
        print_memory_header(pr);
    fputc('\n', f);
}

int report_tree_print(const struct capture *c, const struct tree_opts *o, FILE *out)
{
    struct profile_opts po = {
        .merge_threads = o->merge_threads,
        .collapse_libs = !o->show_all,
        .fold_recursion = o->fold_recursion,
        .merge_tasks = o->merge_tasks,
        .skip = PROF_NO_TABLES,
        .has_range = o->has_range,
        .t0_ns = o->t0_ns,
        .t1_ns = o->t1_ns,
    };
    struct profile p;
    if (profile_build(&p, c, &po) < 0)
        return -1;

    struct printer pr = { .p = &p, .o = o, .out = out };
    if (!getcwd(pr.cwd, sizeof pr.cwd))
        pr.cwd[0] = '\0';
    pr.whole = prof_metric_ns(&p.total, o->metric);
    double share = o->min_percent > 0 ? o->min_percent / 100.0 : 0;
    pr.cutoff = (uint64_t)((double)pr.whole * share);
    if (share > 0 && pr.cutoff == 0)
        pr.cutoff = 1;          /* "at least 1%" never includes nothing */

    static const char *const by[PROF_NMETRICS] = {
        [PROF_PEAK] = "memory held when the heap peaked",
        [PROF_ALLOCATED] = "bytes allocated",
        [PROF_ALLOCATIONS] = "number of allocations",
        [PROF_LEAKED] = "memory still held when the process began to finalize",
    };
    print_header(&pr);
    int rc = 0;
    int is_time = prof_metric_unit(o->metric) == PROF_UNIT_NS;
    if (is_time && !p.total.samples)
        fputs("No samples.\n", out);
    else if (is_time && !pr.whole)
        fprintf(out, "No %s time in these samples.\n", prof_metric_name(o->metric));
    else if (!is_time && !c->has_memory)
        fputs("No memory data: the run was recorded with --memory off.\n", out);
    else if (!is_time && !pr.whole)
        fprintf(out, "Nothing to show by %s%s.\n", by[o->metric],
                p.opts.has_range && (o->metric == PROF_PEAK || o->metric == PROF_LEAKED)
                ? ": peak and leaked are whole-run figures, not kept for a time range" : "");
    else if ((rc = print_tree(&pr)) == 0) {
        if (is_time)
            fprintf(out, "\n%sBy %s time", color(&pr, ANSI_DIM), prof_metric_name(o->metric));
        else
            fprintf(out, "\n%sBy %s", color(&pr, ANSI_DIM), by[o->metric]);
        if (o->min_percent > 0)
            fprintf(out, "; lines under %g%% left out", o->min_percent);
        if (!o->show_all)
            fputs("; library frames hidden (--show-all shows them)", out);
        fprintf(out, ".%s\n", color(&pr, ANSI_RESET));
    }
    free(pr.prefix);
    profile_free(&p);
    if (rc == 0 && ferror(out))
        rc = -1;
    return rc;
}

int report_memory_headline(const struct capture *c, int use_color, FILE *out)
{
    const struct cap_mem_totals *t = &c->mem_totals;
    const char *bold = use_color ? ANSI_BOLD : "", *dim = use_color ? ANSI_DIM : "",
               *reset = use_color ? ANSI_RESET : "";
    char b[PROF_FMT_LEN], cwd[PATH_MAX];
    if (!c->has_memory)
        return 0;
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';

    fprintf(out, "%sMemory:%s peak heap %s at %.3f s", bold, reset,
            prof_fmt_bytes(b, sizeof b, t->peak_heap_bytes), prof_secs(t->peak_heap_t_ns));
    fprintf(out, ", peak RSS %s at %.3f s", prof_fmt_bytes(b, sizeof b, t->peak_rss_bytes),
            prof_secs(t->peak_rss_t_ns));
    if (t->sample_mean)
        fprintf(out, "  %s(estimated: sampled every %s on average)%s", dim,
                prof_fmt_bytes(b, sizeof b, t->sample_mean), reset);
    fputc('\n', out);

    /* one line per location, whatever threads and stacks held there */
    struct profile p;
    struct prof_places pl;
    if (profile_build(&p, c, &(struct profile_opts){ .skip = PROF_ROWS_ONLY }) < 0)
        return -1;
    if (prof_places_build(&pl, &p) < 0) {
        profile_free(&p);
        return -1;
    }
    prof_places_sort(&pl, PROF_PEAK, PROF_PEAK);
    if (pl.n && pl.v[0].m.peak_bytes)
        fputs("Held at the peak:\n", out);
    for (size_t i = 0; i < pl.n && i < 5 && pl.v[i].m.peak_bytes; i++) {
        const struct prof_site *f = pl.v[i].line;
        fprintf(out, "  %10s  %s", prof_fmt_bytes(b, sizeof b, pl.v[i].m.peak_bytes),
                f ? f->function : PROF_NO_FRAMES);
        if (f && f->file[0]) {
            fprintf(out, "  %s%s", dim, loc_short(f->file, cwd));
            if (f->line > 0)
                fprintf(out, ":%d", (int)f->line);
            fputs(reset, out);
        }
        fputc('\n', out);
    }
    prof_places_free(&pl);
    profile_free(&p);
    return ferror(out) ? -1 : 0;
}
