/*
 * calls.c -- exact call counts (calls.h): one flat table per thread fed by
 * the C profile hook (3.9-3.11) or sys.monitoring (calls_monitor.c, 3.12+),
 * merged and sent to stetho (wire.h) every second and at exit.
 *
 * Both are the event streams cProfile itself counts on those versions, so
 * our counts mean exactly what cProfile's do: a generator's resumption is
 * a call, a C function is keyed by its PyMethodDef.  The bookkeeping below
 * follows Modules/_lsprof.c (ptrace_enter_call, ptrace_leave_call, Stop)
 * step for step, in C tables instead of Python objects.  It runs for every
 * call and return of the program, so the common case is kept to a few
 * loads and stores: the function found through a small direct-mapped cache
 * before the map, the caller -> callee edge through the callee's last one,
 * and the reentrancy guard taken only where something is allocated.
 *
 * The Python C API is looked up with dlsym (the agent is built without
 * Python's headers, for every version at once); only the functions of the
 * stable ABI and PyCFunctionObject's m_ml (right after the object header
 * since 3.0) are relied on.
 */
#include "agent/calls.h"
#include "agent/agent.h"
#include "util/kmap.h"
#include "util/utf8.h"
#include "wire/wire.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void pyobj;
typedef int (*tracefunc)(pyobj *obj, pyobj *frame, int what, pyobj *arg);

#define METH_VARARGS 0x1
#define METH_NOARGS 0x4

enum { TRACE_CALL = 0, TRACE_RETURN = 3, TRACE_C_CALL = 4, TRACE_C_EXCEPTION = 5,
       TRACE_C_RETURN = 6 };

static struct {
    int (*add_pending_call)(int (*)(void *), void *);
    void (*set_profile)(tracefunc, pyobj *);
    void (*set_profile_all)(tracefunc, pyobj *);          /* 3.12+, else NULL */
    pyobj *(*frame_get_code)(pyobj *);
    void (*incref)(pyobj *);
    void (*decref)(pyobj *);
    pyobj *(*cfunction_new)(struct py_method_def *, pyobj *, pyobj *);
    pyobj *(*import)(const char *);
    pyobj *(*call_method)(pyobj *, const char *, const char *, ...);
    pyobj *(*getattr)(pyobj *, const char *);
    pyobj *(*repr)(pyobj *);
    const char *(*utf8)(pyobj *);
    long (*as_long)(pyobj *);
    const char *(*module_name)(pyobj *);
    void (*err_fetch)(pyobj **, pyobj **, pyobj **);
    void (*err_restore)(pyobj *, pyobj *, pyobj *);
    void (*err_clear)(void);
    pyobj *(*tuple_item)(pyobj *, long);
    void *cfunction_type, *cmethod_type, *unicode_type, *module_type, *none;
} py;

static pid_t owner;             /* the process that counts (a forked child sends nothing) */
static int written;             /* the last send went: at exit, or stop */
/* The table is sent again every SEND_PERIOD_NS (in ticks: period), from
 * the first call counted after next_send, so a program that ends by
 * os._exit or a signal loses at most the last period's counts. */
#define SEND_PERIOD_NS 1000000000ull
static uint64_t next_send, period;

/* ---- the tables ---- */

struct fn {
    const void *key;            /* code object or PyMethodDef */
    pyobj *code;                /* a reference, for the label; NULL: C */
    char *label;                /* C functions: cProfile's label */
    uint64_t calls, rec_calls, cum, own;   /* times in agent_ticks */
    int32_t level;              /* open calls of it right now */
    uint32_t last_caller, last_edge;    /* its edge from that caller */
};

struct edge {
    uint32_t caller, callee;
    uint64_t calls, rec_calls, cum, own;
    int32_t level;
};

struct ctx {
    uint32_t fn, edge;          /* edge: UINT32_MAX at the bottom */
    uint64_t t0, sub;
};

/* A power of two: the direct-mapped cache of the functions last counted. */
#define FN_CACHE 256

static inline size_t cache_slot(const void *key)
{
    uintptr_t k = (uintptr_t)key;       /* objects are 16-byte aligned */
    return (size_t)((k >> 4) ^ (k >> 12)) & (FN_CACHE - 1);
}

struct table {
    struct table *next;
    struct fn *fns;
    size_t nfns, capfns;
    struct edge *edges;
    size_t nedges, capedges;
    struct ctx *stack;
    size_t depth, capstack;
    struct kmap fmap, emap;
    int broken;                 /* out of memory: counting stopped here */
    struct {
        const void *key;
        uint32_t fn;
    } cache[FN_CACHE];          /* before fmap: most calls hit a few functions */
};

static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;
static struct table *tables;
static AGENT_TLS struct table *mine;

#define NONE UINT32_MAX

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, c * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

/* This thread's table, on its first counted call. */
static struct table *table_new(void)
{
    int guard = guard_enter();
    struct table *t = calloc(1, sizeof *t);
    if (t) {
        pthread_mutex_lock(&tables_lock);
        t->next = tables;
        tables = t;
        pthread_mutex_unlock(&tables_lock);
    }
    guard_leave(guard);
    return mine = t;
}

/* cProfile's label of a built-in (_lsprof.c normalizeUserObj): a module's
 * function "<built-in method mod.name>", a method "repr(type.name)". */
static char *c_label(const struct calls_who *who)
{
    const struct py_method_def *ml = who->ml;
    pyobj *self = who->self, *mod = who->module;
    pyobj *et, *ev, *tb;
    char buf[512];
    py.err_fetch(&et, &ev, &tb);
    buf[0] = 0;
    if (self && *((void **)self + 1) != py.module_type) {
        pyobj *d = py.getattr(*((pyobj **)self + 1), ml->name);
        pyobj *r = d ? py.repr(d) : NULL;
        const char *s = r ? py.utf8(r) : NULL;
        if (s)
            snprintf(buf, sizeof buf, "%s", s);
        if (r)
            py.decref(r);
        if (d)
            py.decref(d);
        py.err_clear();
    }
    if (!buf[0]) {
        const char *m = NULL;
        if (mod && *((void **)mod + 1) == py.unicode_type)
            m = py.utf8(mod);
        else if (mod && *((void **)mod + 1) == py.module_type)
            m = py.module_name(mod);
        py.err_clear();
        if (m)
            snprintf(buf, sizeof buf, "<built-in method %s.%s>", m, ml->name);
        else
            snprintf(buf, sizeof buf, "<built-in method %s>", ml->name);
    }
    py.err_restore(et, ev, tb);
    return strdup(buf);
}

/* A function not in the cache: from the map, or new (allocates). */
static uint32_t fn_slow(struct table *t, const void *key, const struct calls_who *who)
{
    uint32_t f = kmap_get(&t->fmap, (uintptr_t)key, 0, NONE);
    if (f != NONE)
        return f;
    int guard = guard_enter();          /* our own allocations go unrecorded */
    int isnew;
    if (grow((void **)&t->fns, &t->capfns, t->nfns, sizeof *t->fns) == 0 &&
        kmap_put(&t->fmap, (uintptr_t)key, 0, (uint32_t)t->nfns, &isnew)) {
        struct fn *e = &t->fns[t->nfns];
        memset(e, 0, sizeof *e);
        e->key = key;
        e->last_caller = NONE;
        if (who->code) {
            py.incref(who->code);
            e->code = who->code;
        } else {
            e->label = c_label(who);
        }
        f = (uint32_t)t->nfns++;
    }
    guard_leave(guard);
    return f;
}

static inline uint32_t fn_of(struct table *t, const void *key, const struct calls_who *who)
{
    size_t slot = cache_slot(key);
    if (LIKELY(t->cache[slot].key == key))
        return t->cache[slot].fn;
    uint32_t f = fn_slow(t, key, who);
    if (f != NONE) {
        t->cache[slot].key = key;
        t->cache[slot].fn = f;
    }
    return f;
}

static uint32_t edge_slow(struct table *t, uint32_t caller, uint32_t callee)
{
    int guard = guard_enter(), isnew;
    uint32_t e = NONE;
    uint32_t *v = kmap_put(&t->emap, caller, callee, (uint32_t)t->nedges, &isnew);
    if (v && !isnew)
        e = *v;
    else if (v && grow((void **)&t->edges, &t->capedges, t->nedges, sizeof *t->edges) == 0) {
        t->edges[t->nedges] = (struct edge){ .caller = caller, .callee = callee };
        e = (uint32_t)t->nedges++;
    }
    /* (v && e == NONE: the map now names an edge that does not exist; the
     * caller marks the table broken) */
    guard_leave(guard);
    return e;
}

static inline uint32_t edge_of(struct table *t, uint32_t caller, uint32_t callee)
{
    struct fn *e = &t->fns[callee];
    if (LIKELY(e->last_caller == caller))
        return e->last_edge;
    uint32_t s = edge_slow(t, caller, callee);
    if (s != NONE) {
        e->last_caller = caller;
        e->last_edge = s;
    }
    return s;
}

static void send_table(int last);

/* The periodic send, from inside a counted call's start (under the GIL:
 * no table changes meanwhile); the Python error state is kept as found,
 * and the send's time is not the call's. */
static void send_now(struct ctx *c)
{
    int guard = guard_enter();
    pyobj *et, *ev, *tb;
    py.err_fetch(&et, &ev, &tb);
    send_table(0);
    py.err_restore(et, ev, tb);
    guard_leave(guard);
    c->t0 = agent_ticks();
    next_send = c->t0 + period;
}

/* ptrace_enter_call + initContext */
void calls_enter(const void *key, const struct calls_who *who)
{
    struct table *t = mine;
    if (UNLIKELY(!t) && !(t = table_new()))
        return;
    if (UNLIKELY(t->broken))
        return;
    uint32_t f = fn_of(t, key, who);
    if (UNLIKELY(f == NONE || t->depth == t->capstack)) {
        int guard = guard_enter();
        if (f == NONE || grow((void **)&t->stack, &t->capstack, t->depth, sizeof *t->stack) < 0)
            t->broken = 1;
        guard_leave(guard);
        if (t->broken)
            return;
    }
    struct ctx *c = &t->stack[t->depth++];
    c->fn = f;
    c->edge = NONE;
    c->sub = 0;
    t->fns[f].level++;
    if (t->depth > 1) {
        c->edge = edge_of(t, t->stack[t->depth - 2].fn, f);
        if (UNLIKELY(c->edge == NONE)) {
            t->broken = 1;
            return;
        }
        t->edges[c->edge].level++;
    }
    c->t0 = agent_ticks();
    if (UNLIKELY(c->t0 >= next_send) && period)
        send_now(c);
}

/* ptrace_leave_call + Stop: the innermost open call ends, and is booked to
 * the function that returned (as _lsprof does, even if they differ). */
void calls_leave(const void *key)
{
    uint64_t now = agent_ticks();
    struct table *t = mine;
    if (!t || t->broken || !t->depth)
        return;
    struct ctx *c = &t->stack[--t->depth];
    /* nearly always the innermost call returns: no look-up */
    uint32_t f = t->fns[c->fn].key == key ? c->fn : kmap_get(&t->fmap, (uintptr_t)key, 0, NONE);
    if (f == NONE)
        return;
    uint64_t tt = now - c->t0, it = tt - c->sub;
    struct ctx *prev = t->depth ? &t->stack[t->depth - 1] : NULL;
    if (prev)
        prev->sub += tt;
    struct fn *e = &t->fns[f];
    if (--e->level == 0)
        e->cum += tt;
    else
        e->rec_calls++;
    e->own += it;
    e->calls++;
    if (!prev)
        return;
    uint32_t ei = f == c->fn ? c->edge : kmap_get(&t->emap, prev->fn, f, NONE);
    if (ei == NONE)
        return;
    struct edge *s = &t->edges[ei];
    if (--s->level == 0)
        s->cum += tt;
    else
        s->rec_calls++;
    s->own += it;
    s->calls++;
}

static int is_cfunction(pyobj *o)
{
    void *type = o ? *((void **)o + 1) : NULL;
    return type && (type == py.cfunction_type || type == py.cmethod_type);
}

static int hook(pyobj *obj, pyobj *frame, int what, pyobj *arg)
{
    (void)obj;
    switch (what) {
    case TRACE_CALL:
    case TRACE_RETURN: {
        pyobj *code = py.frame_get_code(frame);
        if (what == TRACE_CALL) {
            struct calls_who who = { .code = code };
            calls_enter(code, &who);
        } else {
            calls_leave(code);
        }
        py.decref(code);
        break;
    }
    case TRACE_C_CALL:
        if (is_cfunction(arg)) {
            struct calls_who who = { .ml = ((void **)arg)[2], .self = ((void **)arg)[3],
                                     .module = ((void **)arg)[4] };
            calls_enter(who.ml, &who);
        }
        break;
    case TRACE_C_RETURN:
    case TRACE_C_EXCEPTION:
        if (is_cfunction(arg))
            calls_leave(((void **)arg)[2]);
        break;
    default:
        break;
    }
    return 0;
}

/* ---- sending the table (wire.h: FRAME and CALLS on the calls stream) ----
 *
 * The threads' tables are merged into one per process (functions by key,
 * edges by merged caller and callee), kept from one send to the next: a
 * merged function's index + 1 is its FRAME id on the stream, sent once, and
 * only the figures whose call count moved since the last send go again. */

struct msum {
    uint32_t caller, callee;    /* edges only: merged function indices */
    uint64_t v[4];              /* calls, rec_calls, cum_ns, own_ns */
    uint64_t sent;              /* calls when last sent */
};

static struct {
    struct kmap gfn, gedge;
    struct msum *f, *e;
    size_t nf, ne, capf, cape;
    int oom;                    /* the merge is incomplete: nothing more is sent */
} merged;

static struct {
    int fd;                     /* -1: nothing to send to */
    dev_t dev;
    ino_t ino;
    int started;                /* the stream's first chunk went */
    size_t len;
    uint8_t buf[AGENT_CHUNK_MAX];
} out = { .fd = -1 };

static void out_flush(void)
{
    if (out.len > sizeof(struct agent_chunk_header) && out.fd >= 0) {
        wire_put_header(out.buf, out.started ? 0 : AGENT_CHUNK_NEW_STREAM, out.len, (int32_t)owner,
                        WIRE_CALLS_TID, agent_now());
        if (agent_fifo_write(out.fd, out.dev, out.ino, out.buf, out.len) < 0)
            out.fd = -1;        /* stetho went away, or the program took our fd */
        out.started = 1;
    }
    out.len = sizeof(struct agent_chunk_header);
}

/* Room for need bytes (at most a record: they fit a chunk, wire.h). */
static uint8_t *out_room(size_t need)
{
    if (out.len < sizeof(struct agent_chunk_header) || out.len + need > AGENT_CHUNK_MAX)
        out_flush();
    return out.buf + out.len;
}

static struct wire_bytes cut(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return (struct wire_bytes){ s ? s : "", utf8_cut(s ? s : "", n, max) };
}

/* A function seen for the first time: its FRAME, named as the sampler
 * names it (3.11+: the qualified name), so counted and sampled functions
 * are one in the reports. */
static void send_frame(uint32_t id, const struct fn *e)
{
    const char *name = e->label, *file = "~";
    long line = 0;
    pyobj *n = NULL, *fl = NULL, *ln = NULL;
    if (e->code) {
        n = py.getattr(e->code, "co_qualname");
        if (!n) {
            py.err_clear();
            n = py.getattr(e->code, "co_name");
        }
        fl = py.getattr(e->code, "co_filename");
        ln = py.getattr(e->code, "co_firstlineno");
        name = n ? py.utf8(n) : NULL;
        file = fl ? py.utf8(fl) : NULL;
        line = ln ? py.as_long(ln) : 0;
        py.err_clear();
    }
    struct wire_frame r = {
        .id = id,
        .line = line > 0 ? (uint64_t)line : 0,
        .first_line = line > 0 ? (uint64_t)line : 0,
        .kind = e->code ? AGENT_FRAME_PYTHON : AGENT_FRAME_NATIVE,
        .name = cut(name ? name : "?", WIRE_NAME_MAX),
        .file = cut(file ? file : "?", WIRE_FILE_MAX),
    };
    uint8_t *w = out_room(wire_size_frame(&r));
    out.len = (size_t)(wire_put_frame(w, &r) - out.buf);
    pyobj *o[] = { n, fl, ln };
    for (int i = 0; i < 3; i++)
        if (o[i])
            py.decref(o[i]);
}

static uint32_t merge_fn(const struct fn *e)
{
    int isnew;
    uint32_t *v = kmap_put(&merged.gfn, (uintptr_t)e->key, 0, (uint32_t)merged.nf, &isnew);
    if (!v || (isnew && grow((void **)&merged.f, &merged.capf, merged.nf, sizeof *merged.f) < 0))
        return NONE;
    uint32_t g = *v;
    if (isnew) {
        memset(&merged.f[g], 0, sizeof merged.f[g]);
        merged.nf++;
        send_frame(g + 1, e);
    }
    return g;
}

/* calls, recursive calls, and the times in ticks converted to ns at scale
 * (agent_tick_scale) */
static void add4(uint64_t s[4], uint64_t scale, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    s[0] += a;
    s[1] += b;
    s[2] += (uint64_t)(((unsigned __int128)c * scale) >> 32);
    s[3] += (uint64_t)(((unsigned __int128)d * scale) >> 32);
}

static void send_figures(uint32_t caller, uint32_t callee, struct msum *m)
{
    if (m->v[0] == m->sent)
        return;                 /* no call of it ended since the last send */
    m->sent = m->v[0];
    struct wire_calls r = { caller, callee, m->v[0], m->v[1], m->v[2], m->v[3] };
    uint8_t *w = out_room(wire_size_calls(&r));
    out.len = (size_t)(wire_put_calls(w, &r) - out.buf);
}

/* Merge every thread's table and send what changed (under the GIL: no
 * table changes meanwhile).  last: at exit or stop, nothing after it. */
static void send_table(int last)
{
    if (written || getpid() != owner || out.fd < 0)
        return;
    written = last;
    uint64_t scale = agent_tick_scale();
    for (size_t i = 0; i < merged.nf; i++)
        memset(merged.f[i].v, 0, sizeof merged.f[i].v);
    for (size_t i = 0; i < merged.ne; i++)
        memset(merged.e[i].v, 0, sizeof merged.e[i].v);
    out.len = sizeof(struct agent_chunk_header);
    pthread_mutex_lock(&tables_lock);
    for (struct table *t = tables; t && !merged.oom; t = t->next) {
        uint32_t *g = calloc(t->nfns + 1, sizeof *g);
        if (!g) {
            merged.oom = 1;
            break;
        }
        for (size_t i = 0; i < t->nfns; i++) {
            const struct fn *e = &t->fns[i];
            g[i] = merge_fn(e);
            if (g[i] == NONE)
                merged.oom = 1;
            else
                add4(merged.f[g[i]].v, scale, e->calls, e->rec_calls, e->cum, e->own);
        }
        for (size_t i = 0; i < t->nedges && !merged.oom; i++) {
            const struct edge *s = &t->edges[i];
            uint32_t a = g[s->caller], b = g[s->callee];
            int isnew = 0;
            uint32_t *v = kmap_put(&merged.gedge, a, b, (uint32_t)merged.ne, &isnew);
            if (!v || (isnew && grow((void **)&merged.e, &merged.cape, merged.ne,
                                     sizeof *merged.e) < 0)) {
                merged.oom = 1;     /* (the map may name an edge not made) */
                break;
            }
            if (isnew)
                merged.e[merged.ne++] = (struct msum){ .caller = a, .callee = b };
            add4(merged.e[*v].v, scale, s->calls, s->rec_calls, s->cum, s->own);
        }
        free(g);
    }
    pthread_mutex_unlock(&tables_lock);
    if (merged.oom)
        return;                 /* figures short of some threads': none */
    for (size_t i = 0; i < merged.nf; i++)
        send_figures(0, (uint32_t)i + 1, &merged.f[i]);
    for (size_t i = 0; i < merged.ne; i++)
        send_figures(merged.e[i].caller + 1, merged.e[i].callee + 1, &merged.e[i]);
    out_flush();
}

/* The merged table forgotten (a new count from inside: its ids start over
 * on a new stream). */
static void merged_clear(void)
{
    kmap_free(&merged.gfn);
    kmap_free(&merged.gedge);
    free(merged.f);
    free(merged.e);
    memset(&merged, 0, sizeof merged);
    out.started = 0;
}

/* ---- installation ---- */

static pyobj *at_exit(pyobj *self, pyobj *unused)
{
    (void)self;
    (void)unused;
    int guard = guard_enter();
    send_table(1);
    guard_leave(guard);
    py.incref(py.none);
    return py.none;
}

/* threading's profile hook, run by each thread threading starts before its
 * run(): swap in the C hook for this thread, and count the event it was
 * called for if that is a call (the thread's run). */
static pyobj *thread_start(pyobj *self, pyobj *args)
{
    (void)self;
    py.set_profile(hook, NULL);
    pyobj *frame = py.tuple_item(args, 0), *event = py.tuple_item(args, 1);
    const char *ev = event ? py.utf8(event) : NULL;
    if (frame && ev && strcmp(ev, "call") == 0)
        hook(NULL, frame, TRACE_CALL, NULL);
    py.err_clear();
    py.incref(py.none);
    return py.none;
}

static struct py_method_def exit_def = { "_stetho_calls_exit", (void *)at_exit, METH_NOARGS,
                                         NULL };
static struct py_method_def thread_def = { "_stetho_calls_thread", (void *)thread_start,
                                           METH_VARARGS, NULL };

static int monitored;           /* sys.monitoring sends the events, not the hook */

/* Counting starts: the events on (under the GIL); at_exit: also the atexit
 * function of a run's count. */
static void counting_on(int at_exit)
{
    uint64_t scale = agent_tick_scale();     /* ns per tick, 32.32 */
    period = (uint64_t)(((unsigned __int128)SEND_PERIOD_NS << 32) / (scale ? scale : 1));
    next_send = agent_ticks() + period;
    monitored = calls_monitor_install();
    pyobj *texit = at_exit ? py.cfunction_new(&exit_def, NULL, NULL) : NULL;
    pyobj *tthread = monitored ? NULL : py.cfunction_new(&thread_def, NULL, NULL);
    pyobj *atexit = texit ? py.import("atexit") : NULL;
    pyobj *threading = tthread ? py.import("threading") : NULL;
    pyobj *r1 = atexit && texit ? py.call_method(atexit, "register", "O", texit) : NULL;
    pyobj *r2 = threading && tthread ? py.call_method(threading, "setprofile", "O", tthread)
                                      : NULL;
    pyobj *o[] = { r1, r2, atexit, threading, texit, tthread };
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
        if (o[i])
            py.decref(o[i]);
    py.err_clear();
    if (monitored)
        ;                       /* every thread, those started later too */
    else if (py.set_profile_all)
        py.set_profile_all(hook, NULL);
    else
        py.set_profile(hook, NULL);
}

static int install(void *unused)
{
    (void)unused;
    int guard = guard_enter();
    counting_on(1);
    guard_leave(guard);
    return 0;
}

/* Every table emptied (a new count from inside; under the GIL, so no
 * thread is counting).  Open calls are forgotten: their returns find an
 * empty stack. */
static void tables_clear(void)
{
    pthread_mutex_lock(&tables_lock);
    for (struct table *t = tables; t; t = t->next) {
        for (size_t i = 0; i < t->nfns; i++) {
            if (t->fns[i].code)
                py.decref(t->fns[i].code);
            free(t->fns[i].label);
        }
        kmap_free(&t->fmap);
        kmap_free(&t->emap);
        memset(&t->fmap, 0, sizeof t->fmap);
        memset(&t->emap, 0, sizeof t->emap);
        memset(t->cache, 0, sizeof t->cache);
        t->nfns = t->nedges = t->depth = 0;
        t->broken = 0;
    }
    pthread_mutex_unlock(&tables_lock);
}

int calls_start_inside(const char *fifo)
{
    if (out.fd >= 0 || !calls_init(fifo))
        return -1;                      /* counting already, or cannot */
    int guard = guard_enter();
    tables_clear();
    merged_clear();
    owner = getpid();
    written = 0;
    counting_on(0);
    guard_leave(guard);
    return 0;
}

int calls_stop_inside(void)
{
    if (out.fd < 0)
        return -1;
    int guard = guard_enter();
    if (monitored)
        calls_monitor_uninstall();
    else if (py.set_profile_all)
        py.set_profile_all(NULL, NULL);
    else
        py.set_profile(NULL, NULL);     /* (threads keep theirs: see calls.h) */
    if (!monitored) {
        pyobj *threading = py.import("threading");
        pyobj *r = threading ? py.call_method(threading, "setprofile", "O", py.none) : NULL;
        if (r)
            py.decref(r);
        if (threading)
            py.decref(threading);
        py.err_clear();
    }
    send_table(1);
    if (out.fd >= 0)
        close(out.fd);
    out.fd = -1;
    guard_leave(guard);
    return 0;
}

int calls_init(const char *fifo)
{
    if (!fifo || !*fifo)
        return 0;
#define SYM(field, name) (*(void **)&py.field = dlsym(RTLD_DEFAULT, name))
    SYM(add_pending_call, "Py_AddPendingCall");
    SYM(set_profile, "PyEval_SetProfile");
    SYM(set_profile_all, "PyEval_SetProfileAllThreads");
    SYM(frame_get_code, "PyFrame_GetCode");
    SYM(incref, "Py_IncRef");
    SYM(decref, "Py_DecRef");
    SYM(cfunction_new, "PyCFunction_NewEx");
    SYM(import, "PyImport_ImportModule");
    SYM(call_method, "PyObject_CallMethod");
    SYM(getattr, "PyObject_GetAttrString");
    SYM(repr, "PyObject_Repr");
    SYM(utf8, "PyUnicode_AsUTF8");
    SYM(as_long, "PyLong_AsLong");
    SYM(module_name, "PyModule_GetName");
    SYM(err_fetch, "PyErr_Fetch");
    SYM(err_restore, "PyErr_Restore");
    SYM(err_clear, "PyErr_Clear");
    SYM(tuple_item, "PyTuple_GetItem");
    py.cfunction_type = dlsym(RTLD_DEFAULT, "PyCFunction_Type");
    py.cmethod_type = dlsym(RTLD_DEFAULT, "PyCMethod_Type");
    py.unicode_type = dlsym(RTLD_DEFAULT, "PyUnicode_Type");
    py.module_type = dlsym(RTLD_DEFAULT, "PyModule_Type");
    py.none = dlsym(RTLD_DEFAULT, "_Py_NoneStruct");
#undef SYM
    void *need[] = { (void *)py.add_pending_call, (void *)py.set_profile,
                     (void *)py.frame_get_code, (void *)py.incref, (void *)py.decref,
                     (void *)py.cfunction_new, (void *)py.import, (void *)py.call_method,
                     (void *)py.getattr, (void *)py.repr, (void *)py.utf8,
                     (void *)py.as_long, (void *)py.module_name, (void *)py.err_fetch,
                     (void *)py.err_restore, (void *)py.err_clear, (void *)py.tuple_item,
                     py.cfunction_type, py.unicode_type, py.module_type, py.none };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!need[i])
            return 0;
    out.fd = agent_fifo_open(fifo, &out.dev, &out.ino);
    return out.fd >= 0;
}

void calls_schedule(void)
{
    owner = getpid();
    py.add_pending_call(install, NULL);
}
