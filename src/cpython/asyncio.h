/*
 * asyncio.h -- asyncio's tasks and their await chains, read from outside.
 *
 * Contract: py_asyncio_read() lists the pending tasks of the target's
 * first interpreter (asyncio.tasks' registry of tasks: the `_all_tasks`
 * WeakSet on 3.9-3.11, `_scheduled_tasks` and the `_eager_tasks` set on
 * 3.12/3.13, which the C `_asyncio` module fills) and, for each, its name
 * and its await chain, innermost frame first: for a task suspended in an
 * `await`, its coroutine's frame, then the coroutine it awaits, and so on
 * to the leaf (asyncio's own sleep(), Lock.acquire(), a stream read ...);
 * for the task running now, the frames of the thread running it, from the
 * innermost down to its coroutine's frame, and `loop_frames` tells how many
 * frames of that thread lie below it (the event loop's own).  Only tasks
 * of the C `_asyncio.Task` type are read (the pure-Python Task, used only
 * when `_asyncio` is missing, and Task subclasses are skipped).  Offsets
 * into the C TaskObj are per version (asyncio.c) and checked against the
 * type's size at every read; py_asyncio_unsupported() says (one line) when
 * a version's layout is not known, and then nothing is read.  What was
 * read may be torn (tasks run while they are read): every chain is
 * bounded and follows only coroutine and generator objects whose type
 * reads right; a torn chain is cut short, never invented.  The registry's
 * sets are looked up once (asyncio.tasks' globals are never replaced) and
 * kept in `struct py_tasks` while their type still reads as set's.
 */
#ifndef STETHO_CPYTHON_ASYNCIO_H
#define STETHO_CPYTHON_ASYNCIO_H

#include <stddef.h>
#include <stdint.h>
#include "cpython/target.h"
#include "cpython/walker.h"

/* What a suspended task awaits, from the leaf of its await chain: the
 * awaited Future is the same type for a sleep, a lock and a socket read;
 * the asyncio function that made it says which. */
enum py_await {
    PY_AWAIT_NONE = 0,      /* running */
    PY_AWAIT_READY,         /* suspended but scheduled: waits for the loop */
    PY_AWAIT_SLEEP,         /* asyncio.sleep() */
    PY_AWAIT_LOCK,          /* asyncio.locks: Lock, Event, Condition, Semaphore */
    PY_AWAIT_IO,            /* asyncio streams and loop.sock_*() */
    PY_AWAIT_OTHER,         /* any other Future */
};

#define PY_TASK_NAME_MAX 255    /* characters kept of a task's name */

struct py_task {
    uint64_t addr;
    char *name;             /* malloc'd UTF-8 */
    uint64_t thread_id;     /* its loop's thread (pthread ident), 0: unknown */
    int running;            /* its coroutine is executing now */
    enum py_await await;
    size_t first, n;        /* frames[first .. first+n), innermost first */
    size_t loop_frames;     /* running: frames of its thread below the task's */
};

struct py_tasks {
    struct py_task *v;
    size_t n, cap;
    struct py_frame *frames;
    size_t nframes, cap_frames;
    uint64_t weak, eager;       /* the registry's sets, found once and kept */
    uint64_t set_type;          /*   while they still are sets */
};

/* NULL if tasks can be read on this target's version, else why not. */
const char *py_asyncio_unsupported(const struct py_target *t);

/* The tasks now, their threads matched against the snapshot s (just
 * walked).  Returns 0 (no tasks if asyncio is not imported), -1 if
 * unsupported or out of memory. */
int py_asyncio_read(struct py_target *t, const struct py_snapshot *s, struct py_tasks *out);

void py_tasks_free(struct py_tasks *ts);

const char *py_await_name(enum py_await a);

#endif
