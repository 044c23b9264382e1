/*
 * calls.c -- exact call counts (calls.h): one flat table per thread fed by
 * the C profile hook (3.9-3.11) or sys.monitoring (calls_monitor.c, 3.12+),
 * merged and sent to stetho every second and at exit (calls_send.c).
 *
 * Both are the event streams cProfile itself counts on those versions, so
 * our counts mean exactly what cProfile's do: a generator's resumption is
 * a call, a C function is keyed by its PyMethodDef.  The bookkeeping below
 * follows Modules/_lsprof.c (ptrace_enter_call, ptrace_leave_call, Stop)
 * step for step, in C tables instead of Python objects.  It runs for every
 * call and return of the program, so the common case is kept to a few
 * loads and stores: the function and the caller -> callee edge found
 * through small direct-mapped caches before the maps, everything else
 * (a miss, a new thread, a full stack, the periodic send) out of line,
 * and the reentrancy guard taken only where something is allocated.
 *
 * The Python C API is looked up with dlsym (the agent is built without
 * Python's headers, for every version at once); only the functions of the
 * stable ABI and PyCFunctionObject's m_ml (right after the object header
 * since 3.0) are relied on, and, on 3.9-3.11 once checked against
 * PyFrame_GetCode, the frame's f_code (frame_code_direct).
 */
#include "agent/calls.h"
#include "agent/agent.h"
#include "agent/calls_table.h"
#include "util/kmap.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METH_VARARGS 0x1
#define METH_NOARGS 0x4

enum { TRACE_CALL = 0, TRACE_RETURN = 3, TRACE_C_CALL = 4, TRACE_C_EXCEPTION = 5,
       TRACE_C_RETURN = 6 };

/* The table is sent again every SEND_PERIOD_NS (in ticks: period), from
 * the first call counted after next_send, so a program that ends by
 * os._exit or a signal loses at most the last period's counts. */
#define SEND_PERIOD_NS 1000000000ull
static uint64_t next_send, period;

/* ---- the tables (calls_table.h) ---- */

struct calls_py calls_py;
pthread_mutex_t calls_tables_lock = PTHREAD_MUTEX_INITIALIZER;
struct calls_table *calls_tables;
static AGENT_TLS struct calls_table *mine;

int calls_grow(void **arr, size_t *cap, size_t n, size_t size)
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

/* The caches of t emptied: no key is NULL, no caller CALLS_NONE. */
static void caches_clear(struct calls_table *t)
{
    _Static_assert(CALLS_NONE == UINT32_MAX, "an all-ones caller is no caller");
    memset(t->cache, 0, sizeof t->cache);
    memset(t->ecache, 0xff, sizeof t->ecache);
}

/* This thread's table, on its first counted call. */
static struct calls_table *table_new(void)
{
    int guard = guard_enter();
    struct calls_table *t = calloc(1, sizeof *t);
    if (t) {
        caches_clear(t);
        pthread_mutex_lock(&calls_tables_lock);
        t->next = calls_tables;
        calls_tables = t;
        pthread_mutex_unlock(&calls_tables_lock);
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
    calls_py.err_fetch(&et, &ev, &tb);
    buf[0] = 0;
    if (self && *((void **)self + 1) != calls_py.module_type) {
        pyobj *d = calls_py.getattr(*((pyobj **)self + 1), ml->name);
        pyobj *r = d ? calls_py.repr(d) : NULL;
        const char *s = r ? calls_py.utf8(r) : NULL;
        if (s)
            snprintf(buf, sizeof buf, "%s", s);
        if (r)
            calls_py.decref(r);
        if (d)
            calls_py.decref(d);
        calls_py.err_clear();
    }
    if (!buf[0]) {
        const char *m = NULL;
        if (mod && *((void **)mod + 1) == calls_py.unicode_type)
            m = calls_py.utf8(mod);
        else if (mod && *((void **)mod + 1) == calls_py.module_type)
            m = calls_py.module_name(mod);
        calls_py.err_clear();
        if (m)
            snprintf(buf, sizeof buf, "<built-in method %s.%s>", m, ml->name);
        else
            snprintf(buf, sizeof buf, "<built-in method %s>", ml->name);
    }
    calls_py.err_restore(et, ev, tb);
    return strdup(buf);
}

/* A function not in the cache: from the map, or new (allocates). */
static uint32_t fn_slow(struct calls_table *t, const void *key, const struct calls_who *who)
{
    uint32_t f = kmap_get(&t->fmap, (uintptr_t)key, 0, CALLS_NONE);
    if (f != CALLS_NONE)
        return f;
    int guard = guard_enter();          /* our own allocations go unrecorded */
    int isnew;
    if (calls_grow((void **)&t->fns, &t->capfns, t->nfns, sizeof *t->fns) == 0 &&
        kmap_put(&t->fmap, (uintptr_t)key, 0, (uint32_t)t->nfns, &isnew)) {
        struct calls_fn *e = &t->fns[t->nfns];
        memset(e, 0, sizeof *e);
        e->key = key;
        if (!who) {
            calls_py.incref((pyobj *)key);
            e->code = (pyobj *)key;
        } else {
            e->label = c_label(who);
        }
        f = (uint32_t)t->nfns++;
    }
    guard_leave(guard);
    return f;
}

/* Fibonacci hashing: every bit of the address counts, so objects that
 * the allocator happens to place a multiple of 4 KiB apart do not evict
 * each other (seen under valgrind: a fifth of all calls missed). */
static inline size_t cache_slot(const void *key)
{
    _Static_assert((CALLS_FN_CACHE & (CALLS_FN_CACHE - 1)) == 0, "a power of two");
    return (size_t)(((uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ull) >> 56) &
           (CALLS_FN_CACHE - 1);
}

static inline size_t edge_slot(uint32_t caller, uint32_t callee)
{
    return (size_t)((caller * 0x9e3779b1u) ^ callee) & (CALLS_EDGE_CACHE - 1);
}

static uint32_t edge_slow(struct calls_table *t, uint32_t caller, uint32_t callee)
{
    uint32_t e = kmap_get(&t->emap, caller, callee, CALLS_NONE);
    if (e != CALLS_NONE)                /* known: nothing to allocate */
        return e;
    int guard = guard_enter(), isnew;
    uint32_t *v = kmap_put(&t->emap, caller, callee, (uint32_t)t->nedges, &isnew);
    if (v && calls_grow((void **)&t->edges, &t->capedges, t->nedges, sizeof *t->edges) == 0) {
        t->edges[t->nedges] = (struct calls_edge){ .caller = caller, .callee = callee };
        e = (uint32_t)t->nedges++;
    }
    /* (v && e == CALLS_NONE: the map now names an edge that does not exist; the
     * caller marks the table broken) */
    guard_leave(guard);
    return e;
}

/* The periodic send, from inside a counted call's start (under the GIL:
 * no table changes meanwhile); the Python error state is kept as found,
 * and the send's time is not the call's. */
static __attribute__((noinline, cold)) void send_now(struct calls_ctx *c)
{
    int guard = guard_enter();
    pyobj *et, *ev, *tb;
    calls_py.err_fetch(&et, &ev, &tb);
    calls_send(0);
    calls_py.err_restore(et, ev, tb);
    guard_leave(guard);
    c->t0 = agent_ticks();
    next_send = c->t0 + period;
}

/* What calls_enter's common path assumes and did not find: this thread's
 * table, room on its stack, the function and the edge from its caller in
 * the caches.  Makes them so and counts the call through calls_enter
 * again (then all hit), or marks the table broken (out of memory) and
 * counts nothing.  Out of line, and called only in tail position, so that
 * the common path saves no registers (a fifth fewer instructions per call
 * on 3.12, with the edge cache). */
static __attribute__((noinline, cold)) void enter_slow(const void *key,
                                                      const struct calls_who *who)
{
    struct calls_table *t = mine;
    if (!t && !(t = table_new()))
        return;
    if (t->broken)
        return;
    int guard = guard_enter();
    size_t slot = cache_slot(key);
    uint32_t f = t->cache[slot].key == key ? t->cache[slot].fn : fn_slow(t, key, who);
    if (f == CALLS_NONE ||
        calls_grow((void **)&t->stack, &t->capstack, t->depth, sizeof *t->stack) < 0)
        t->broken = 1;
    guard_leave(guard);
    if (t->broken)
        return;
    t->cache[slot].key = key;
    t->cache[slot].fn = f;
    if (t->depth) {
        uint32_t caller = t->stack[t->depth - 1].fn, e = edge_slow(t, caller, f);
        if (e == CALLS_NONE) {
            t->broken = 1;
            return;
        }
        size_t eslot = edge_slot(caller, f);
        t->ecache[eslot].caller = caller;
        t->ecache[eslot].callee = f;
        t->ecache[eslot].edge = e;
    }
    calls_enter(key, who);
}

/* ptrace_enter_call + initContext.  Who: NULL if key is a code object. */
void calls_enter(const void *key, const struct calls_who *who)
{
    struct calls_table *t = mine;
    if (UNLIKELY(!t || t->broken || t->depth == t->capstack))
        return enter_slow(key, who);
    size_t slot = cache_slot(key);
    if (UNLIKELY(t->cache[slot].key != key))
        return enter_slow(key, who);
    uint32_t f = t->cache[slot].fn, edge = CALLS_NONE;
    struct calls_fn *e = &t->fns[f];
    if (t->depth) {
        uint32_t caller = t->stack[t->depth - 1].fn;
        size_t eslot = edge_slot(caller, f);
        if (UNLIKELY(t->ecache[eslot].caller != caller || t->ecache[eslot].callee != f))
            return enter_slow(key, who);
        edge = t->ecache[eslot].edge;
        t->edges[edge].level++;
    }
    e->level++;
    struct calls_ctx *c = &t->stack[t->depth++];
    c->fn = f;
    c->edge = edge;
    c->sub = 0;
    c->t0 = agent_ticks();
    if (UNLIKELY(c->t0 >= next_send) && period)
        send_now(c);
}

/* Stop's booking of a call that took tt ticks, it of them its own, to x: a
 * calls_fn or a calls_edge. */
#define BOOK(x, tt, it)          \
    do {                         \
        if (--(x)->level == 0)   \
            (x)->cum += (tt);    \
        else                     \
            (x)->rec_calls++;    \
        (x)->own += (it);        \
        (x)->calls++;            \
    } while (0)

/* calls_leave when the function that returns is not the innermost call's:
 * booked to the one that returned, as _lsprof does. */
static __attribute__((noinline, cold)) void leave_other(struct calls_table *t,
                                                       struct calls_ctx *c,
                                                       const void *key, uint64_t now)
{
    uint32_t f = kmap_get(&t->fmap, (uintptr_t)key, 0, CALLS_NONE);
    if (f == CALLS_NONE)
        return;
    uint64_t tt = now - c->t0, it = tt - c->sub;
    struct calls_ctx *prev = t->depth ? &t->stack[t->depth - 1] : NULL;
    if (prev)
        prev->sub += tt;
    BOOK(&t->fns[f], tt, it);
    uint32_t ei = prev ? kmap_get(&t->emap, prev->fn, f, CALLS_NONE) : CALLS_NONE;
    if (ei != CALLS_NONE)
        BOOK(&t->edges[ei], tt, it);
}

/* ptrace_leave_call + Stop: the innermost open call ends. */
void calls_leave(const void *key)
{
    uint64_t now = agent_ticks();
    struct calls_table *t = mine;
    if (!t || t->broken || !t->depth)
        return;
    struct calls_ctx *c = &t->stack[--t->depth];
    struct calls_fn *e = &t->fns[c->fn];
    if (UNLIKELY(e->key != key))        /* nearly always the innermost returns */
        return leave_other(t, c, key, now);
    uint64_t tt = now - c->t0, it = tt - c->sub;
    BOOK(e, tt, it);
    if (!t->depth)
        return;
    t->stack[t->depth - 1].sub += tt;
    BOOK(&t->edges[c->edge], tt, it);
}

static int is_cfunction(pyobj *o)
{
    void *type = o ? *((void **)o + 1) : NULL;
    return type && (type == calls_py.cfunction_type || type == calls_py.cmethod_type);
}

/* The code object of the profile hook's frame.  PyFrame_GetCode returns a
 * new reference: two calls into Python per event, 2 % of a call-bound 3.11
 * run.  Where the frame's layout is known (agent.target.layout: 3.9/3.10
 * f_code of the frame object; 3.11 f_code of its interpreter frame,
 * f_frame, right after f_back) and agrees with PyFrame_GetCode on a real
 * frame when counting starts (frame_code_check), it is read directly. */
static uint64_t code_offset = PY_NOFIELD;      /* of f_code in the frame read */
static int code_indirect;                      /* 3.11: through f_frame */
#define FRAME_F_FRAME 3                         /* 3.11 PyFrameObject, words */

static inline pyobj *frame_code_direct(pyobj *frame)
{
    const char *f = code_indirect ? ((char **)frame)[FRAME_F_FRAME] : frame;
    return *(pyobj *const *)(f + code_offset);
}

static void frame_code_check(void)
{
    code_offset = PY_NOFIELD;
    const struct py_layout *l = &agent.target.layout;
    pyobj *frame = calls_py.get_frame ? calls_py.get_frame() : NULL;
    if (!agent.python || !frame || l->major != 3 || l->minor < 9 || l->minor > 11)
        return;
    code_indirect = l->minor == 11;
    code_offset = l->fr_code;
    pyobj *code = calls_py.frame_get_code(frame);
    if (code != frame_code_direct(frame))
        code_offset = PY_NOFIELD;
    calls_py.decref(code);
}

static int hook(pyobj *obj, pyobj *frame, int what, pyobj *arg)
{
    (void)obj;
    switch (what) {
    case TRACE_CALL:
    case TRACE_RETURN: {
        int direct = code_offset != PY_NOFIELD;
        pyobj *code = direct ? frame_code_direct(frame) : calls_py.frame_get_code(frame);
        if (what == TRACE_CALL) {
            calls_enter(code, NULL);
        } else {
            calls_leave(code);
        }
        if (!direct)
            calls_py.decref(code);
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

/* The floor (STETHO_CALLS_FLOOR, protocol.h): CPython's delivery of the
 * same events to a hook that does nothing.  Chosen once, when counting
 * starts: the counting hook itself has no test of it. */
static int floor_hook(pyobj *obj, pyobj *frame, int what, pyobj *arg)
{
    (void)obj;
    (void)frame;
    (void)what;
    (void)arg;
    return 0;
}

static int floor_only;
static calls_tracefunc active_hook = hook;

/* ---- installation ---- */

static pyobj *at_exit(pyobj *self, pyobj *unused)
{
    (void)self;
    (void)unused;
    int guard = guard_enter();
    calls_send(1);
    guard_leave(guard);
    calls_py.incref(calls_py.none);
    return calls_py.none;
}

/* threading's profile hook, run by each thread threading starts before its
 * run(): swap in the C hook for this thread, and count the event it was
 * called for if that is a call (the thread's run). */
static pyobj *thread_start(pyobj *self, pyobj *args)
{
    (void)self;
    calls_py.set_profile(active_hook, NULL);
    pyobj *frame = calls_py.tuple_item(args, 0), *event = calls_py.tuple_item(args, 1);
    const char *ev = event ? calls_py.utf8(event) : NULL;
    if (frame && ev && strcmp(ev, "call") == 0)
        active_hook(NULL, frame, TRACE_CALL, NULL);
    calls_py.err_clear();
    calls_py.incref(calls_py.none);
    return calls_py.none;
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
    active_hook = floor_only ? floor_hook : hook;
    monitored = calls_monitor_install(floor_only);
    if (!monitored)
        frame_code_check();
    pyobj *texit = at_exit ? calls_py.cfunction_new(&exit_def, NULL, NULL) : NULL;
    pyobj *tthread = monitored ? NULL : calls_py.cfunction_new(&thread_def, NULL, NULL);
    pyobj *atexit = texit ? calls_py.import("atexit") : NULL;
    pyobj *threading = tthread ? calls_py.import("threading") : NULL;
    pyobj *r1 = atexit && texit ? calls_py.call_method(atexit, "register", "O", texit) : NULL;
    pyobj *r2 = threading && tthread ? calls_py.call_method(threading, "setprofile", "O", tthread)
                                      : NULL;
    pyobj *o[] = { r1, r2, atexit, threading, texit, tthread };
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
        if (o[i])
            calls_py.decref(o[i]);
    calls_py.err_clear();
    if (monitored)
        ;                       /* every thread, those started later too */
    else if (calls_py.set_profile_all)
        calls_py.set_profile_all(active_hook, NULL);
    else
        calls_py.set_profile(active_hook, NULL);
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
    pthread_mutex_lock(&calls_tables_lock);
    for (struct calls_table *t = calls_tables; t; t = t->next) {
        for (size_t i = 0; i < t->nfns; i++) {
            if (t->fns[i].code)
                calls_py.decref(t->fns[i].code);
            free(t->fns[i].label);
        }
        kmap_free(&t->fmap);
        kmap_free(&t->emap);
        memset(&t->fmap, 0, sizeof t->fmap);
        memset(&t->emap, 0, sizeof t->emap);
        caches_clear(t);
        t->nfns = t->nedges = t->depth = 0;
        t->broken = 0;
    }
    pthread_mutex_unlock(&calls_tables_lock);
}

int calls_start_inside(const char *fifo)
{
    if (calls_send_open_p() || !calls_init(fifo))
        return -1;                      /* counting already, or cannot */
    int guard = guard_enter();
    tables_clear();
    calls_send_begin();
    counting_on(0);
    guard_leave(guard);
    return 0;
}

int calls_stop_inside(void)
{
    if (!calls_send_open_p())
        return -1;
    int guard = guard_enter();
    if (monitored)
        calls_monitor_uninstall();
    else if (calls_py.set_profile_all)
        calls_py.set_profile_all(NULL, NULL);
    else
        calls_py.set_profile(NULL, NULL);     /* (threads keep theirs: see calls.h) */
    if (!monitored) {
        pyobj *threading = calls_py.import("threading");
        pyobj *r = threading ? calls_py.call_method(threading, "setprofile", "O", calls_py.none) : NULL;
        if (r)
            calls_py.decref(r);
        if (threading)
            calls_py.decref(threading);
        calls_py.err_clear();
    }
    calls_send(1);
    calls_send_close();
    guard_leave(guard);
    return 0;
}

int calls_init(const char *fifo)
{
    if (!fifo || !*fifo)
        return 0;
    const char *fl = getenv(AGENT_ENV_CALLS_FLOOR);
    floor_only = fl && strcmp(fl, "1") == 0;
#define SYM(field, name) (*(void **)&calls_py.field = dlsym(RTLD_DEFAULT, name))
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
    SYM(get_frame, "PyEval_GetFrame");
    calls_py.cfunction_type = dlsym(RTLD_DEFAULT, "PyCFunction_Type");
    calls_py.cmethod_type = dlsym(RTLD_DEFAULT, "PyCMethod_Type");
    calls_py.unicode_type = dlsym(RTLD_DEFAULT, "PyUnicode_Type");
    calls_py.module_type = dlsym(RTLD_DEFAULT, "PyModule_Type");
    calls_py.none = dlsym(RTLD_DEFAULT, "_Py_NoneStruct");
#undef SYM
    void *need[] = { (void *)calls_py.add_pending_call, (void *)calls_py.set_profile,
                     (void *)calls_py.frame_get_code, (void *)calls_py.incref, (void *)calls_py.decref,
                     (void *)calls_py.cfunction_new, (void *)calls_py.import, (void *)calls_py.call_method,
                     (void *)calls_py.getattr, (void *)calls_py.repr, (void *)calls_py.utf8,
                     (void *)calls_py.as_long, (void *)calls_py.module_name, (void *)calls_py.err_fetch,
                     (void *)calls_py.err_restore, (void *)calls_py.err_clear, (void *)calls_py.tuple_item,
                     calls_py.cfunction_type, calls_py.unicode_type, calls_py.module_type, calls_py.none };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!need[i])
            return 0;
    return calls_send_open(fifo);
}

void calls_schedule(void)
{
    calls_send_begin();
    calls_py.add_pending_call(install, NULL);
}
