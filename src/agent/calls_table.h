/*
 * calls_table.h -- the per-thread tables of exact call counts (calls.h),
 * between the counter that fills them (calls.c) and the sender that merges
 * and sends them (calls_send.c); and the Python C API both use.
 *
 * Contract: a thread's table is written only by that thread, under the GIL
 * (calls.c); calls_tables lists every table, linked under
 * calls_tables_lock.  The sender reads them holding the GIL (no table
 * changes meanwhile) and the lock (none is added meanwhile).  Times are in
 * agent_ticks.  calls_py is filled by calls_init (dlsym: the agent is
 * built without Python's headers) and only read after.
 */
#ifndef STETHO_AGENT_CALLS_TABLE_H
#define STETHO_AGENT_CALLS_TABLE_H

#include "agent/calls.h"
#include "util/kmap.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef void pyobj;
typedef int (*calls_tracefunc)(pyobj *obj, pyobj *frame, int what, pyobj *arg);

struct calls_py {
    int (*add_pending_call)(int (*)(void *), void *);
    void (*set_profile)(calls_tracefunc, pyobj *);
    void (*set_profile_all)(calls_tracefunc, pyobj *);     /* 3.12+, else NULL */
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
    pyobj *(*get_frame)(void);                          /* borrowed */
    void *cfunction_type, *cmethod_type, *unicode_type, *module_type, *none;
};
extern struct calls_py calls_py __attribute__((visibility("hidden")));

#define CALLS_NONE UINT32_MAX

struct calls_fn {
    const void *key;            /* code object or PyMethodDef */
    pyobj *code;                /* a reference, for the label; NULL: C */
    char *label;                /* C functions: cProfile's label */
    uint64_t calls, rec_calls, cum, own;
    int32_t level;              /* open calls of it right now */
};

struct calls_edge {
    uint32_t caller, callee;
    uint64_t calls, rec_calls, cum, own;
    int32_t level;
};

struct calls_ctx {
    uint32_t fn, edge;          /* edge: CALLS_NONE at the bottom */
    uint64_t t0, sub;
};

/* Powers of two: the direct-mapped caches of the functions and the
 * caller -> callee edges last counted. */
#define CALLS_FN_CACHE 256
#define CALLS_EDGE_CACHE 512

struct calls_table {
    struct calls_table *next;
    struct calls_fn *fns;
    size_t nfns, capfns;
    struct calls_edge *edges;
    size_t nedges, capedges;
    struct calls_ctx *stack;
    size_t depth, capstack;
    struct kmap fmap, emap;
    int broken;                 /* out of memory: counting stopped here */
    struct {
        const void *key;
        uint32_t fn;
    } cache[CALLS_FN_CACHE];    /* before fmap: most calls hit a few functions */
    struct {
        uint32_t caller, callee, edge;
    } ecache[CALLS_EDGE_CACHE]; /* before emap; caller CALLS_NONE: empty */
};

extern pthread_mutex_t calls_tables_lock __attribute__((visibility("hidden")));
extern struct calls_table *calls_tables __attribute__((visibility("hidden")));

/* The array *arr of *cap elements of size bytes has room for element n
 * (doubled if not); -1: out of memory, *arr unchanged. */
int calls_grow(void **arr, size_t *cap, size_t n, size_t size)
    __attribute__((visibility("hidden")));

/* ---- calls_send.c: the merged table on the process's calls stream ----
 * calls_send_open: the FIFO (as calls_init's), 1 if open; calls_send_open_p:
 * it still is.  calls_send_begin: a new count by this process (its ids
 * start over on a new stream).  calls_send: merge every thread's table and
 * send what changed since the last send (under the GIL, guard held; the
 * Python error state must be clear or saved); last: nothing is sent after
 * it.  calls_send_close: closes the FIFO. */
int calls_send_open(const char *fifo) __attribute__((visibility("hidden")));
int calls_send_open_p(void) __attribute__((visibility("hidden")));
void calls_send_begin(void) __attribute__((visibility("hidden")));
void calls_send(int last) __attribute__((visibility("hidden")));
void calls_send_close(void) __attribute__((visibility("hidden")));

#endif
