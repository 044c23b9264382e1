/*
 * threadnames.h -- the names Python gave its threads, read from outside.
 *
 * Contract: py_threadnames_update() reads `threading._active` (ident ->
 * Thread) of the target's first interpreter and each listed thread's
 * `_name`, for the threads of a snapshot, matching them by pthread ident
 * (py_thread.thread_id) and checking the Thread's `_native_id` against the
 * kernel tid (idents are reused as soon as a thread ends).  It reads rarely: when a thread of the snapshot
 * was not there at the previous read, or is still nameless after fewer
 * than 3 reads (it may not have registered itself yet), at most every
 * 50 ms; else every second.  Between reads it costs a binary search.  py_thread_name() gives the
 * latest name read for an ident, or NULL: before `threading` is imported,
 * for a thread it does not know, on a version without a generated table
 * (a newer CPython read through _Py_DebugOffsets), and whenever a read was
 * torn or implausible -- never a made-up name, never a crash.  The cache
 * belongs to the target and is freed by py_target_close().  What it
 * cannot see: a rename between two reads shows at the next read (at most a
 * second late); threads of sub-interpreters.
 */
#ifndef STETHO_CPYTHON_THREADNAMES_H
#define STETHO_CPYTHON_THREADNAMES_H

#include <stdint.h>
#include "cpython/target.h"
#include "cpython/walker.h"

struct py_threadnames;

/* now_ns: any monotonic clock, used only to pace the reads. */
void py_threadnames_update(struct py_target *t, const struct py_snapshot *s, uint64_t now_ns);

/* The Python name of a thread of the snapshot, or NULL; valid until the
 * next update. */
const char *py_thread_name(const struct py_target *t, const struct py_thread *th);

void py_threadnames_free(struct py_threadnames *n);

#endif
