/*
 * calls_monitor.c -- the counting events from sys.monitoring (3.12+): C
 * callbacks for calls.c, as calls.h says.
 *
 * Why not the C profile hook there: on 3.12+ CPython builds that hook on
 * sys.monitoring itself, and for every Python event it makes the frame
 * object the hook is given (materializing it), then we take a reference
 * to its code and drop it again.  Our own callbacks get the code object
 * (PY_*) or the callable and its first argument (CALL, C_RETURN, C_RAISE)
 * directly, as vectorcall arguments: nothing is made, looked up by name or
 * reference-counted per event.
 *
 * The events are the ones cProfile registers on 3.12+ (Modules/_lsprof.c,
 * callback_table), with its meaning: PY_START, PY_RESUME and PY_THROW
 * enter the code object, PY_RETURN, PY_YIELD and PY_UNWIND leave it; CALL
 * enters a C function (a builtin, or a method descriptor called with its
 * self: `lst.append(x)` calls list.append's descriptor on 3.12+), C_RETURN
 * and C_RAISE leave it.  Other callables at CALL (Python functions, which
 * PY_START counts; classes) are not counted, as in cProfile.
 *
 * No callback returns DISABLE: a location can stop sending an event only
 * if it will never need counting again, and none qualifies -- every start
 * and return of a code object is a call to count, and a CALL site that
 * called a Python function may call a builtin next time (`f(x)` with
 * another f), which DISABLE would then miss for the rest of the run.
 */
#include "agent/calls.h"
#include "agent/agent.h"

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

typedef void pyobj;
typedef pyobj *(*fastcall)(pyobj *self, pyobj *const *args, ptrdiff_t nargs);

#define METH_FASTCALL 0x80

/* PyMethodDescrObject: PyDescr_COMMON (object header, d_type, d_name,
 * d_qualname), then d_method -- unchanged since 3.3. */
#define DESCR_METHOD 5

static struct {
    pyobj *(*import)(const char *);
    pyobj *(*getattr)(pyobj *, const char *);
    pyobj *(*call_method)(pyobj *, const char *, const char *, ...);
    pyobj *(*cfunction_new)(struct py_method_def *, pyobj *, pyobj *);
    long (*as_long)(pyobj *);
    void (*decref)(pyobj *);
    void (*err_clear)(void);
    void *cfunction_type, *cmethod_type, *descr_type, *none;
} mon;

static inline void *type_of(pyobj *o)
{
    return ((void **)o)[1];
}

/* What cProfile counts at CALL, C_RETURN and C_RAISE: a C function object
 * (key: its PyMethodDef, self and module for the label), or a method
 * descriptor called with a self (key: the descriptor's PyMethodDef). */
static const void *c_callee(pyobj *const *args, ptrdiff_t nargs, struct calls_who *who)
{
    if (nargs < 4)
        return NULL;
    pyobj *callable = args[2];
    void *type = type_of(callable);
    if (type == mon.cfunction_type || type == mon.cmethod_type) {
        who->ml = ((struct py_method_def *const *)callable)[2];
        who->self = ((pyobj **)callable)[3];
        who->module = ((pyobj **)callable)[4];
        return who->ml;
    }
    if (type == mon.descr_type) {
        who->ml = ((struct py_method_def *const *)callable)[DESCR_METHOD];
        who->self = args[3];
        who->module = NULL;
        return who->ml;
    }
    return NULL;
}

static pyobj *on_start(pyobj *self, pyobj *const *args, ptrdiff_t nargs)
{
    (void)self;
    if (LIKELY(nargs >= 1))
        calls_enter(args[0], NULL);
    return mon.none;        /* immortal since 3.12: no reference to take */
}

static pyobj *on_return(pyobj *self, pyobj *const *args, ptrdiff_t nargs)
{
    (void)self;
    if (LIKELY(nargs >= 1))
        calls_leave(args[0]);
    return mon.none;
}

static pyobj *on_call(pyobj *self, pyobj *const *args, ptrdiff_t nargs)
{
    (void)self;
    struct calls_who who;
    const void *key = c_callee(args, nargs, &who);
    if (key)
        calls_enter(key, &who);
    return mon.none;
}

static pyobj *on_c_return(pyobj *self, pyobj *const *args, ptrdiff_t nargs)
{
    (void)self;
    struct calls_who who;
    const void *key = c_callee(args, nargs, &who);
    if (key)
        calls_leave(key);
    return mon.none;
}

/* The floor's callback (calls.h: floor_only): the event delivered, nothing
 * done. */
static pyobj *on_nothing(pyobj *self, pyobj *const *args, ptrdiff_t nargs)
{
    (void)self;
    (void)args;
    (void)nargs;
    return mon.none;
}

static const struct {
    const char *event;
    struct py_method_def def;
} callbacks[] = {
    { "PY_START", { "_stetho_py_start", (void *)(fastcall)on_start, METH_FASTCALL, NULL } },
    { "PY_RESUME", { "_stetho_py_resume", (void *)(fastcall)on_start, METH_FASTCALL, NULL } },
    { "PY_THROW", { "_stetho_py_throw", (void *)(fastcall)on_start, METH_FASTCALL, NULL } },
    { "PY_RETURN", { "_stetho_py_return", (void *)(fastcall)on_return, METH_FASTCALL, NULL } },
    { "PY_YIELD", { "_stetho_py_yield", (void *)(fastcall)on_return, METH_FASTCALL, NULL } },
    { "PY_UNWIND", { "_stetho_py_unwind", (void *)(fastcall)on_return, METH_FASTCALL, NULL } },
    { "CALL", { "_stetho_call", (void *)(fastcall)on_call, METH_FASTCALL, NULL } },
    { "C_RETURN", { "_stetho_c_return", (void *)(fastcall)on_c_return, METH_FASTCALL, NULL } },
    { "C_RAISE", { "_stetho_c_raise", (void *)(fastcall)on_c_return, METH_FASTCALL, NULL } },
};
#define NCALLBACKS (sizeof callbacks / sizeof callbacks[0])
/* PyCFunction_NewEx keeps a pointer to its PyMethodDef: these live as long
 * as the process. */
static struct py_method_def defs[NCALLBACKS];

static void drop(pyobj *o)
{
    if (o)
        mon.decref(o);
}

/* A tool id nobody holds: 4 first (ids 3 and 4 have no assigned role;
 * PROFILER_ID, 2, is cProfile's on 3.12+, so a program that runs cProfile
 * under `--calls` keeps working), then any other. */
static int take_tool_id(pyobj *monitoring)
{
    static const int order[] = { 4, 3, 2, 1, 0, 5 };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        pyobj *r = mon.call_method(monitoring, "get_tool", "i", order[i]);
        int free_id = r == mon.none;
        drop(r);
        if (!free_id)
            continue;
        r = mon.call_method(monitoring, "use_tool_id", "is", order[i], "stetho");
        drop(r);
        if (r)
            return order[i];
        mon.err_clear();
    }
    mon.err_clear();
    return -1;
}

static int tool_id = -1;        /* ours, while installed */

void calls_monitor_uninstall(void)
{
    if (tool_id < 0)
        return;
    pyobj *sys = mon.import("sys");
    pyobj *monitoring = sys ? mon.getattr(sys, "monitoring") : NULL;
    pyobj *r = monitoring ? mon.call_method(monitoring, "set_events", "ii", tool_id, 0) : NULL;
    drop(r);
    for (size_t i = 0; monitoring && i < NCALLBACKS; i++) {
        pyobj *events = mon.getattr(monitoring, "events");
        pyobj *ev = events ? mon.getattr(events, callbacks[i].event) : NULL;
        long bit = ev ? mon.as_long(ev) : -1;
        drop(ev);
        drop(events);
        r = bit > 0 ? mon.call_method(monitoring, "register_callback", "ilO", tool_id, bit,
                                      mon.none)
                    : NULL;
        drop(r);
    }
    r = monitoring ? mon.call_method(monitoring, "free_tool_id", "i", tool_id) : NULL;
    drop(r);
    drop(monitoring);
    drop(sys);
    mon.err_clear();
    tool_id = -1;
}

int calls_monitor_install(int floor_only)
{
#define SYM(field, name) (*(void **)&mon.field = dlsym(RTLD_DEFAULT, name))
    SYM(import, "PyImport_ImportModule");
    SYM(getattr, "PyObject_GetAttrString");
    SYM(call_method, "PyObject_CallMethod");
    SYM(cfunction_new, "PyCFunction_NewEx");
    SYM(as_long, "PyLong_AsLong");
    SYM(decref, "Py_DecRef");
    SYM(err_clear, "PyErr_Clear");
#undef SYM
    mon.cfunction_type = dlsym(RTLD_DEFAULT, "PyCFunction_Type");
    mon.cmethod_type = dlsym(RTLD_DEFAULT, "PyCMethod_Type");
    mon.descr_type = dlsym(RTLD_DEFAULT, "PyMethodDescr_Type");
    mon.none = dlsym(RTLD_DEFAULT, "_Py_NoneStruct");
    /* PyCMethod_Type is 3.9+, so all of these exist where sys.monitoring does */
    if (!mon.import || !mon.getattr || !mon.call_method || !mon.cfunction_new ||
        !mon.as_long || !mon.decref || !mon.err_clear || !mon.cfunction_type ||
        !mon.cmethod_type || !mon.descr_type || !mon.none)
        return 0;
    pyobj *sys = mon.import("sys");
    pyobj *monitoring = sys ? mon.getattr(sys, "monitoring") : NULL;
    pyobj *events = monitoring ? mon.getattr(monitoring, "events") : NULL;
    drop(sys);
    if (!events) {                  /* before 3.12 */
        drop(monitoring);
        mon.err_clear();
        return 0;
    }
    int id = take_tool_id(monitoring), ok = id >= 0;
    long mask = 0;
    for (size_t i = 0; ok && i < NCALLBACKS; i++) {
        pyobj *ev = mon.getattr(events, callbacks[i].event);
        long bit = ev ? mon.as_long(ev) : -1;
        drop(ev);
        defs[i] = callbacks[i].def;
        if (floor_only)
            defs[i].meth = (void *)(fastcall)on_nothing;
        pyobj *fn = bit > 0 ? mon.cfunction_new(&defs[i], NULL, NULL) : NULL;
        pyobj *old = fn ? mon.call_method(monitoring, "register_callback", "ilO", id, bit, fn)
                        : NULL;
        drop(fn);
        drop(old);
        ok = old != NULL;
        mask |= bit;
    }
    pyobj *r = ok ? mon.call_method(monitoring, "set_events", "il", id, mask) : NULL;
    ok = r != NULL;
    drop(r);
    if (!ok && id >= 0) {
        r = mon.call_method(monitoring, "free_tool_id", "i", id);
        drop(r);
    }
    mon.err_clear();
    drop(events);
    drop(monitoring);
    tool_id = ok ? id : -1;
    return ok;
}
