/*
 * asyncio.c -- asyncio tasks and await chains, read from another process.
 *
 * The path: sys.modules["asyncio.tasks"] -> its registry of tasks (a
 * WeakSet: its `data` attribute, a set of weakrefs; 3.12+ also the plain
 * set `_eager_tasks`) -> each _asyncio.Task (TaskObj, declared only in
 * Modules/_asynciomodule.c) -> task_coro -> the coroutine's frame -> what
 * it awaits (the top of its suspended frame's value stack, which is what
 * CPython's own cr_await returns) -> ... until an object that is not a
 * coroutine or generator (the awaited Future's iterator).
 *
 * The TaskObj offsets below were read from each version's
 * Modules/_asynciomodule.c (FutureObj_HEAD then the task_ fields; x86-64)
 * and checked against the live interpreters of every supported version
 * (tools/check_asyncio_offsets.py, run by tests/e2e/test_async.py: the
 * words at id(task)+offset are id(task._fut_waiter), id(task.get_coro()),
 * id(task.get_name())); tp_basicsize of
 * _asyncio.Task, checked at every read, guards against another layout.
 * The generator and frame offsets come from each version's headers
 * (PyGenObject, PyFrameObject, _PyInterpreterFrame).  Versions:
 *
 *   3.9:  Task 184 bytes; fut_waiter 144, coro 152, name 160; fut_state 80
 *         gen: gi_frame* 16, gi_running 24; frame: f_stacktop* 72
 *   3.10: Task 192; 152, 160, 168; state 88; gen: gi_frame* 16;
 *         frame: f_valuestack* 64, f_stackdepth 80, f_state 108 (int8: -1 suspended, 0 running)
 *   3.11, 3.12: Task 176; 128, 136, 144; state 88; gen: gi_frame_state
 *         75 / 67 (int8, 0 = running), frame embedded at 80 / 72:
 *         stacktop (int) 64, localsplus 72
 *   3.13: Task 144; 112, 120, 128; state 96; gen as 3.12
 */
#include "cpython/asyncio.h"
#include "cpython/pyobj.h"
#include "cpython/pystr.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TASKS 65536
#define MAX_CHAIN 256           /* coroutines in one await chain */
#define MAX_STACK 4096          /* frames of a thread searched for a task */
#define TP_NAME 24              /* PyTypeObject.tp_name (x86-64, every version) */
#define TP_BASICSIZE 32
#define WR_OBJECT 16            /* PyWeakReference.wr_object */
#define FUT_LOOP 16             /* FutureObj.fut_loop */
#define TYPES_SEEN 32
#define LOOPS_SEEN 8

enum stack_model {
    STACK_39 = 1,               /* PyFrameObject.f_stacktop (past the top) */
    STACK_310,                  /* f_valuestack[f_stackdepth - 1] */
    STACK_311,                  /* localsplus[stacktop - 1], frame in the gen */
};

struct asyncio_layout {
    int minor;
    const char *registry;       /* asyncio.tasks' WeakSet of tasks */
    uint64_t task_size, fut_state, fut_waiter, coro, name;
    enum stack_model stack;
    uint64_t gen_frame;         /* gi_frame pointer, or gi_iframe */
    uint64_t gen_running;       /* 3.9: gi_running (char) */
    uint64_t gen_state;         /* 3.11+: gi_frame_state (int8) */
    uint64_t fr_top;            /* f_stacktop / f_stackdepth / stacktop */
    uint64_t fr_values;         /* f_valuestack / localsplus */
    uint64_t fr_state;          /* 3.10: f_state (char) */
    int running;                /* the state value of an executing frame */
};

static const struct asyncio_layout LAYOUTS[] = {
    { 9, "_all_tasks", 184, 80, 144, 152, 160, STACK_39, 16, 24, 0, 72, 0, 0, 1 },
    { 10, "_all_tasks", 192, 88, 152, 160, 168, STACK_310, 16, 0, 0, 80, 64, 108, 0 },
    { 11, "_all_tasks", 176, 88, 128, 136, 144, STACK_311, 80, 0, 75, 64, 72, 0, 0 },
    { 12, "_scheduled_tasks", 176, 88, 128, 136, 144, STACK_311, 72, 0, 67, 64, 72, 0, 0 },
    { 13, "_scheduled_tasks", 144, 96, 112, 120, 128, STACK_311, 72, 0, 67, 64, 72, 0, 0 },
};

static const struct asyncio_layout *layout_for(const struct py_target *t)
{
    for (size_t i = 0; i < sizeof LAYOUTS / sizeof LAYOUTS[0]; i++)
        if (t->major == 3 && t->minor == LAYOUTS[i].minor)
            return &LAYOUTS[i];
    return NULL;
}

const char *py_asyncio_unsupported(const struct py_target *t)
{
    if (!layout_for(t))
        return "--async reads asyncio's tasks on CPython 3.9 to 3.13 only";
    if (t->layout.is_modules == PY_NOFIELD || !py_layout_table(t->major, t->minor))
        return "--async needs this version's generated layout tables";
    return NULL;
}

enum type_class { TYPE_OTHER, TYPE_CORO, TYPE_TASK, TYPE_STR, TYPE_INT, TYPE_NONE };

struct ctx {
    struct py_target *t;
    const struct asyncio_layout *al;
    const struct py_snapshot *s;
    struct { uint64_t type; enum type_class cls; } types[TYPES_SEEN];
    size_t ntypes;
    struct py_raw_frame *raw;   /* a thread's stack, MAX_STACK */
    struct { uint64_t loop, ident; } loops[LOOPS_SEEN];
    size_t nloops;
};

static enum type_class classify(struct ctx *c, uint64_t obj, uint64_t *type_out)
{
    uint64_t type, tp_name;
    char name[32];
    if (py_read_u64(c->t, obj + c->t->layout.ob_type, &type) < 0 || !type)
        return TYPE_NONE;
    if (type_out)
        *type_out = type;
    for (size_t i = 0; i < c->ntypes; i++)
        if (c->types[i].type == type)
            return c->types[i].cls;
    if (py_read_u64(c->t, type + TP_NAME, &tp_name) < 0 ||
        reader_read(&c->t->rd, tp_name, name, sizeof name) < 0)
        return TYPE_NONE;
    name[sizeof name - 1] = 0;
    enum type_class cls = TYPE_OTHER;
    if (!strcmp(name, "coroutine") || !strcmp(name, "generator"))
        cls = TYPE_CORO;
    else if (!strcmp(name, "str"))
        cls = TYPE_STR;
    else if (!strcmp(name, "int"))
        cls = TYPE_INT;
    else if (!strcmp(name, "_asyncio.Task")) {
        uint64_t size;
        if (py_read_u64(c->t, type + TP_BASICSIZE, &size) < 0 || size != c->al->task_size)
            cls = TYPE_OTHER;           /* not the layout we know: skipped */
        else
            cls = TYPE_TASK;
    }
    if (c->ntypes < TYPES_SEEN)
        c->types[c->ntypes++] = (__typeof__(c->types[0])){ type, cls };
    return cls;
}

static int push_frame(struct py_tasks *ts, struct py_frame f)
{
    if (ts->nframes == ts->cap_frames) {
        size_t ncap = ts->cap_frames ? ts->cap_frames * 2 : 256;
        struct py_frame *nf = realloc(ts->frames, ncap * sizeof *nf);
        if (!nf)
            return -1;
        ts->frames = nf;
        ts->cap_frames = ncap;
    }
    ts->frames[ts->nframes++] = f;
    return 0;
}

static struct py_frame resolve(struct py_target *t, const struct py_raw_frame *raw)
{
    struct py_frame f = { NULL, -1, PY_MARK_NONE, 0 };
    f.code = py_resolve(t, raw, &f.line);
    if (!f.code)
        f.marker = PY_MARK_UNREADABLE;
    return f;
}

/* A coroutine's (or generator's) frame, whether it is executing, and what
 * it awaits if it is suspended in an await (else 0).  -1: no frame (done)
 * or unreadable. */
static int coro_frame(struct ctx *c, uint64_t gen, uint64_t *frame, int *running,
                      uint64_t *awaits)
{
    const struct asyncio_layout *al = c->al;
    struct py_target *t = c->t;
    *awaits = 0;
    *running = 0;
    if (al->stack == STACK_311) {
        int8_t state;
        *frame = gen + al->gen_frame;
        if (reader_read(&t->rd, gen + al->gen_state, &state, 1) < 0 || state > 0)
            return -1;                  /* completed or cleared */
        *running = state == al->running;
        int32_t top;
        if (*running || state == -2 - (t->minor >= 13) ||   /* FRAME_CREATED */
            reader_read(&t->rd, *frame + al->fr_top, &top, sizeof top) < 0)
            return 0;
        if (top < 1 || top > 1 << 20)
            return 0;
        return py_read_u64(t, *frame + al->fr_values + (uint64_t)(top - 1) * 8, awaits) < 0 ? -1
                                                                                          : 0;
    }
    if (py_read_u64(t, gen + al->gen_frame, frame) < 0 || !*frame)
        return -1;
    if (al->stack == STACK_39) {
        uint8_t gi_running;
        uint64_t top;
        int32_t lasti;
        if (reader_read(&t->rd, gen + al->gen_running, &gi_running, 1) < 0 ||
            py_read_u64(t, *frame + al->fr_top, &top) < 0 ||
            reader_read(&t->rd, *frame + t->layout.fr_lasti, &lasti, sizeof lasti) < 0)
            return -1;
        *running = gi_running != 0;
        if (*running || !top || lasti < 0)  /* not started: no await yet */
            return 0;
        return py_read_u64(t, top - 8, awaits) < 0 ? -1 : 0;
    }
    int8_t state;                       /* STACK_310 */
    int32_t depth;
    uint64_t values;
    if (reader_read(&t->rd, *frame + al->fr_state, &state, 1) < 0)
        return -1;
    *running = state == al->running;
    if (*running || state != -1 ||      /* FRAME_SUSPENDED */
        reader_read(&t->rd, *frame + al->fr_top, &depth, sizeof depth) < 0 ||
        py_read_u64(t, *frame + al->fr_values, &values) < 0)
        return 0;
    if (depth < 1 || depth > 1 << 20 || !values)
        return 0;
    return py_read_u64(t, values + (uint64_t)(depth - 1) * 8, awaits) < 0 ? -1 : 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* What the leaf of a suspended chain waits for (see asyncio.h). */
static enum py_await await_of(const struct py_frame *leaf)
{
    if (!leaf || !leaf->code)
        return PY_AWAIT_OTHER;
    const char *file = leaf->code->filename, *name = leaf->code->name;
    if (ends_with(file, "asyncio/tasks.py") && !strcmp(name, "sleep"))
        return PY_AWAIT_SLEEP;
    /* a queue's get/put waits for another task, as a Condition would */
    if (ends_with(file, "asyncio/locks.py") || ends_with(file, "asyncio/queues.py"))
        return PY_AWAIT_LOCK;
    if (ends_with(file, "asyncio/streams.py") || ends_with(file, "asyncio/selector_events.py") ||
        (ends_with(file, "asyncio/base_events.py") && strstr(name, "sock_")))
        return PY_AWAIT_IO;
    return PY_AWAIT_OTHER;
}

/* The pthread ident of the thread running a task's loop, or 0. */
static uint64_t loop_thread(struct ctx *c, uint64_t task)
{
    uint64_t loop, ident = 0;
    struct py_item *it;
    if (py_read_u64(c->t, task + FUT_LOOP, &loop) < 0 || !loop)
        return 0;
    for (size_t i = 0; i < c->nloops; i++)
        if (c->loops[i].loop == loop)
            return c->loops[i].ident;
    long n = py_obj_attrs(c->t, loop, &it, 1024);
    long i = py_find_str(c->t, it, n, "_thread_id");
    if (i >= 0 && classify(c, it[i].value, NULL) == TYPE_INT)
        py_read_ulong(c->t, it[i].value, &ident);
    free(it);
    if (c->nloops < LOOPS_SEEN)
        c->loops[c->nloops++] = (__typeof__(c->loops[0])){ loop, ident };
    return ident;
}

/* For a running task whose outermost coroutine frame is `frame`: the
 * frames of the thread above and at it into ts; *thread_id and
 * *loop_frames set.  Returns 1 if found. */
static int running_frames(struct ctx *c, uint64_t frame, struct py_tasks *ts, struct py_task *task)
{
    for (size_t i = 0; i < c->s->nthreads; i++) {
        uint64_t top;
        enum py_marker end;
        if (py_thread_frame(c->t, c->s->threads[i].tstate, &top) < 0 || !top)
            continue;
        int n = py_walk_raw(c->t, top, c->raw, MAX_STACK, &end);
        for (int k = 0; k < n; k++) {
            if (c->raw[k].addr != frame)
                continue;
            for (int j = 0; j <= k; j++)
                if (push_frame(ts, resolve(c->t, &c->raw[j])) < 0)
                    return 0;
            task->thread_id = c->s->threads[i].thread_id;
            task->loop_frames = (size_t)(n - k - 1);
            return 1;
        }
    }
    return 0;
}

static char *task_name(struct ctx *c, uint64_t obj)
{
    enum type_class cls = classify(c, obj, NULL);
    if (cls == TYPE_STR)
        return py_read_str(&c->t->rd, &c->t->layout, obj, PY_TASK_NAME_MAX);
    uint64_t v;
    char buf[32];
    if (cls == TYPE_INT && py_read_ulong(c->t, obj, &v) == 0) {
        snprintf(buf, sizeof buf, "Task-%" PRIu64, v);  /* 3.13 names tasks lazily */
        return strdup(buf);
    }
    return NULL;
}

/* One task into ts (or nothing if it is done or unreadable). */
static int read_task(struct ctx *c, uint64_t addr, struct py_tasks *ts)
{
    const struct asyncio_layout *al = c->al;
    uint8_t obj[256];
    if (classify(c, addr, NULL) != TYPE_TASK || al->task_size > sizeof obj ||
        reader_read(&c->t->rd, addr, obj, al->task_size) < 0)
        return 0;
    int32_t state;
    uint64_t waiter, coro, name;
    memcpy(&state, obj + al->fut_state, sizeof state);
    memcpy(&waiter, obj + al->fut_waiter, sizeof waiter);
    memcpy(&coro, obj + al->coro, sizeof coro);
    memcpy(&name, obj + al->name, sizeof name);
    if (state != 0 || !coro)            /* STATE_PENDING only */
        return 0;
    if (ts->n == ts->cap) {
        size_t ncap = ts->cap ? ts->cap * 2 : 16;
        struct py_task *nv = realloc(ts->v, ncap * sizeof *nv);
        if (!nv)
            return -1;
        ts->v = nv;
        ts->cap = ncap;
    }
    struct py_task *task = &ts->v[ts->n];
    *task = (struct py_task){ .addr = addr, .first = ts->nframes };
    task->name = task_name(c, name);

    /* the chain, outermost first, into raw[] */
    uint64_t frames[MAX_CHAIN];
    size_t depth = 0;
    uint64_t obj_at = coro;
    int running = 0;
    while (depth < MAX_CHAIN && classify(c, obj_at, NULL) == TYPE_CORO) {
        uint64_t frame, awaits;
        if (coro_frame(c, obj_at, &frame, &running, &awaits) < 0)
            break;
        frames[depth++] = frame;
        if (running || !awaits)
            break;
        obj_at = awaits;
    }
    if (depth && running) {
        task->running = 1;
        if (!running_frames(c, frames[0], ts, task))
            task->running = 0;          /* ended between the reads: suspended */
    }
    if (!task->running) {
        for (size_t k = depth; k-- > 0;) {
            struct py_raw_frame raw;
            enum py_marker end;
            if (py_walk_raw(c->t, frames[k], &raw, 1, &end) != 1)
                continue;
            if (push_frame(ts, resolve(c->t, &raw)) < 0)
                return -1;
        }
        task->await = waiter ? await_of(ts->nframes > task->first ? &ts->frames[task->first]
                                                                  : NULL)
                             : PY_AWAIT_READY;
        task->thread_id = loop_thread(c, addr);
    }
    task->n = ts->nframes - task->first;
    ts->n++;
    return 0;
}

/* The tasks in a set of weakrefs (weak != 0) or of tasks. */
static int read_set(struct ctx *c, uint64_t set, int weak, struct py_tasks *ts)
{
    uint64_t *keys;
    long n = py_set_keys(c->t, set, &keys, MAX_TASKS);
    int rc = 0;
    for (long i = 0; i < n && rc == 0; i++) {
        uint64_t task = keys[i];
        if (weak && py_read_u64(c->t, keys[i] + WR_OBJECT, &task) < 0)
            continue;
        rc = read_task(c, task, ts);
    }
    free(keys);
    return rc;
}

static int still_set(struct py_target *t, uint64_t obj, uint64_t set_type)
{
    uint64_t type;
    return py_read_u64(t, obj + t->layout.ob_type, &type) == 0 && type == set_type;
}

/* asyncio.tasks' sets of tasks into ts (weak = 0 if not imported yet). */
static void find_registry(struct py_target *t, const struct asyncio_layout *al,
                          struct py_tasks *ts)
{
    ts->weak = ts->eager = ts->set_type = 0;
    uint64_t mdict = py_module_dict(t, "asyncio.tasks");
    uint64_t weakset = mdict ? py_dict_get(t, mdict, al->registry) : 0, weak = 0, type;
    struct py_item *it = NULL;
    long n = weakset ? py_obj_attrs(t, weakset, &it, 64) : -1;
    long i = py_find_str(t, it, n, "data");
    if (i >= 0)
        weak = it[i].value;
    free(it);
    if (!weak || py_read_u64(t, weak + t->layout.ob_type, &type) < 0)
        return;
    ts->weak = weak;
    ts->set_type = type;
    if (al->minor >= 12)
        ts->eager = py_dict_get(t, mdict, "_eager_tasks");
}

int py_asyncio_read(struct py_target *t, const struct py_snapshot *s, struct py_tasks *out)
{
    for (size_t i = 0; i < out->n; i++)
        free(out->v[i].name);
    out->n = out->nframes = 0;
    if (py_asyncio_unsupported(t))
        return -1;
    struct ctx c = { .t = t, .al = layout_for(t), .s = s };
    if (!out->weak || !still_set(t, out->weak, out->set_type) ||
        (out->eager && !still_set(t, out->eager, out->set_type)))
        find_registry(t, c.al, out);
    if (!out->weak)
        return 0;                       /* asyncio not imported (yet) */
    c.raw = malloc(MAX_STACK * sizeof *c.raw);
    if (!c.raw)
        return -1;
    int rc = read_set(&c, out->weak, 1, out);
    if (rc == 0 && out->eager)
        rc = read_set(&c, out->eager, 0, out);
    free(c.raw);
    return rc;
}

void py_tasks_free(struct py_tasks *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        free(ts->v[i].name);
    free(ts->v);
    free(ts->frames);
    *ts = (struct py_tasks){0};
}

const char *py_await_name(enum py_await a)
{
    switch (a) {
    case PY_AWAIT_NONE: return "running";
    case PY_AWAIT_READY: return "ready";
    case PY_AWAIT_SLEEP: return "sleep";
    case PY_AWAIT_LOCK: return "lock";
    case PY_AWAIT_IO: return "io";
    case PY_AWAIT_OTHER: return "other";
    }
    return "other";
}
