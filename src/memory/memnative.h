/*
 * memnative.h -- `--native` for memory: the agent's native stacks (wire.h
 * NATIVE, MODULE) named and merged with its Python stacks into capture
 * stacks, for memtrack.c.
 *
 * Contract: per thread stream, an mn_thread keeps the Python stack tree as
 * the agent defined it (mn_python: each STACK's parent, capture frame and
 * `entry`) and its native stack tree (mn_native); per process, an mn_proc
 * keeps the modules (mn_module) in a native/unwind.h session that names
 * addresses from them, so a process that is gone by the time its last
 * chunks are read is still named.  mn_stack() gives the capture stack of a
 * block allocated at (Python stack, native stack): the native frames named
 * (native/capframe.h: the same frames as the time sampler's), the
 * allocator's own frames at the top left out (malloc & co, PyMem_* and
 * PyObject_* entry points: the innermost frame shown is the code that
 * asked for memory), merged by native/merge.h (the same rules as time);
 * each distinct pair is merged once, and counted in *stats (partially
 * merged ones too: their Python frames are all kept).  Ids are checked:
 * a parent must be defined before its child (so a tree has no cycle); -1 or
 * 0 when a record names what is not defined.  The slots (mn_thread **,
 * mn_proc **) are the caller's, zeroed at first; the functions create what
 * they point to when needed.
 */
#ifndef STETHO_MEMORY_MEMNATIVE_H
#define STETHO_MEMORY_MEMNATIVE_H

#include <stdint.h>
#include "capture/capture.h"
#include "wire/wire.h"

struct mn_thread;
struct mn_proc;

struct mn_stats {
    uint64_t stacks;        /* (Python, native) pairs merged */
    uint64_t partial;       /* of which partially (native/merge.h) */
};

/* STACK id -> (parent, capture frame, entry): 0, or -1 if bad. */
int mn_python(struct mn_thread **t, uint64_t id, uint64_t parent, uint32_t frame, int entry);
/* NATIVE: 0, or -1 if bad. */
int mn_native(struct mn_thread **t, const struct wire_native *r);
/* MODULE: 0, or -1 if bad (a module that cannot be named is not bad). */
int mn_module(struct mn_proc **p, const struct wire_module *r);
/* 1 if native id is defined in t. */
int mn_has_native(const struct mn_thread *t, uint64_t native);
/* The capture stack of (py, native); py 0: no Python frames.  0 if out of
 * memory or native is not defined. */
uint32_t mn_stack(struct capture_writer *w, struct mn_proc *p, struct mn_thread *t,
                  uint64_t py, uint64_t native, struct mn_stats *stats);
/* A new stream of the thread: its ids start again. */
void mn_thread_reset(struct mn_thread *t);
void mn_thread_free(struct mn_thread *t);
void mn_proc_free(struct mn_proc *p);

#endif
