/*
 * remote_exec.h -- have a running CPython 3.9-3.13 execute a string of
 * Python source in its main thread, at a safe point, with the GIL held.
 *
 * Contract: py_remote_exec() stops the main thread for a moment (ptrace,
 * proc/inject.h), makes it map one private page (an injected mmap system
 * call: no lock, no allocator), copies `source` there, and makes it call
 * Py_AddPendingCall(PyRun_SimpleString, page).  CPython then runs the
 * source as it runs its own pending calls (signal handlers): in the main
 * thread, between two bytecodes, with the GIL -- so nothing is run in the
 * middle of the allocator or a C lock; but it may be in the middle of
 * Python code that is not reentrant, the import machinery's own
 * (importlib._bootstrap): source that imports must first look whether its
 * thread is inside an import (cli/memattach.c does).  It returns as
 * soon as the call is queued; the source runs when the main thread next
 * executes Python code (a thread blocked in a system call runs it when
 * the call returns).  The source must not raise (PyRun_SimpleString would
 * print the exception, and a failed pending call raises in the program):
 * wrap it in try/except BaseException.  The page stays mapped (4 KiB per
 * call): it is read after we are gone.  The main thread is never stopped
 * inside the pending-call code (that holds the lock Py_AddPendingCall
 * takes): it is let go and stopped again a moment later.  Returns 0, or -1
 * with a one-line reason in err (ptrace not permitted says how to allow it).
 */
#ifndef STETHO_CPYTHON_REMOTE_EXEC_H
#define STETHO_CPYTHON_REMOTE_EXEC_H

#include <stddef.h>
#include "cpython/target.h"

int py_remote_exec(const struct py_target *t, const char *source, char *err, size_t errlen);

/* NULL if py_remote_exec works on this interpreter, else why not (one line). */
const char *py_remote_exec_unsupported(const struct py_target *t);

#endif
