/*
 * gcpause.c -- each collection timed through gc.callbacks (gcpause.h).
 */
#include "agent/gcpause.h"
#include "agent/agent.h"

#include <dlfcn.h>
#include <string.h>

typedef void pyobj;

/* Python's PyMethodDef, unchanged since 3.0. */
struct py_method_def {
    const char *name;
    void *meth;
    int flags;
    const char *doc;
};
#define METH_VARARGS 0x1

static struct {
    int (*add_pending_call)(int (*)(void *), void *);
    pyobj *(*cfunction_new)(struct py_method_def *, pyobj *, pyobj *);
    pyobj *(*import)(const char *);
    pyobj *(*getattr)(pyobj *, const char *);
    pyobj *(*call_method)(pyobj *, const char *, const char *, ...);
    pyobj *(*tuple_item)(pyobj *, long);
    pyobj *(*dict_item)(pyobj *, const char *);        /* borrowed */
    const char *(*utf8)(pyobj *);
    long (*as_long)(pyobj *);
    void (*decref)(pyobj *);
    void (*incref)(pyobj *);
    void (*err_clear)(void);
    pyobj *none;
} py;

/* When the collection in progress began: collections run one at a time,
 * under the GIL, so one value serves every thread. */
static uint64_t started;

static uint64_t item(pyobj *info, const char *key)
{
    pyobj *v = py.dict_item(info, key);
    long n = v ? py.as_long(v) : -1;
    return n > 0 ? (uint64_t)n : 0;
}

static pyobj *callback(pyobj *self, pyobj *args)
{
    (void)self;
    int guard = guard_enter();
    uint64_t now = agent_now();
    pyobj *phase = py.tuple_item(args, 0), *info = py.tuple_item(args, 1);
    const char *ph = phase ? py.utf8(phase) : NULL;
    if (ph && !strcmp(ph, "start")) {
        started = now;
    } else if (ph && !strcmp(ph, "stop") && info && started && now >= started) {
        struct wire_gc_pause r = { .generation = item(info, "generation"),
                                   .collected = item(info, "collected"),
                                   .uncollectable = item(info, "uncollectable"),
                                   .duration_ns = now - started };
        started = 0;
        struct agent_thread *th = atomic_load(&agent_state) == AGENT_ON ? thread_get() : NULL;
        if (th) {
            /* its stream's coarse stamps (record_time) must not go back */
            now = record_time_precise(th);
            thread_enter(th);
            uint8_t *w = chunk_reserve(th, WIRE_FIXED_GC_PAUSE, now);
            if (w) {
                r.dt_ns = now > th->t0 ? now - th->t0 : 0;
                chunk_commit(th, wire_put_gc_pause(w, &r));
            }
            thread_leave(th);
        }
    }
    py.err_clear();
    guard_leave(guard);
    py.incref(py.none);
    return py.none;
}

static struct py_method_def callback_def = { "_stetho_gc_pause", (void *)callback,
                                             METH_VARARGS, NULL };

static int install(void *unused)
{
    (void)unused;
    int guard = guard_enter();
    pyobj *fn = py.cfunction_new(&callback_def, NULL, NULL);
    pyobj *gc = py.import("gc");
    pyobj *callbacks = gc ? py.getattr(gc, "callbacks") : NULL;
    pyobj *r = callbacks && fn ? py.call_method(callbacks, "append", "O", fn) : NULL;
    pyobj *o[] = { r, callbacks, gc, fn };
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
        if (o[i])
            py.decref(o[i]);
    py.err_clear();
    guard_leave(guard);
    return 0;
}

int gcpause_init(void)
{
#define SYM(field, name) (*(void **)&py.field = dlsym(RTLD_DEFAULT, name))
    SYM(add_pending_call, "Py_AddPendingCall");
    SYM(cfunction_new, "PyCFunction_NewEx");
    SYM(import, "PyImport_ImportModule");
    SYM(getattr, "PyObject_GetAttrString");
    SYM(call_method, "PyObject_CallMethod");
    SYM(tuple_item, "PyTuple_GetItem");
    SYM(dict_item, "PyDict_GetItemString");
    SYM(utf8, "PyUnicode_AsUTF8");
    SYM(as_long, "PyLong_AsLong");
    SYM(decref, "Py_DecRef");
    SYM(incref, "Py_IncRef");
    SYM(err_clear, "PyErr_Clear");
    py.none = dlsym(RTLD_DEFAULT, "_Py_NoneStruct");
#undef SYM
    void *need[] = { (void *)py.add_pending_call, (void *)py.cfunction_new, (void *)py.import,
                     (void *)py.getattr, (void *)py.call_method, (void *)py.tuple_item,
                     (void *)py.dict_item, (void *)py.utf8, (void *)py.as_long,
                     (void *)py.decref, (void *)py.incref, (void *)py.err_clear, py.none };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!need[i])
            return 0;
    return 1;
}

void gcpause_schedule(void)
{
    py.add_pending_call(install, NULL);
}
