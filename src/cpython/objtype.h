/*
 * objtype.h -- the Python type of a live block, read from outside: what
 * the type census (memory/census.c) counts.
 *
 * Contract: objtype_of() takes the first OBJTYPE_HEAD bytes of a block the
 * object allocator (PyObject_Malloc's domain) handed out, and the block's
 * size, and returns the type of the object in it, or NULL.  The object
 * starts after what CPython puts before it: PyGC_Head for a type with
 * Py_TPFLAGS_HAVE_GC, and (3.11+) two more words, the pre-header, for a
 * type with a managed dict or managed weakrefs.  Each possible start is
 * tried; it counts only when the word at ob_type points at a real type --
 * Py_TPFLAGS_READY, a sane tp_basicsize that fits the block from there, a
 * readable NUL-terminated printable tp_name, and a type whose own type is
 * `type` or a metatype (Py_TPFLAGS_TYPE_SUBCLASS, twice over) -- and that
 * type's flags put the object exactly there.  Starts are tried from the
 * block's own: the words before a real object's ob_type (GC links to other GC
 * heads, the pre-header's dict and weakref pointers) never point at a type,
 * while words after it can (a tuple of classes).  So garbage (a freed block's
 * free-list link, a non-object buffer) is never reported as a type.  Types
 * are read once per cache (objtype_reset between censuses: a type can die
 * and its address be reused).  Values read are never asserted on.
 *
 * Offsets: the same in every layout table 3.9-3.13 (PyObject.ob_type,
 * PyTypeObject.tp_flags, checked by the unit test against layout_tables.c;
 * tp_name/tp_basicsize follow the PyVarObject head in every version).  The
 * pre-header flags are bits 3-4 (3.11: MANAGED_DICT; 3.12+: also
 * MANAGED_WEAKREF), unused by 3.9/3.10, so one rule serves every version.
 */
#ifndef STETHO_CPYTHON_OBJTYPE_H
#define STETHO_CPYTHON_OBJTYPE_H

#include <stddef.h>
#include <stdint.h>
#include "proc/reader.h"
#include "util/kmap.h"

#define OBJTYPE_HEAD 48         /* pre-header + PyGC_Head + ob_refcnt, ob_type */
#define OBJTYPE_NAME_MAX 128
#define OBJTYPE_CACHE_MAX (1u << 16)   /* 11 MiB of entries */
#define OBJTYPE_OB_TYPE 8
#define OBJTYPE_TP_NAME 24
#define OBJTYPE_TP_BASICSIZE 32
#define OBJTYPE_TP_FLAGS 168
#define OBJTYPE_GC_HEAD 16      /* sizeof(PyGC_Head) */
#define OBJTYPE_PREHEADER 16    /* 2 * sizeof(PyObject *) */

#define OBJTYPE_F_PREHEADER ((1ull << 3) | (1ull << 4))
#define OBJTYPE_F_READY (1ull << 12)
#define OBJTYPE_F_HAVE_GC (1ull << 14)
#define OBJTYPE_F_TYPE_SUBCLASS (1ull << 31)

struct objtype {
    uint64_t addr;
    int valid;
    uint64_t flags, basicsize;
    char name[OBJTYPE_NAME_MAX];
};

struct objtype_cache {
    struct kmap index;          /* type address -> types[i] + 1 */
    struct objtype *types;
    size_t n, cap;
};

/* The type of the object in a block (head: its first `len` bytes, at most
 * OBJTYPE_HEAD), or NULL; reads types through r into c (r NULL: only the
 * types c knows already).  A cache holds at most OBJTYPE_CACHE_MAX
 * addresses, types or not (the words tried that were no type are kept
 * too, so each is read once): past that, only known types are found. */
const struct objtype *objtype_of(struct objtype_cache *c, struct reader *r,
                                 const uint8_t *head, size_t len, uint64_t size);
/* Reads the types at addrs not in c yet, many per system call (what
 * objtype_of would read one by one; 0 and unaligned ones are skipped). */
void objtype_prefetch(struct objtype_cache *c, struct reader *r, const uint64_t *addrs,
                      size_t n);
void objtype_reset(struct objtype_cache *c);

#endif
