/*
 * merge.c -- native and Python frames in one stack (see merge.h).
 */
#include "native/merge.h"

#include <string.h>

enum role {
    ROLE_EVAL,              /* an interpreter call: its Python frames go here */
    ROLE_INTERP,            /* the interpreter's other functions */
    ROLE_START,             /* the C library, the executable: shown up to the
                               outermost interpreter call only (past it:
                               start-up, thread start) */
    ROLE_OTHER,             /* extensions, libraries: always shown */
};

static const char EVAL[] = "_PyEval_EvalFrameDefault";

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static enum role role_of(const struct native_frame *f, const char *interpreter,
                         const char *exe)
{
    size_t n = sizeof EVAL - 1;
    /* gcc moves the unlikely paths of big functions to NAME.cold */
    if (f->symbol && !strncmp(f->symbol, EVAL, n) && (!f->symbol[n] || f->symbol[n] == '.'))
        return ROLE_EVAL;
    if (!f->module)
        return ROLE_OTHER;
    if (interpreter && !strcmp(f->module, interpreter))
        return ROLE_INTERP;
    const char *b = base_name(f->module);
    if ((exe && !strcmp(f->module, exe)) || !strncmp(b, "libc.so", 7) ||
        !strncmp(b, "libc-", 5) || !strncmp(b, "libpthread", 10) || !strncmp(b, "ld-linux", 8))
        return ROLE_START;
    return ROLE_OTHER;
}

size_t native_merge(const struct py_frame *py, size_t npy, const struct native_frame *nat,
                    size_t nnat, const char *interpreter, const char *exe,
                    struct merged_frame *out,
                    struct merge_info *info)
{
    memset(info, 0, sizeof *info);
    size_t outer = nnat;                /* the outermost interpreter call */
    for (size_t i = 0; i < nnat; i++)
        if (role_of(&nat[i], interpreter, exe) == ROLE_EVAL) {
            info->eval_calls++;
            outer = i;
        }
    for (size_t k = 0; k < npy; k++)
        info->entries += py[k].entry != 0;

    size_t n = 0, k = 0;
    int top = 1;                        /* still in the stack's innermost run */
    for (size_t i = 0; i < nnat; i++) {
        enum role r = role_of(&nat[i], interpreter, exe);
        if (r == ROLE_EVAL) {
            top = 0;
            while (k < npy) {
                out[n++] = (struct merged_frame){ 0, k };
                if (py[k++].entry)
                    break;
            }
            continue;
        }
        if (r == ROLE_OTHER)
            top = 0;
        else if (!top && (r == ROLE_INTERP || (outer < nnat && i > outer)))
            continue;
        out[n++] = (struct merged_frame){ 1, i };
    }
    while (k < npy)
        out[n++] = (struct merged_frame){ 0, k++ };
    info->complete = info->eval_calls == info->entries;
    return n;
}
