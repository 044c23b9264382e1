/*
 * merge.h -- one stack from a thread's native frames and its Python frames.
 *
 * Contract: native_merge() walks the native stack innermost first and puts,
 * in the place of each interpreter call (_PyEval_EvalFrameDefault, also its
 * compiler-split ".cold" part), the Python frames that call ran: frames up
 * to and including the next one marked `entry` (walker.h).  The
 * interpreter's own call machinery (frames of the module holding the
 * interpreter) is shown only at the top of the stack, where it is what the
 * thread is doing (a builtin, the GC, the GIL); frames beyond the outermost
 * interpreter call that belong to the interpreter, the executable or libc
 * (start-up, thread start) are left out.  interpreter and exe are module
 * paths as native_frame.module has them (either may be NULL).  When the number of interpreter calls in the native
 * stack differs from the number of entry frames (a native stack cut short,
 * an interpreter without symbols), the calls are matched innermost first,
 * the Python frames left over are put after everything else, and
 * info->complete is 0: a Python frame is never lost.  out needs room for
 * npy + nnat entries.  Returns the number of merged frames.
 */
#ifndef STETHO_NATIVE_MERGE_H
#define STETHO_NATIVE_MERGE_H

#include <stddef.h>
#include "cpython/walker.h"
#include "native/unwind.h"

struct merged_frame {
    int native;             /* 1: nat[index], 0: py[index] */
    size_t index;
};

struct merge_info {
    size_t eval_calls;      /* interpreter calls in the native stack */
    size_t entries;         /* Python frames marked entry */
    int complete;           /* the two matched one to one */
};

size_t native_merge(const struct py_frame *py, size_t npy, const struct native_frame *nat,
                    size_t nnat, const char *interpreter, const char *exe,
                    struct merged_frame *out,
                    struct merge_info *info);

#endif
