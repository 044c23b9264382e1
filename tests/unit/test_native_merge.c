/*
 * test_native_merge.c -- native_merge(): interpreter calls replaced by the
 * Python frames they ran, interpreter machinery and start-up hidden, and a
 * mismatch kept partial without losing a Python frame.
 */
#include "check.h"
#include "native/merge.h"

#define INTERP "/usr/lib/libpython3.12.so.1.0"
#define EXE "/usr/bin/python3.12"
#define EXT "/tmp/burn.so"
#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static struct native_frame nf(const char *symbol, const char *module)
{
    struct native_frame f = { 0 };
    f.symbol = symbol;
    f.module = module;
    return f;
}

/* The merged stack as one string: "n:NAME" for native, "p:K" for py[K]. */
static const char *render(const struct native_frame *nat, const struct merged_frame *m, size_t n)
{
    static char buf[1024];
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].native)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%sn:%s", i ? " " : "",
                                    nat[m[i].index].symbol ? nat[m[i].index].symbol : "?");
        else
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%sp:%zu", i ? " " : "",
                                    m[i].index);
    }
    return buf;
}

int main(void)
{
    /* py_caller <- outer <- <module> run by one call (3.11+ inlines Python
     * calls); a C function called from py_caller runs burn_a -> burn_b */
    struct py_frame py3[3] = { { NULL, 5, PY_MARK_NONE, 0 }, { NULL, 7, PY_MARK_NONE, 0 },
                               { NULL, 9, PY_MARK_NONE, 1 } };
    struct native_frame nat[] = {
        nf("burn_b", EXT), nf("burn_a", EXT), nf("py_burn", EXT),
        nf("cfunction_vectorcall_O", INTERP), nf("_PyEval_EvalFrameDefault", INTERP),
        nf("PyEval_EvalCode", INTERP), nf("Py_RunMain", INTERP), nf("main", EXE),
        nf("__libc_start_main", LIBC), nf("_start", EXE),
    };
    size_t nnat = sizeof nat / sizeof *nat;
    struct merged_frame out[64];
    struct merge_info info;
    size_t n = native_merge(py3, 3, nat, nnat, INTERP, EXE, out, &info);
    CHECK_EQ_STR(render(nat, out, n), "n:burn_b n:burn_a n:py_burn p:0 p:1 p:2");
    CHECK(info.complete);
    CHECK_EQ_INT(info.eval_calls, 1);
    CHECK_EQ_INT(info.entries, 1);

    /* 3.9/3.10: one call per frame; the .cold part of the loop counts too */
    struct py_frame py2[2] = { { NULL, 5, PY_MARK_NONE, 1 }, { NULL, 9, PY_MARK_NONE, 1 } };
    struct native_frame nat2[] = {
        nf("__select", LIBC), nf("time_sleep", INTERP),
        nf("_PyEval_EvalFrameDefault.cold", INTERP), nf("function_code_fastcall", INTERP),
        nf("_PyEval_EvalFrameDefault", INTERP), nf("start_thread", LIBC),
    };
    n = native_merge(py2, 2, nat2, 6, INTERP, EXE, out, &info);
    /* the top run (libc, then the interpreter's builtin) is kept */
    CHECK_EQ_STR(render(nat2, out, n), "n:__select n:time_sleep p:0 p:1");
    CHECK(info.complete);

    /* a C thread calling into Python: its own code outside is kept */
    struct native_frame nat3[] = {
        nf("_PyEval_EvalFrameDefault", INTERP), nf("PyObject_Call", INTERP),
        nf("worker_loop", EXT), nf("start_thread", LIBC),
    };
    n = native_merge(py3, 3, nat3, 4, INTERP, EXE, out, &info);
    CHECK_EQ_STR(render(nat3, out, n), "p:0 p:1 p:2 n:worker_loop");

    /* the native stack cut short below the extension: no interpreter call
     * seen, every Python frame still there, after the native ones */
    struct native_frame nat4[] = { nf("burn_b", EXT), nf(NULL, NULL) };
    n = native_merge(py2, 2, nat4, 2, INTERP, EXE, out, &info);
    CHECK_EQ_STR(render(nat4, out, n), "n:burn_b n:? p:0 p:1");
    CHECK(!info.complete);
    CHECK_EQ_INT(info.eval_calls, 0);
    CHECK_EQ_INT(info.entries, 2);

    /* one interpreter call fewer than entries: matched innermost first */
    struct native_frame nat5[] = { nf("burn_b", EXT), nf("_PyEval_EvalFrameDefault", INTERP) };
    n = native_merge(py2, 2, nat5, 2, INTERP, EXE, out, &info);
    CHECK_EQ_STR(render(nat5, out, n), "n:burn_b p:0 p:1");
    CHECK(!info.complete);

    /* no native stack at all (not unwound): the Python one as it is */
    n = native_merge(py3, 3, nat, 0, INTERP, EXE, out, &info);
    CHECK_EQ_STR(render(nat, out, n), "p:0 p:1 p:2");
    CHECK(!info.complete);

    /* a symbol that only starts like the loop is not it */
    struct native_frame nat6[] = { nf("_PyEval_EvalFrameDefaultX", EXT) };
    n = native_merge(py3, 0, nat6, 1, INTERP, EXE, out, &info);
    CHECK_EQ_INT(info.eval_calls, 0);
    CHECK(info.complete);
    return CHECK_DONE();
}
