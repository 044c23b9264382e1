/*
 * test_layout.c -- sanity checks on the generated CPython layout tables
 * (src/cpython/layout_tables.c): every table present is for the version it
 * is returned for, uses the right frame model and line-table kind, has
 * PY_NOFIELD exactly where a field does not exist, and has distinct offsets
 * where two fields share a structure.
 */
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "cpython/layout.h"

#define NF PY_NOFIELD

/* No two of the n offsets (of fields in one structure) are equal. */
static int distinct(const uint64_t *v, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (v[i] == v[j])
                return 0;
    return 1;
}

/* A real offset: not PY_NOFIELD, and below `limit` (a generous structure size). */
static int plausible(uint64_t off, uint64_t limit)
{
    return off != NF && off < limit;
}

static void check_table(const struct py_layout *l, int minor)
{
    printf("# CPython 3.%d\n", minor);
    CHECK_EQ_INT(l->major, 3);
    CHECK_EQ_INT(l->minor, minor);

    /* Frame model and line table encoding. */
    CHECK_EQ_INT(l->frame_model, minor <= 10 ? PY_FRAMES_OBJECT : PY_FRAMES_INTERP);
    CHECK_EQ_INT(l->linetable_kind, minor == 9 ? PY_LINES_LNOTAB
                                    : minor == 10 ? PY_LINES_310
                                                  : PY_LINES_LOCATIONS);

    /* _PyRuntimeState */
    CHECK(plausible(l->rt_interpreters_head, 1 << 20));
    CHECK(plausible(l->rt_main_thread, 1 << 20));
    if (minor <= 11) {
        CHECK(plausible(l->rt_gil_locked, 1 << 20));
        CHECK(plausible(l->rt_gil_holder, 1 << 20));
        CHECK(plausible(l->rt_tstate_current, 1 << 20));
        uint64_t rt[] = { l->rt_interpreters_head, l->rt_main_thread,
                          l->rt_gil_locked, l->rt_gil_holder, l->rt_tstate_current };
        CHECK(distinct(rt, 5));
    } else {
        CHECK(l->rt_gil_locked == NF);
        CHECK(l->rt_gil_holder == NF);
        CHECK(l->rt_tstate_current == NF);
        CHECK(l->rt_interpreters_head != l->rt_main_thread);
    }

    /* PyInterpreterState */
    uint64_t is[] = { l->is_next, l->is_threads_head, l->is_gc_collecting };
    CHECK(plausible(l->is_next, 1 << 20));
    CHECK(plausible(l->is_threads_head, 1 << 20));
    CHECK(plausible(l->is_gc_collecting, 1 << 20));
    CHECK(distinct(is, 3));
    if (minor >= 12) {
        CHECK(plausible(l->is_gil_ptr, 1 << 20));
        CHECK(l->is_gil_ptr % 8 == 0);           /* a pointer field */
        /* offsets inside struct _gil_runtime_state */
        CHECK(plausible(l->is_gil_locked, 256));
        CHECK(plausible(l->is_gil_holder, 256));
        CHECK(l->is_gil_locked != l->is_gil_holder);
        CHECK(l->is_gil_ptr != l->is_next && l->is_gil_ptr != l->is_threads_head);
    } else {
        CHECK(l->is_gil_ptr == NF);
        CHECK(l->is_gil_locked == NF);
        CHECK(l->is_gil_holder == NF);
    }

    /* PyThreadState */
    CHECK(plausible(l->ts_next, 4096));
    CHECK(plausible(l->ts_interp, 4096));
    CHECK(plausible(l->ts_frame, 4096));
    CHECK(plausible(l->ts_thread_id, 4096));
    if (minor >= 11) {
        CHECK(plausible(l->ts_native_thread_id, 4096));
        uint64_t ts[] = { l->ts_next, l->ts_interp, l->ts_frame,
                          l->ts_thread_id, l->ts_native_thread_id };
        CHECK(distinct(ts, 5));
    } else {
        CHECK(l->ts_native_thread_id == NF);
        uint64_t ts[] = { l->ts_next, l->ts_interp, l->ts_frame, l->ts_thread_id };
        CHECK(distinct(ts, 4));
    }
    if (minor == 11 || minor == 12)
        CHECK(plausible(l->cframe_current_frame, 256));
    else
        CHECK(l->cframe_current_frame == NF);
    /* _status: one 32-bit word of bit fields, `active` one bit of it */
    if (minor >= 12) {
        CHECK(plausible(l->ts_status, 4096));
        uint64_t ts[] = { l->ts_next, l->ts_interp, l->ts_frame, l->ts_thread_id,
                          l->ts_status };
        CHECK(distinct(ts, 5));
        CHECK(l->ts_status_active != 0 && l->ts_status_active <= UINT32_MAX &&
              (l->ts_status_active & (l->ts_status_active - 1)) == 0);
    } else {
        CHECK(l->ts_status == NF);
        CHECK(l->ts_status_active == NF);
    }

    /* Frames */
    CHECK(plausible(l->fr_previous, l->fr_size));
    CHECK(plausible(l->fr_code, l->fr_size));
    CHECK(l->fr_previous != l->fr_code);
    if (minor <= 10) {
        CHECK(plausible(l->fr_lasti, l->fr_size));
        CHECK(l->fr_lasti + 4 <= l->fr_size);    /* int f_lasti is covered */
        CHECK(l->fr_lasti != l->fr_previous && l->fr_lasti != l->fr_code);
        CHECK(l->fr_instr == NF);
        CHECK(l->fr_owner == NF);
        CHECK_EQ_INT(l->fr_instr_is_prev, 0);
    } else {
        CHECK(l->fr_lasti == NF);
        CHECK(plausible(l->fr_instr, l->fr_size));
        CHECK(plausible(l->fr_owner, l->fr_size));
        uint64_t fr[] = { l->fr_previous, l->fr_code, l->fr_instr, l->fr_owner };
        CHECK(distinct(fr, 4));
        CHECK_EQ_INT(l->fr_instr_is_prev, minor <= 12 ? 1 : 0);
    }

    /* PyCodeObject: every field we read lies inside co_size. */
    CHECK(plausible(l->co_filename, l->co_size));
    CHECK(plausible(l->co_name, l->co_size));
    CHECK(plausible(l->co_firstlineno, l->co_size));
    CHECK(plausible(l->co_linetable, l->co_size));
    if (minor >= 11) {
        CHECK(plausible(l->co_qualname, l->co_size));
        CHECK(l->co_code_adaptive != NF);
        CHECK(l->co_code_adaptive <= l->co_size);
        uint64_t co[] = { l->co_filename, l->co_name, l->co_qualname,
                          l->co_firstlineno, l->co_linetable, l->co_code_adaptive };
        CHECK(distinct(co, 6));
    } else {
        CHECK(l->co_qualname == NF);
        CHECK(l->co_code_adaptive == NF);
        uint64_t co[] = { l->co_filename, l->co_name, l->co_firstlineno,
                          l->co_linetable };
        CHECK(distinct(co, 4));
    }

    /* str / bytes: PyObject header is 16 bytes on x86_64 (non-debug). */
    CHECK_EQ_INT(l->str_length, 16);
    CHECK(l->str_state > l->str_length);
    CHECK(l->str_state < l->str_ascii_size);
    CHECK(l->str_ascii_size < l->str_compact_size);
    CHECK_EQ_INT(l->bytes_size, 16);
    CHECK(l->bytes_sval > l->bytes_size);
}

int main(void)
{
    int found = 0;
    for (int minor = 0; minor <= 20; minor++) {
        const struct py_layout *l = py_layout_table(3, minor);
        if (minor < 9 || minor > 13) {
            CHECK(l == NULL);
            continue;
        }
        if (!l) {
            printf("# no table for 3.%d\n", minor);
            continue;
        }
        found++;
        check_table(l, minor);
    }
    CHECK(py_layout_table(2, 7) == NULL);
    CHECK(py_layout_table(4, 9) == NULL);
    CHECK(found > 0);
    return CHECK_DONE();
}
