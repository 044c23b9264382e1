/*
 * pyobj.h -- Python objects read from another process: dicts, sets,
 * instance attributes, ints, module globals.
 *
 * Contract: every function reads through the target's reader with the
 * target's layout (layout.h), bounds every count it reads by the `max` it
 * is given, and fails (-1 or 0) on anything unreadable or implausible; it
 * never trusts a value read from the target beyond that.  Arrays returned
 * through `out` are malloc'd and must be freed by the caller whatever the
 * result.  Nothing is cached.
 */
#ifndef STETHO_CPYTHON_PYOBJ_H
#define STETHO_CPYTHON_PYOBJ_H

#include <stddef.h>
#include <stdint.h>
#include "cpython/target.h"

struct py_item {
    uint64_t key, value;
};

int py_read_u64(struct py_target *t, uint64_t addr, uint64_t *out);

/* The items of a keys object, their values in its entries or (values != 0)
 * in a split values array; items without a value are left out.  Returns
 * how many, or -1 (more than max entries, or unreadable). */
long py_keys_items(struct py_target *t, uint64_t keys, uint64_t values, struct py_item **out,
                   size_t max);

/* The items of a dict object; *keys_out (if not NULL) gets its keys
 * object, which changes when the dict is resized. */
long py_dict_items(struct py_target *t, uint64_t dict, struct py_item **out, size_t max,
                   uint64_t *keys_out);

/* The index of the item whose key is the ASCII str `name`, or -1. */
long py_find_str(struct py_target *t, const struct py_item *it, long n, const char *name);

/* dict[name] for a str key, or 0. */
uint64_t py_dict_get(struct py_target *t, uint64_t dict, const char *name);

/* The attributes of an instance (its __dict__ or managed/inline values),
 * at most max of them. */
long py_obj_attrs(struct py_target *t, uint64_t obj, struct py_item **out, size_t max);

/* The keys of a set object (at most max). */
long py_set_keys(struct py_target *t, uint64_t set, uint64_t **out, size_t max);

/* The value of an int object, if it is a non-negative one of 64 bits. */
int py_read_ulong(struct py_target *t, uint64_t obj, uint64_t *out);

/* sys.modules[name]'s module dict in the first interpreter, or 0. */
uint64_t py_module_dict(struct py_target *t, const char *name);

#endif
