/*
 * layout.h -- where CPython keeps what we read, for one interpreter version.
 *
 * Contract: a `struct py_layout` holds byte offsets (and a few sizes) into
 * CPython's private structures.  Offsets are 64-bit; a field that does not
 * exist in a version is PY_NOFIELD.  Tables for 3.9-3.12 (and 3.13, used only
 * to fill what _Py_DebugOffsets does not carry) are generated from each
 * version's own headers by tools/gen_layouts.py into layout_tables.c.  3.13
 * and later are read at run time from _Py_DebugOffsets (layout_debug.c).
 */
#ifndef STETHO_CPYTHON_LAYOUT_H
#define STETHO_CPYTHON_LAYOUT_H

#include <stdint.h>

#define PY_NOFIELD UINT64_MAX

/* How a thread's frames are chained. */
enum py_frame_model {
    PY_FRAMES_OBJECT = 1,   /* 3.9/3.10: PyFrameObject, f_back, f_lasti */
    PY_FRAMES_INTERP = 2,   /* 3.11+: _PyInterpreterFrame, previous */
};

/* How the current line table is encoded. */
enum py_linetable_kind {
    PY_LINES_LNOTAB = 1,    /* 3.9  co_lnotab */
    PY_LINES_310 = 2,       /* 3.10 co_linetable */
    PY_LINES_LOCATIONS = 3, /* 3.11+ location table */
};

struct py_layout {
    int major, minor;
    enum py_frame_model frame_model;
    enum py_linetable_kind linetable_kind;

    /* _PyRuntimeState */
    uint64_t rt_interpreters_head;  /* interpreters.head */
    uint64_t rt_main_thread;        /* main_thread (pthread_t) */
    uint64_t rt_finalizing;         /* _finalizing (PyThreadState *): non-NULL
                                       once Py_FinalizeEx has begun */
    uint64_t rt_gil;                /* ceval.gil, the GIL's struct (3.9-3.11) */
    uint64_t rt_gil_locked;         /* ceval.gil.locked (3.9-3.11) */
    uint64_t rt_gil_holder;         /* ceval.gil.last_holder (3.9-3.11) */
    uint64_t rt_tstate_current;     /* gilstate.tstate_current (3.9-3.11): the
                                       thread state whose thread holds the GIL,
                                       the one it runs in (sub-interpreters) */

    /* PyInterpreterState */
    uint64_t is_next;
    uint64_t is_threads_head;       /* tstate_head / threads.head */
    uint64_t is_gc_collecting;      /* gc.collecting (int) */
    uint64_t is_gil_locked;         /* 3.12+: offset from the interp to the */
    uint64_t is_gil_holder;         /*   GIL's locked / last_holder, via   */
    uint64_t is_gil_ptr;            /*   pointer at is_gil_ptr if not NOFIELD */
    uint64_t gil_size;              /* sizeof(struct _gil_runtime_state): a
                                       futex inside it is a wait for the GIL */

    /* PyThreadState */
    uint64_t ts_next;
    uint64_t ts_interp;
    uint64_t ts_frame;              /* frame (3.9/3.10), cframe (3.11/3.12),
                                       current_frame (3.13+) */
    uint64_t ts_thread_id;          /* pthread_t */
    uint64_t ts_native_thread_id;   /* kernel tid (3.11+) */
    uint64_t cframe_current_frame;  /* _PyCFrame.current_frame (3.11/3.12) */
    uint64_t ts_status;             /* _status, a 32-bit word of bit fields
                                       (3.12/3.13) */
    uint64_t ts_status_active;      /*   its `active` bit's mask: set while the
                                       thread runs in this state (a thread in a
                                       sub-interpreter has one state per
                                       interpreter, one of them active) */

    /* Frames: PyFrameObject (3.9/3.10) or _PyInterpreterFrame (3.11+) */
    uint64_t fr_size;               /* bytes to read to cover every field */
    uint64_t fr_previous;           /* f_back / previous */
    uint64_t fr_code;               /* f_code / f_executable */
    uint64_t fr_lasti;              /* f_lasti (int), 3.9/3.10 */
    uint64_t fr_instr;              /* prev_instr (3.11/3.12) / instr_ptr */
    uint64_t fr_owner;              /* owner (char), 3.11+ */
    uint64_t fr_is_entry;           /* is_entry (bool), 3.11 only: the frame
                                       its _PyEval_EvalFrameDefault call
                                       began with (3.12+: a shim follows it) */
    int fr_instr_is_prev;           /* 1 if fr_instr points at the last
                                       executed unit (3.11/3.12) */

    /* PyCodeObject */
    uint64_t co_size;               /* bytes to read to cover every field */
    uint64_t co_filename;
    uint64_t co_name;
    uint64_t co_qualname;           /* 3.11+ */
    uint64_t co_firstlineno;        /* int */
    uint64_t co_linetable;          /* co_lnotab on 3.9 */
    uint64_t co_code_adaptive;      /* 3.11+: first code unit */

    /* PyUnicodeObject / PyBytesObject */
    uint64_t str_length;
    uint64_t str_state;
    uint64_t str_ascii_size;        /* sizeof(PyASCIIObject) */
    uint64_t str_compact_size;      /* sizeof(PyCompactUnicodeObject) */
    uint64_t bytes_size;            /* ob_size */
    uint64_t bytes_sval;            /* ob_sval */

    /* Objects, dicts and ints, for reading threading's registry of thread
     * names (threadnames.c) */
    uint64_t ob_type;               /* PyObject.ob_type */
    uint64_t is_modules;            /* PyInterpreterState: sys.modules */
    uint64_t mod_dict;              /* PyModuleObject.md_dict */
    uint64_t tp_flags;              /* PyTypeObject (unsigned long) */
    uint64_t tp_dictoffset;         /*   (Py_ssize_t), 3.9/3.10's instances */
    uint64_t ht_cached_keys;        /* PyHeapTypeObject: instances' shared keys */
    uint64_t tpflag_managed_dict;   /* Py_TPFLAGS_MANAGED_DICT (3.11+), else 0 */
    uint64_t tpflag_inline_values;  /* Py_TPFLAGS_INLINE_VALUES (3.13+), else 0 */
    uint64_t obj_dict_before;       /* bytes before an object: its managed
                                       dict (3.12: dict-or-values word) */
    uint64_t obj_values_before;     /* 3.11: its managed values pointer */
    uint64_t obj_inline_values;     /* 3.13: PyDictValues inside the object */
    int obj_dict_tagged;            /* 3.12: the managed word, when odd, is
                                       the values pointer minus 1 */
    uint64_t dict_used, dict_keys, dict_values;     /* PyDictObject */
    uint64_t dk_size;               /* PyDictKeysObject: slots (3.9/3.10) */
    uint64_t dk_log2_index_bytes;   /*   uint8 (3.11+) */
    uint64_t dk_kind;               /*   uint8, 0 = general entries (3.11+) */
    uint64_t dk_nentries, dk_indices;
    uint64_t dk_entry_size;         /* PyDictKeyEntry: hash, key, value */
    uint64_t dk_entry_key, dk_entry_value;
    uint64_t dk_uentry_size;        /* PyDictUnicodeEntry: key, value (3.11+) */
    uint64_t dv_values;             /* PyDictValues.values (0: ma_values is
                                       the array itself, 3.9/3.10) */
    uint64_t dv_valid;              /* PyDictValues.valid (uint8, 3.13+) */
    uint64_t long_size;             /* PyLongObject: ob_size, or lv_tag */
    uint64_t long_digits;           /*   ob_digit */
    int long_tagged;                /* 3.12+: lv_tag = ndigits << 3 | sign */
    int long_shift;                 /* bits per digit */
    int long_digit_size;            /* bytes per digit */

    /* The garbage collector's statistics (stetho leaks): from the
     * interpreter, gc.generation_stats[3], each { Py_ssize_t collections,
     * collected, uncollectable } */
    uint64_t is_gc_stats;
};

/* The generated table for major.minor, or NULL. */
const struct py_layout *py_layout_table(int major, int minor);

#endif
