/*
 * walker.h -- read every Python thread's stack: interpreters -> thread
 * states -> frames -> code objects.
 *
 * Contract: py_walk() fills a snapshot (reused between calls to avoid
 * allocation) with one entry per thread state, innermost frame first.  It
 * never stops the target, so what it reads may be torn: every loop is
 * bounded, frame cycles are detected, and a frame that cannot be read ends
 * its stack with a marker frame (code == NULL, marker set) instead of
 * failing the whole walk.  A thread running while it is read can give a
 * chain no program could have (frames of different moments); so each stack
 * is read again in one batched read right after its walk, and walked anew
 * (up to t->walk_retries times) until the chain, the code of every frame
 * and the position of every caller read the same twice.  Returns 0, or -1 if not even the interpreter list
 * could be read (the process exited or is not running Python any more).
 */
#ifndef STETHO_CPYTHON_WALKER_H
#define STETHO_CPYTHON_WALKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "cpython/target.h"

#define PY_MAX_DEPTH 16384
#define PY_MAX_THREADS 4096
#define PY_GC_GENERATIONS 3

enum py_marker {
    PY_MARK_NONE = 0,
    PY_MARK_UNREADABLE,     /* the rest of this stack could not be read */
    PY_MARK_TRUNCATED,      /* deeper than PY_MAX_DEPTH or a frame cycle */
};

struct py_frame {
    const struct code_info *code;   /* valid until the next py_walk */
    int line;                       /* -1 if unknown */
    enum py_marker marker;
    int entry;              /* the outermost frame of its interpreter call
                               (_PyEval_EvalFrameDefault): where a native
                               stack has that call (native/merge.h) */
};

struct py_thread {
    uint64_t tstate;
    uint64_t thread_id;     /* pthread_t */
    pid_t tid;              /* kernel thread id, 0 if unknown */
    int holds_gil;          /* 1, 0, or -1 if unknown */
    int torn;               /* its stack kept changing while read: it may
                               mix moments (see walk_retries) */
    size_t first, n;        /* frames[first .. first+n) of the snapshot */
};

/* A frame as read, before its code object is decoded: what a caller that
 * caches by identity (the agent) compares. */
struct py_raw_frame {
    uint64_t addr;          /* the frame */
    uint64_t prev;          /* its caller's frame, as read */
    uint64_t instr;         /* its instruction pointer (3.11+) or f_lasti
                               (sign-extended), as read: with code, where
                               it is (py_raw_pos) */
    uint64_t code;          /* its code object */
    int entry;              /* see py_frame.entry */
};

/* A raw frame's instruction offset in line-table units; -1: not started.
 * Not kept in the frame: the walk leaves it to the few frames that are
 * resolved (the agent walks on every allocation, resolves a level or two). */
static inline int64_t py_raw_pos(const struct py_layout *l, const struct py_raw_frame *f)
{
    if (l->frame_model == PY_FRAMES_OBJECT) {
        int64_t lasti = (int64_t)f->instr;
        /* 3.9 counts f_lasti in bytes, 3.10 in code units; its table in bytes */
        return l->linetable_kind == PY_LINES_310 && lasti >= 0 ? lasti * 2 : lasti;
    }
    /* unsigned: a torn read may give any two values */
    return (int64_t)(f->instr - (f->code + l->co_code_adaptive)) / 2;
}

struct py_snapshot {
    struct py_thread *threads;
    size_t nthreads, cap_threads;
    struct py_frame *frames;
    size_t nframes, cap_frames;
    uint64_t interp;        /* the main interpreter, as read by this walk */
    int gc_collecting;      /* 1, 0, or -1 if unknown */
    int64_t gc_stats[PY_GC_GENERATIONS][3];  /* the collector's counters, as
                               read with the interpreter (cpython/gcstats.h) */
    int gc_stats_ok;        /*   1 if they were read */
    uint64_t gil_addr;      /* the GIL's struct (a futex wait inside it is a
                               wait for the GIL), 0 if unknown */
    struct py_raw_frame *raw;   /* scratch for walks: */
    uint8_t *windows;           /*   code identity windows */
    struct reader_iov *iov;     /*   batched checks */
    uint32_t *check;            /*   per frame: its code's piece in iov */
    const struct code_info **piece_ci;  /* per piece: its code */
    struct line_memo *memo;     /* (code, position) -> line (walker.c) */
    uint64_t memo_gen;          /*   of this code cache generation */
    size_t cap_raw;
};

int py_walk(struct py_target *t, struct py_snapshot *s);

/* The frames of one chain starting at `frame` (a thread state's current
 * frame), innermost first, shims skipped: at most max; *end says why the
 * walk stopped early (PY_MARK_NONE if it reached the root).  Returns the
 * number of frames.  One walk logic for every reader, compiled from one
 * source with the reader a constant -- for the local reader (the agent,
 * on every allocation, of its own thread: once per frame model, and with
 * no cycle check, since those frames do not change under the walk) a
 * frame's fields are plain loads in place, nothing is called per frame;
 * any other reader copies each frame out through reader_read. */
int py_walk_raw(struct py_target *t, uint64_t frame, struct py_raw_frame *raw, size_t max,
                enum py_marker *end);

/* py_walk_raw for the local reader, ending early at the frame whose
 * address is stop (0: none): *stopped is then 1 if that frame is raw[n-1],
 * 2 if it was skipped (pushed, not started), else 0.  The agent stops at a
 * frame whose callers it knows unchanged (agent/evalhook.c). */
int py_walk_raw_to(struct py_target *t, uint64_t frame, uint64_t stop, struct py_raw_frame *raw,
                   size_t max, enum py_marker *end, int *stopped);

/* The first frame of a thread state (following 3.11/3.12's cframe); 0 if
 * none; -1 if unreadable. */
int py_thread_frame(struct py_target *t, uint64_t tstate, uint64_t *frame);

/* Decode a raw frame's code (through the cache) and its current line. */
const struct code_info *py_resolve(struct py_target *t, const struct py_raw_frame *f,
                                   int *line);
void py_snapshot_free(struct py_snapshot *s);

/* The name to print for a frame: the function, or "[unreadable]" etc. */
const char *py_frame_name(const struct py_frame *f);
const char *py_frame_file(const struct py_frame *f);

#endif
