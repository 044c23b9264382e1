/*
 * calls.h -- exact call counts (`stetho run --calls`): the agent counts
 * every call of every Python function and of every C function called from
 * Python, per function and per caller -> callee edge, with cProfile's
 * meaning of each figure (calls, primitive calls, own and cumulative time).
 *
 * Contract: calls_init() is given $STETHO_AGENT_CALLS (protocol.h) at
 * load -- the FIFO stetho reads, the same as memory's if memory is
 * recorded too; NULL/empty: off -- opens it and returns 1 if counting is
 * wanted and possible.  calls_schedule() is called once, on the
 * interpreter's main thread, when it is initialized (agent_try_start): it
 * only queues a pending call, so nothing runs inside the allocator hook
 * that noticed; the pending call installs the counting events -- on 3.12+
 * sys.monitoring callbacks (calls_monitor.c: every thread, those started
 * later too), before that the C profile hook on every thread (threads
 * started later through threading's profile hook) -- and an atexit
 * function.  The table is sent on the process's calls stream (wire.h,
 * CALLS) every second, from the first call counted after the second is
 * over, and at exit (the atexit function), by the process that scheduled
 * the count (a forked child sends nothing; an exec'd one, followed with
 * --subprocesses, counts and sends its own).  Every counting step runs
 * under the GIL; no Python object is created per event.
 */
#ifndef STETHO_AGENT_CALLS_H
#define STETHO_AGENT_CALLS_H

int calls_init(const char *fifo) __attribute__((visibility("hidden")));
void calls_schedule(void) __attribute__((visibility("hidden")));

/* Python's PyMethodDef, unchanged since 3.0: a C function's identity. */
struct py_method_def {
    const char *name;
    void *meth;
    int flags;
    const char *doc;
};

/* What a counted C function is, for its label when first seen: its method
 * definition with the self and module it was called through (cProfile's
 * label is made from them).  A code object needs none: it is its own key. */
struct calls_who {
    const struct py_method_def *ml;
    void *self, *module;
};

/* Between calls.c and calls_monitor.c, under the GIL: the event sources
 * enter and leave a call of the function `key` (code object, who NULL; or
 * PyMethodDef, who its calls_who); calls_monitor_install() returns 1 if sys.monitoring now
 * sends the events (3.12+, a tool id was free), 0 to use the profile
 * hook; with floor_only its callbacks return at once (STETHO_CALLS_FLOOR,
 * protocol.h: the cost of the events alone, for bench/). */
void calls_enter(const void *key, const struct calls_who *who)
    __attribute__((visibility("hidden")));
void calls_leave(const void *key) __attribute__((visibility("hidden")));
int calls_monitor_install(int floor_only) __attribute__((visibility("hidden")));
void calls_monitor_uninstall(void) __attribute__((visibility("hidden")));

/* From inside (inside.h, the Python API), under the GIL: count from now
 * on, sending to the FIFO fifo (as calls_init's), on every thread -- on 3.9-3.11 only the
 * calling thread and threads started later: the profile hook of a running
 * thread can only be set by itself; then stop, send the table and close
 * the FIFO.  -1 if counting already (or not, to stop) or Python lacks what is
 * needed.  Each start counts anew. */
int calls_start_inside(const char *fifo) __attribute__((visibility("hidden")));
int calls_stop_inside(void) __attribute__((visibility("hidden")));

#endif
