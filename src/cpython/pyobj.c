/*
 * pyobj.c -- dicts, sets, instance attributes and ints read from outside.
 *
 * Dicts are read as CPython lays them out per version (layout.h): a keys
 * object with an index table then entries (hash, key, value) or, for
 * str-only keys since 3.11, (key, value); a split dict's values in a
 * separate array.  An instance's attributes live behind tp_dictoffset
 * (3.9/3.10), in a managed dict or values array just before the object
 * (3.11: two words; 3.12: one tagged word), or inline after its header
 * (3.13).  A set is a table of (key, hash) entries, mask + 1 of them;
 * its layout is the same in every supported version (PySetObject:
 * used at 24, mask at 32, table at 40; setentry 16 bytes).
 */
#include "cpython/pyobj.h"

#include <stdlib.h>
#include <string.h>

#define SET_USED 24             /* PySetObject, 3.9-3.13 (x86-64) */
#define SET_MASK 32
#define SET_TABLE 40
#define SETENTRY_SIZE 16        /* key, hash */
#define MAX_ITEMS 65536         /* entries of a dict looked up by py_dict_get */

int py_read_u64(struct py_target *t, uint64_t addr, uint64_t *out)
{
    return reader_read(&t->rd, addr, out, sizeof *out);
}

/* The items of a keys object, their values in the entries or (values != 0)
 * in a split values array, into *out (malloc'd; free it whatever the
 * result).  Items without a value are left out.  Returns how many, or -1
 * (more than max entries, or unreadable). */
long py_keys_items(struct py_target *t, uint64_t keys, uint64_t values, struct py_item **out,
                       size_t max)
{
    *out = NULL;
    const struct py_layout *l = &t->layout;
    uint8_t head[128];
    if (!keys || l->dk_indices > sizeof head || reader_read(&t->rd, keys, head, l->dk_indices) < 0)
        return -1;
    int64_t nentries;
    memcpy(&nentries, head + l->dk_nentries, sizeof nentries);
    if (nentries < 0 || (uint64_t)nentries > max)
        return -1;
    uint64_t entries, esize, koff, voff;
    if (l->dk_size != PY_NOFIELD) {                     /* 3.9/3.10 */
        int64_t size;
        memcpy(&size, head + l->dk_size, sizeof size);
        if (size < 8 || size > (int64_t)1 << 32 || (size & (size - 1)))
            return -1;
        uint64_t ix = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffll ? 4 : 8;
        entries = keys + l->dk_indices + (uint64_t)size * ix;
        esize = l->dk_entry_size;
        koff = l->dk_entry_key;
        voff = l->dk_entry_value;
    } else {                                            /* 3.11+ */
        uint8_t log2_index_bytes = head[l->dk_log2_index_bytes];
        if (log2_index_bytes > 36)
            return -1;
        entries = keys + l->dk_indices + ((uint64_t)1 << log2_index_bytes);
        int general = head[l->dk_kind] == 0;
        esize = general ? l->dk_entry_size : l->dk_uentry_size;
        koff = general ? l->dk_entry_key : 0;           /* PyDictUnicodeEntry: */
        voff = general ? l->dk_entry_value : 8;         /*   key, value */
    }
    if (!nentries)
        return 0;
    size_t n = (size_t)nentries;
    *out = malloc(n * sizeof **out);
    uint8_t *buf = malloc(n * esize);
    uint64_t *vals = values ? malloc(n * sizeof *vals) : NULL;
    long count = -1;
    if (!*out || !buf || (values && !vals) || reader_read(&t->rd, entries, buf, n * esize) < 0 ||
        (values && reader_read(&t->rd, values + l->dv_values, vals, n * sizeof *vals) < 0))
        goto out;
    count = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key, value;
        memcpy(&key, buf + i * esize + koff, sizeof key);
        if (values)
            value = vals[i];
        else
            memcpy(&value, buf + i * esize + voff, sizeof value);
        if (key && value)
            (*out)[count++] = (struct py_item){ key, value };
    }
out:
    free(buf);
    free(vals);
    return count;
}

/* The items of a dict object; *keys_out (if not NULL) gets its keys
 * object, which changes when the dict is resized. */
long py_dict_items(struct py_target *t, uint64_t dict, struct py_item **out, size_t max,
                       uint64_t *keys_out)
{
    const struct py_layout *l = &t->layout;
    uint64_t keys, values;
    *out = NULL;
    if (!dict || py_read_u64(t, dict + l->dict_keys, &keys) < 0 ||
        py_read_u64(t, dict + l->dict_values, &values) < 0)
        return -1;
    if (keys_out)
        *keys_out = keys;
    return py_keys_items(t, keys, values, out, max);
}

/* The index of the item whose key is the ASCII str `name`, or -1.  The
 * keys' headers are read in one batch. */
long py_find_str(struct py_target *t, const struct py_item *it, long n, const char *name)
{
    const struct py_layout *l = &t->layout;
    size_t len = strlen(name), size = l->str_ascii_size + len;
    if (n <= 0)
        return -1;
    uint8_t *buf = malloc((size_t)n * size);
    struct reader_iov *iov = malloc((size_t)n * sizeof *iov);
    long found = -1;
    if (!buf || !iov)
        goto out;
    for (long i = 0; i < n; i++)
        iov[i] = (struct reader_iov){ it[i].key, buf + (size_t)i * size, size, 0 };
    reader_readv(&t->rd, iov, (size_t)n);
    for (long i = 0; i < n && found < 0; i++) {
        const uint8_t *s = buf + (size_t)i * size;
        int64_t length;
        uint32_t state;
        memcpy(&length, s + l->str_length, sizeof length);
        memcpy(&state, s + l->str_state, sizeof state);
        int compact_ascii = ((state >> 5) & 1) && ((state >> 6) & 1) && ((state >> 2) & 7) == 1;
        if (iov[i].ok && compact_ascii && length == (int64_t)len &&
            !memcmp(s + l->str_ascii_size, name, len))
            found = i;
    }
out:
    free(buf);
    free(iov);
    return found;
}

/* dict[name] for a str key, or 0. */
uint64_t py_dict_get(struct py_target *t, uint64_t dict, const char *name)
{
    struct py_item *it;
    long n = py_dict_items(t, dict, &it, MAX_ITEMS, NULL);
    long i = py_find_str(t, it, n, name);
    uint64_t value = i >= 0 ? it[i].value : 0;
    free(it);
    return value;
}

/* The value of an int object, if it is a non-negative one of 64 bits. */
int py_read_ulong(struct py_target *t, uint64_t obj, uint64_t *out)
{
    const struct py_layout *l = &t->layout;
    int64_t size;
    if (py_read_u64(t, obj + l->long_size, (uint64_t *)&size) < 0)
        return -1;
    uint64_t ndigits;
    if (l->long_tagged) {
        if ((size & 3) == 1) {          /* zero */
            *out = 0;
            return 0;
        }
        if (size & 3)                   /* negative */
            return -1;
        ndigits = (uint64_t)size >> 3;
    } else {
        if (size < 0)
            return -1;
        ndigits = (uint64_t)size;
    }
    if (l->long_digit_size != 4 || l->long_shift <= 0 || l->long_shift >= 32)
        return -1;
    uint32_t digits[4];
    if (ndigits > 4 || (ndigits && reader_read(&t->rd, obj + l->long_digits, digits,
                                               ndigits * sizeof digits[0]) < 0))
        return -1;
    uint64_t v = 0;
    for (uint64_t i = ndigits; i-- > 0;) {
        if (digits[i] >> l->long_shift || v >> (64 - l->long_shift))
            return -1;                  /* not a digit, or over 64 bits */
        v = (v << l->long_shift) | digits[i];
    }
    *out = v;
    return 0;
}


long py_obj_attrs(struct py_target *t, uint64_t obj, struct py_item **out, size_t max)
{
    const struct py_layout *l = &t->layout;
    uint64_t type, flags, keys = 0, dict = 0, values = 0;
    *out = NULL;
    if (py_read_u64(t, obj + l->ob_type, &type) < 0 || !type ||
        py_read_u64(t, type + l->tp_flags, &flags) < 0)
        return -1;
    if (l->tpflag_managed_dict && (flags & l->tpflag_managed_dict)) {
        uint64_t word;
        if (py_read_u64(t, obj - l->obj_dict_before, &word) < 0)
            return -1;
        if (l->obj_dict_tagged && (word & 1))
            values = word + 1;
        else
            dict = word;
        if (!dict && l->obj_values_before != PY_NOFIELD &&
            py_read_u64(t, obj - l->obj_values_before, &values) < 0)
            return -1;
        if (!dict && l->tpflag_inline_values && (flags & l->tpflag_inline_values)) {
            uint8_t valid;
            values = obj + l->obj_inline_values;
            if (reader_read(&t->rd, values + l->dv_valid, &valid, 1) < 0 || !valid)
                return -1;
        }
        if (!dict && (!values || py_read_u64(t, type + l->ht_cached_keys, &keys) < 0))
            return -1;
    } else {
        int64_t off;
        if (py_read_u64(t, type + l->tp_dictoffset, (uint64_t *)&off) < 0 || off <= 0 ||
            off > 4096 || py_read_u64(t, obj + (uint64_t)off, &dict) < 0 || !dict)
            return -1;
    }
    return dict ? py_dict_items(t, dict, out, max, NULL) : py_keys_items(t, keys, values, out, max);
}

long py_set_keys(struct py_target *t, uint64_t set, uint64_t **out, size_t max)
{
    int64_t mask, used;
    uint64_t table;
    *out = NULL;
    if (py_read_u64(t, set + SET_MASK, (uint64_t *)&mask) < 0 ||
        py_read_u64(t, set + SET_USED, (uint64_t *)&used) < 0 ||
        py_read_u64(t, set + SET_TABLE, &table) < 0 || !table)
        return -1;
    /* the table is a power of two, at least 8, a third empty at least */
    if (mask < 7 || (uint64_t)mask >= max * 4 || ((uint64_t)mask & ((uint64_t)mask + 1)) ||
        used < 0 || used > mask)
        return -1;
    size_t slots = (size_t)mask + 1;
    uint8_t *buf = malloc(slots * SETENTRY_SIZE);
    *out = malloc(slots * sizeof **out);
    long n = -1;
    if (!buf || !*out || reader_read(&t->rd, table, buf, slots * SETENTRY_SIZE) < 0)
        goto out;
    n = 0;
    for (size_t i = 0; i < slots && (size_t)n < max; i++) {
        uint64_t key, hash;
        memcpy(&key, buf + i * SETENTRY_SIZE, sizeof key);
        memcpy(&hash, buf + i * SETENTRY_SIZE + 8, sizeof hash);
        /* a deleted slot holds the `dummy` key with hash -1 */
        if (key && hash != UINT64_MAX)
            (*out)[n++] = key;
    }
out:
    free(buf);
    return n;
}

uint64_t py_module_dict(struct py_target *t, const char *name)
{
    const struct py_layout *l = &t->layout;
    uint64_t interp, modules, module, mdict;
    if (py_read_u64(t, t->runtime + l->rt_interpreters_head, &interp) < 0 || !interp ||
        py_read_u64(t, interp + l->is_modules, &modules) < 0 || !modules)
        return 0;
    module = py_dict_get(t, modules, name);
    if (!module || py_read_u64(t, module + l->mod_dict, &mdict) < 0)
        return 0;
    return mdict;
}
