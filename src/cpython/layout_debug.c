/*
 * layout_debug.c -- read _Py_DebugOffsets (CPython 3.13+).
 *
 * The struct is a flat run of uint64_t words whose order may change between
 * minor versions (it is only stable within one).  Each known version is
 * described by the word index of every value we use; a newer, unknown
 * version is read with the newest description and then checked for
 * plausibility, which gives an untested release a fair chance.
 */
#include "cpython/layout_debug.h"

#include <stdio.h>
#include <string.h>

#define MAX_WORDS 160

/* Word indices into _Py_DebugOffsets; 0 means "not in this version". */
struct debug_desc {
    int minor;
    int words;                  /* how many words to read */
    int free_threaded;
    int rt_size, rt_finalizing, rt_interpreters_head;
    int is_size, is_next, is_threads_head, is_gc, is_modules, is_ceval_gil,
        is_gil_state, is_gil_locked, is_gil_holder;
    int ts_size, ts_next, ts_interp, ts_current_frame, ts_thread_id, ts_native_thread_id;
    int fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_localsplus, fr_owner;
    int co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno,
        co_code_adaptive;
    int bytes_ob_size, bytes_ob_sval;
    int str_state, str_length, str_ascii_size;
    int gc_collecting;
};

/* From Include/internal/pycore_runtime.h of 3.13.0. */
static const struct debug_desc desc_313 = {
    .minor = 13, .words = 73, .free_threaded = 2,
    .rt_size = 3, .rt_finalizing = 4, .rt_interpreters_head = 5,
    .is_size = 6, .is_next = 8, .is_threads_head = 9, .is_gc = 10, .is_modules = 11,
    .is_ceval_gil = 14,
    .is_gil_state = 15, .is_gil_locked = 17, .is_gil_holder = 18,
    .ts_size = 19, .ts_next = 21, .ts_interp = 22, .ts_current_frame = 23,
    .ts_thread_id = 24, .ts_native_thread_id = 25,
    .fr_size = 28, .fr_previous = 29, .fr_executable = 30, .fr_instr_ptr = 31,
    .fr_localsplus = 32, .fr_owner = 33,
    .co_size = 34, .co_filename = 35, .co_name = 36, .co_qualname = 37, .co_linetable = 38,
    .co_firstlineno = 39, .co_code_adaptive = 43,
    .bytes_ob_size = 65, .bytes_ob_sval = 66,
    .str_state = 68, .str_length = 69, .str_ascii_size = 70,
    .gc_collecting = 72,
};

static const struct debug_desc *const descs[] = { &desc_313 };

static const struct debug_desc *desc_for(int minor)
{
    const struct debug_desc *best = NULL;
    for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++)
        if (descs[i]->minor <= minor && (!best || descs[i]->minor > best->minor))
            best = descs[i];
    return best;
}

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t m = a > b ? a : b;
    return m > c ? m : c;
}

int py_layout_from_debug(struct reader *r, uint64_t runtime, int major, int minor,
                         const struct py_layout *fallback, struct py_layout *out,
                         char *why, size_t whylen)
{
    const struct debug_desc *d = desc_for(minor);
    uint64_t w[MAX_WORDS];
    if (!d) {
        snprintf(why, whylen, "no description of _Py_DebugOffsets for %d.%d", major, minor);
        return -1;
    }
    if (reader_read(r, runtime, w, (size_t)d->words * 8) < 0) {
        snprintf(why, whylen, "cannot read _Py_DebugOffsets");
        return -1;
    }
    if (memcmp(w, "xdebugpy", 8) != 0) {
        snprintf(why, whylen, "_PyRuntime does not start with the debug cookie");
        return -1;
    }
    if (w[d->free_threaded]) {
        snprintf(why, whylen, "free-threaded (no-GIL) builds are not supported yet");
        return -1;
    }

    struct py_layout l = *fallback;
    l.major = major;
    l.minor = minor;
    l.frame_model = PY_FRAMES_INTERP;
    l.linetable_kind = PY_LINES_LOCATIONS;
    l.rt_interpreters_head = w[d->rt_interpreters_head];
    l.rt_finalizing = w[d->rt_finalizing];
    l.rt_gil = l.rt_gil_locked = l.rt_gil_holder = l.rt_tstate_current = PY_NOFIELD;
    l.is_next = w[d->is_next];
    l.is_threads_head = w[d->is_threads_head];
    l.is_gc_collecting = w[d->is_gc] + w[d->gc_collecting];
    /* _Py_DebugOffsets has no gc.generation_stats: it sits where the table
     * says relative to gc.collecting, in the version the table was made
     * from; a newer one may have changed the struct (3.14 did) */
    l.is_gc_stats = fallback->minor == minor && fallback->is_gc_stats != PY_NOFIELD
                        ? l.is_gc_collecting + fallback->is_gc_stats - fallback->is_gc_collecting
                        : PY_NOFIELD;
    l.is_modules = w[d->is_modules];
    l.is_gil_ptr = w[d->is_ceval_gil];
    l.is_gil_locked = w[d->is_gil_locked] - w[d->is_gil_state];
    l.is_gil_holder = w[d->is_gil_holder] - w[d->is_gil_state];
    l.ts_next = w[d->ts_next];
    l.ts_interp = w[d->ts_interp];
    l.ts_frame = w[d->ts_current_frame];
    l.ts_thread_id = w[d->ts_thread_id];
    l.ts_native_thread_id = w[d->ts_native_thread_id];
    l.cframe_current_frame = PY_NOFIELD;
    /* _Py_DebugOffsets has no _status: the table's, for its own version
     * only (a newer one may have moved it; without it, the agent keeps the
     * first thread state it finds for a thread, as before) */
    if (fallback->minor != minor)
        l.ts_status = l.ts_status_active = PY_NOFIELD;
    l.fr_previous = w[d->fr_previous];
    l.fr_code = w[d->fr_executable];
    l.fr_instr = w[d->fr_instr_ptr];
    l.fr_owner = w[d->fr_owner];
    l.fr_is_entry = PY_NOFIELD;        /* 3.12+ mark entries with a shim frame */
    l.fr_lasti = PY_NOFIELD;
    l.fr_instr_is_prev = 0;
    l.fr_size = w[d->fr_localsplus];
    l.co_filename = w[d->co_filename];
    l.co_name = w[d->co_name];
    l.co_qualname = w[d->co_qualname];
    l.co_linetable = w[d->co_linetable];
    l.co_firstlineno = w[d->co_firstlineno];
    l.co_code_adaptive = w[d->co_code_adaptive];
    l.co_size = max3(l.co_filename, l.co_name, max3(l.co_qualname, l.co_linetable,
                                                    l.co_firstlineno)) + 8;
    l.bytes_size = w[d->bytes_ob_size];
    l.bytes_sval = w[d->bytes_ob_sval];
    l.str_state = w[d->str_state];
    l.str_length = w[d->str_length];
    if (fallback->minor != minor)       /* utf8_length and utf8 follow */
        l.str_compact_size = w[d->str_ascii_size] + 16;
    l.str_ascii_size = w[d->str_ascii_size];

    /* Plausibility: every offset inside its struct, as CPython states. */
    uint64_t rt = w[d->rt_size], is = w[d->is_size], ts = w[d->ts_size],
             fr = w[d->fr_size], co = w[d->co_size];
    if (l.rt_interpreters_head >= rt || l.rt_finalizing >= rt ||
        l.is_next >= is || l.is_threads_head >= is ||
        l.is_gil_ptr >= is || l.is_modules + 8 > is || l.ts_next >= ts || l.ts_frame >= ts ||
        l.ts_native_thread_id >= ts || l.fr_previous >= fr || l.fr_code >= fr ||
        l.fr_instr >= fr || l.fr_owner >= fr || l.co_size > co || l.co_size > 512 ||
        l.str_compact_size > 128 || l.fr_size > 256 ||
        /* ... and inside what stetho itself reads of each: a newer, unknown
         * version read with 3.13's description may hold anything */
        l.ts_thread_id >= ts || l.fr_previous + 8 > l.fr_size || l.fr_code + 8 > l.fr_size ||
        l.fr_instr + 8 > l.fr_size || l.fr_owner + 1 > l.fr_size ||
        l.str_length + 8 > l.str_ascii_size || l.str_state + 4 > l.str_ascii_size ||
        l.str_ascii_size > l.str_compact_size || l.ts_next + 8 > 1024 ||
        l.ts_frame + 8 > 1024 || l.ts_thread_id + 8 > 1024 ||
        l.ts_native_thread_id + 8 > 1024 || l.bytes_size + 8 > l.bytes_sval) {
        snprintf(why, whylen, "_Py_DebugOffsets of %d.%d are not laid out as expected",
                 major, minor);
        return -1;
    }
    *out = l;
    return 0;
}
