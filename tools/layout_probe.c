/*
 * layout_probe.c -- print a `struct py_layout` initializer (see
 * src/cpython/layout.h) for the CPython version whose headers this file is
 * compiled against.  Only offsetof/sizeof are used, so it needs the headers
 * but not libpython:
 *
 *   cc -DPy_BUILD_CORE=1 -I<prefix>/include/python3.X \
 *      -I<prefix>/include/python3.X/internal tools/layout_probe.c -o probe
 *   ./probe
 *
 * Normally run by tools/gen_layouts.py, which collects one initializer per
 * version into src/cpython/layout_tables.c.  Supports 3.9 through 3.13.
 * Exits non-zero if a self-check fails.
 */
#ifndef Py_BUILD_CORE
#define Py_BUILD_CORE 1
#endif

#include <Python.h>

#if PY_VERSION_HEX < 0x03090000 || PY_VERSION_HEX >= 0x030E0000
#error "layout_probe supports CPython 3.9 to 3.13 only"
#endif

#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>          /* PyFrameObject (3.9/3.10) */
#endif
#include "pycore_runtime.h"       /* _PyRuntimeState */
#include "pycore_interp.h"        /* PyInterpreterState */
#include "pycore_gil.h"           /* struct _gil_runtime_state */
#if PY_VERSION_HEX >= 0x030B0000
#include "pycore_frame.h"         /* _PyInterpreterFrame */
#include "pycore_code.h"
#include "pycore_dict.h"          /* PyDictKeysObject, entries, values */
#include "pycore_object.h"        /* MANAGED_DICT_OFFSET */
#endif
#if PY_VERSION_HEX < 0x030B0000
#include <longintrepr.h>          /* PyLongObject (not in Python.h yet) */
#endif
#if PY_VERSION_HEX >= 0x030A0000
#include "pycore_moduleobject.h"  /* PyModuleObject */
#endif

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static void field(const char *name, size_t value)
{
    printf("    .%s = %zu,\n", name, value);
}

static void nofield(const char *name)
{
    printf("    .%s = PY_NOFIELD,\n", name);
}

#define F(name, value) field(#name, (size_t)(value))
#define NF(name) nofield(#name)

/* The offset of PyASCIIObject.state, the word holding the kind/compact/ascii
 * bitfields: it follows `hash`.  Cross-checked at run time below. */
#define STR_STATE_OFFSET (offsetof(PyASCIIObject, hash) + sizeof(Py_hash_t))

_Static_assert(offsetof(PyASCIIObject, state) == STR_STATE_OFFSET,
               "PyASCIIObject.state does not follow hash");

/* Set the bitfields in a local object and find the first changed byte: it
 * must fall inside the 4-byte word at STR_STATE_OFFSET. */
static int check_str_state(void)
{
    PyASCIIObject a;
    memset(&a, 0, sizeof a);
    a.state.kind = 7;
    a.state.compact = 1;
    a.state.ascii = 1;
    const unsigned char *p = (const unsigned char *)&a;
    size_t i;
    for (i = 0; i < sizeof a && p[i] == 0; i++)
        ;
    if (i >= sizeof a || i < STR_STATE_OFFSET || i >= STR_STATE_OFFSET + 4) {
        fprintf(stderr, "layout_probe: PyASCIIObject.state bitfields found at "
                "byte %zu, expected in [%zu, %zu)\n", i,
                (size_t)STR_STATE_OFFSET, (size_t)STR_STATE_OFFSET + 4);
        return -1;
    }
    return 0;
}

#if PY_VERSION_HEX < 0x030A0000
/* 3.9 keeps PyModuleObject private to Objects/moduleobject.c: its md_dict
 * is the first field after the object header. */
typedef struct {
    PyObject ob_base;
    PyObject *md_dict;
} PyModuleObject;
#endif

#if PY_VERSION_HEX < 0x030B0000
/* 3.9/3.10 keep the dict keys object in Objects/dict-common.h, which is not
 * installed; the same declarations, field for field. */
struct probe_dictkeys {
    Py_ssize_t dk_refcnt;
    Py_ssize_t dk_size;
    void *dk_lookup;
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];
};
typedef struct {
    Py_hash_t me_hash;
    PyObject *me_key;
    PyObject *me_value;
} PyDictKeyEntry;
#endif

/* Objects, dicts and ints: what reading threading's registry needs
 * (src/cpython/threadnames.c). */
static void objects(void)
{
    F(ob_type, offsetof(PyObject, ob_type));
#if PY_VERSION_HEX < 0x030C0000
    F(is_modules, offsetof(PyInterpreterState, modules));
#else
    F(is_modules, offsetof(PyInterpreterState, imports.modules));
#endif
    F(mod_dict, offsetof(PyModuleObject, md_dict));
    F(tp_flags, offsetof(PyTypeObject, tp_flags));
    F(tp_dictoffset, offsetof(PyTypeObject, tp_dictoffset));
    F(ht_cached_keys, offsetof(PyHeapTypeObject, ht_cached_keys));
#if PY_VERSION_HEX >= 0x030B0000
    F(tpflag_managed_dict, Py_TPFLAGS_MANAGED_DICT);
#else
    F(tpflag_managed_dict, 0);
#endif
    /* Where a managed dict lives, from pycore_object.h's inline helpers
     * (_PyObject_ManagedDictPointer, _PyObject_ValuesPointer,
     * _PyObject_DictOrValuesPointer, _PyObject_InlineValues): these are
     * pointer arithmetic, not fields, so they are spelled out per version. */
#if PY_VERSION_HEX >= 0x030D0000
    F(tpflag_inline_values, Py_TPFLAGS_INLINE_VALUES);
    F(obj_dict_before, -(MANAGED_DICT_OFFSET));
    NF(obj_values_before);
    F(obj_inline_values, sizeof(PyObject));
    printf("    .obj_dict_tagged = 0,\n");
#elif PY_VERSION_HEX >= 0x030C0000
    F(tpflag_inline_values, 0);
    F(obj_dict_before, 3 * sizeof(PyObject *));
    NF(obj_values_before);
    NF(obj_inline_values);
    printf("    .obj_dict_tagged = 1,\n");
#elif PY_VERSION_HEX >= 0x030B0000
    F(tpflag_inline_values, 0);
    F(obj_dict_before, -(MANAGED_DICT_OFFSET));
    F(obj_values_before, 4 * sizeof(PyObject *));
    NF(obj_inline_values);
    printf("    .obj_dict_tagged = 0,\n");
#else
    F(tpflag_inline_values, 0);
    NF(obj_dict_before);
    NF(obj_values_before);
    NF(obj_inline_values);
    printf("    .obj_dict_tagged = 0,\n");
#endif

    F(dict_used, offsetof(PyDictObject, ma_used));
    F(dict_keys, offsetof(PyDictObject, ma_keys));
    F(dict_values, offsetof(PyDictObject, ma_values));
#if PY_VERSION_HEX < 0x030B0000
    F(dk_size, offsetof(struct probe_dictkeys, dk_size));
    NF(dk_log2_index_bytes);
    NF(dk_kind);
    F(dk_nentries, offsetof(struct probe_dictkeys, dk_nentries));
    F(dk_indices, offsetof(struct probe_dictkeys, dk_indices));
    NF(dk_uentry_size);
    F(dv_values, 0);            /* ma_values is the PyObject *[] itself */
    NF(dv_valid);
#else
    NF(dk_size);
    F(dk_log2_index_bytes, offsetof(PyDictKeysObject, dk_log2_index_bytes));
    F(dk_kind, offsetof(PyDictKeysObject, dk_kind));
    F(dk_nentries, offsetof(PyDictKeysObject, dk_nentries));
    F(dk_indices, offsetof(PyDictKeysObject, dk_indices));
    F(dk_uentry_size, sizeof(PyDictUnicodeEntry));
    F(dv_values, offsetof(PyDictValues, values));
#if PY_VERSION_HEX >= 0x030D0000
    F(dv_valid, offsetof(PyDictValues, valid));
#else
    NF(dv_valid);
#endif
#endif
    F(dk_entry_size, sizeof(PyDictKeyEntry));
    F(dk_entry_key, offsetof(PyDictKeyEntry, me_key));
    F(dk_entry_value, offsetof(PyDictKeyEntry, me_value));

#if PY_VERSION_HEX < 0x030C0000
    F(long_size, offsetof(PyVarObject, ob_size));
    F(long_digits, offsetof(PyLongObject, ob_digit));
    printf("    .long_tagged = 0,\n");
#else
    F(long_size, offsetof(PyLongObject, long_value.lv_tag));
    F(long_digits, offsetof(PyLongObject, long_value.ob_digit));
    printf("    .long_tagged = 1,\n");
#endif
    printf("    .long_shift = %d,\n", (int)PyLong_SHIFT);
    printf("    .long_digit_size = %d,\n", (int)sizeof(digit));
}

int main(void)
{
    if (check_str_state() < 0)
        return 1;

    printf("/* CPython %s (PY_VERSION_HEX 0x%08lx) */\n", PY_VERSION,
           (unsigned long)PY_VERSION_HEX);
    printf("{\n");
    printf("    .major = %d, .minor = %d,\n", PY_MAJOR_VERSION, PY_MINOR_VERSION);
#if PY_VERSION_HEX < 0x030B0000
    printf("    .frame_model = PY_FRAMES_OBJECT,\n");
#else
    printf("    .frame_model = PY_FRAMES_INTERP,\n");
#endif
#if PY_VERSION_HEX < 0x030A0000
    printf("    .linetable_kind = PY_LINES_LNOTAB,\n");
#elif PY_VERSION_HEX < 0x030B0000
    printf("    .linetable_kind = PY_LINES_310,\n");
#else
    printf("    .linetable_kind = PY_LINES_LOCATIONS,\n");
#endif

    /* _PyRuntimeState */
    F(rt_interpreters_head, offsetof(_PyRuntimeState, interpreters.head));
    F(rt_main_thread, offsetof(_PyRuntimeState, main_thread));
    F(rt_finalizing, offsetof(_PyRuntimeState, _finalizing));
#if PY_VERSION_HEX < 0x030C0000
    F(rt_gil, offsetof(_PyRuntimeState, ceval.gil));
    F(rt_gil_locked, offsetof(_PyRuntimeState, ceval.gil.locked));
    F(rt_gil_holder, offsetof(_PyRuntimeState, ceval.gil.last_holder));
    F(rt_tstate_current, offsetof(_PyRuntimeState, gilstate.tstate_current));
#else
    NF(rt_gil);
    NF(rt_gil_locked);
    NF(rt_gil_holder);
    NF(rt_tstate_current);
#endif

    /* PyInterpreterState */
    F(is_next, offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX < 0x030B0000
    F(is_threads_head, offsetof(PyInterpreterState, tstate_head));
#else
    F(is_threads_head, offsetof(PyInterpreterState, threads.head));
#endif
    F(is_gc_collecting, offsetof(PyInterpreterState, gc.collecting));
    F(gil_size, sizeof(struct _gil_runtime_state));
#if PY_VERSION_HEX >= 0x030C0000
    F(is_gil_locked, offsetof(struct _gil_runtime_state, locked));
    F(is_gil_holder, offsetof(struct _gil_runtime_state, last_holder));
    F(is_gil_ptr, offsetof(PyInterpreterState, ceval.gil));
#else
    NF(is_gil_locked);
    NF(is_gil_holder);
    NF(is_gil_ptr);
#endif

    /* PyThreadState */
    F(ts_next, offsetof(PyThreadState, next));
    F(ts_interp, offsetof(PyThreadState, interp));
#if PY_VERSION_HEX < 0x030B0000
    F(ts_frame, offsetof(PyThreadState, frame));
#elif PY_VERSION_HEX < 0x030D0000
    F(ts_frame, offsetof(PyThreadState, cframe));
#else
    F(ts_frame, offsetof(PyThreadState, current_frame));
#endif
    F(ts_thread_id, offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030B0000
    F(ts_native_thread_id, offsetof(PyThreadState, native_thread_id));
#else
    NF(ts_native_thread_id);
#endif
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
    F(cframe_current_frame, offsetof(_PyCFrame, current_frame));
#else
    NF(cframe_current_frame);
#endif
#if PY_VERSION_HEX >= 0x030C0000
    {
        /* the bit `active` is, found by setting it alone in a zeroed state */
        PyThreadState ts;
        uint32_t word;
        _Static_assert(sizeof ts._status == sizeof word, "_status is one 32-bit word");
        memset(&ts, 0, sizeof ts);
        ts._status.active = 1;
        memcpy(&word, &ts._status, sizeof word);
        if (!word || (word & (word - 1))) {
            fprintf(stderr, "layout_probe: PyThreadState._status.active is not one bit\n");
            return 1;
        }
        F(ts_status, offsetof(PyThreadState, _status));
        F(ts_status_active, word);
    }
#else
    NF(ts_status);
    NF(ts_status_active);
#endif

    /* Frames */
#if PY_VERSION_HEX < 0x030B0000
    F(fr_size, sizeof(PyFrameObject));
    F(fr_previous, offsetof(PyFrameObject, f_back));
    F(fr_code, offsetof(PyFrameObject, f_code));
    F(fr_lasti, offsetof(PyFrameObject, f_lasti));
    NF(fr_instr);
    NF(fr_owner);
    NF(fr_is_entry);
    printf("    .fr_instr_is_prev = 0,\n");
#else
    F(fr_size, offsetof(_PyInterpreterFrame, localsplus));
    F(fr_previous, offsetof(_PyInterpreterFrame, previous));
#if PY_VERSION_HEX < 0x030D0000
    F(fr_code, offsetof(_PyInterpreterFrame, f_code));
#else
    F(fr_code, offsetof(_PyInterpreterFrame, f_executable));
#endif
    NF(fr_lasti);
#if PY_VERSION_HEX < 0x030D0000
    F(fr_instr, offsetof(_PyInterpreterFrame, prev_instr));
#else
    F(fr_instr, offsetof(_PyInterpreterFrame, instr_ptr));
#endif
    F(fr_owner, offsetof(_PyInterpreterFrame, owner));
#if PY_VERSION_HEX < 0x030C0000
    F(fr_is_entry, offsetof(_PyInterpreterFrame, is_entry));
#else
    NF(fr_is_entry);
#endif
#if PY_VERSION_HEX < 0x030D0000
    printf("    .fr_instr_is_prev = 1,\n");
#else
    printf("    .fr_instr_is_prev = 0,\n");
#endif
#endif

    /* PyCodeObject */
#if PY_VERSION_HEX < 0x030B0000
    F(co_size, sizeof(PyCodeObject));
#else
    F(co_size, offsetof(PyCodeObject, co_code_adaptive));
#endif
    F(co_filename, offsetof(PyCodeObject, co_filename));
    F(co_name, offsetof(PyCodeObject, co_name));
#if PY_VERSION_HEX >= 0x030B0000
    F(co_qualname, offsetof(PyCodeObject, co_qualname));
#else
    NF(co_qualname);
#endif
    F(co_firstlineno, offsetof(PyCodeObject, co_firstlineno));
#if PY_VERSION_HEX < 0x030A0000
    F(co_linetable, offsetof(PyCodeObject, co_lnotab));
#else
    F(co_linetable, offsetof(PyCodeObject, co_linetable));
#endif
#if PY_VERSION_HEX >= 0x030B0000
    F(co_code_adaptive, offsetof(PyCodeObject, co_code_adaptive));
#else
    NF(co_code_adaptive);
#endif

    /* PyUnicodeObject / PyBytesObject */
    F(str_length, offsetof(PyASCIIObject, length));
    F(str_state, STR_STATE_OFFSET);
    F(str_ascii_size, sizeof(PyASCIIObject));
    F(str_compact_size, sizeof(PyCompactUnicodeObject));
    F(bytes_size, offsetof(PyBytesObject, ob_base.ob_size));
    F(bytes_sval, offsetof(PyBytesObject, ob_sval));
    objects();

    /* The garbage collector's statistics (stetho leaks) */
    F(is_gc_stats, offsetof(PyInterpreterState, gc.generation_stats));
    printf("}\n");
    return 0;
}
