/*
 * target.h -- a CPython interpreter found in a process.
 *
 * Contract: py_target_open() finds _PyRuntime in the process's executable or
 * its libpython (through /proc/PID/root, so containers work), detects the
 * version (Py_Version, else the file's name and version string), and picks
 * the layout: a generated table for 3.9-3.12, _Py_DebugOffsets for 3.13+.
 * On failure it returns a py_status other than PY_OK and writes a one-line
 * human message (no trailing newline) into err.  The reader is the only way
 * it touches the process after discovery; no ptrace, no stopping.
 */
#ifndef STETHO_CPYTHON_TARGET_H
#define STETHO_CPYTHON_TARGET_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include "cpython/layout.h"
#include "cpython/codecache.h"
#include "proc/reader.h"

enum py_status {
    PY_OK = 0,
    PY_ENOPROC,         /* no such process */
    PY_EPERM,           /* not allowed to read it */
    PY_ENOTPYTHON,      /* no CPython runtime in it */
    PY_EVERSION,        /* a CPython we do not support */
    PY_ENOTREADY,       /* runtime found, interpreter not initialised (yet) */
    PY_EREAD,           /* memory could not be read */
};

struct py_error {
    enum py_status status;
    char msg[512];
};

struct py_target {
    pid_t pid;
    struct reader rd;
    struct py_layout layout;
    uint64_t runtime;           /* address of _PyRuntime */
    uint64_t code_type;         /* address of PyCode_Type, 0 if unknown */
    int major, minor, micro;
    char version[32];           /* "3.11.7" */
    char binary[PATH_MAX];      /* file holding _PyRuntime, as mapped */
    char exe[PATH_MAX];         /* the process's executable */
    int tid_offset;             /* 3.9/3.10: offset of the kernel tid in
                                   glibc's struct pthread; -1 = not found yet */
    struct codecache *codes;
    int walk_retries;           /* per stack, when it changes while read
                                   (walker.h); default 3 */
    uint64_t interp_head;       /* the main interpreter, kept, checked on
                                   each walk (walker.c) */
    uint64_t gil_interp, gil_base; /* 3.12+: that interpreter's GIL pointer,
                                      kept (walker.c) */
    struct framewin *win;       /* remote 3.11+ walks: frames read a few
                                   pages at a time (framewin.h); made on
                                   first use */
    struct py_threadnames *names;   /* threading's thread names, made on
                                       first use (threadnames.h) */
};

/* Discovery of a live process through the remote reader. */
enum py_status py_target_open(struct py_target *t, pid_t pid, struct py_error *err);

/* Set up a target over any reader, for a known version and runtime address
 * (used to replay a recorded image in tests). */
enum py_status py_target_init(struct py_target *t, pid_t pid, struct reader rd,
                              int major, int minor, int micro, uint64_t runtime,
                              uint64_t code_type, struct py_error *err);

void py_target_close(struct py_target *t);

/* Fills err and returns its status (printf-style). */
enum py_status py_fail(struct py_error *err, enum py_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
