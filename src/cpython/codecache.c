/*
 * codecache.c -- an open-addressing hash table of decoded code objects.
 *
 * Most code objects live as long as the program, so a table that only
 * grows (and is dropped whole when full) serves the steady state with no
 * eviction bookkeeping; an entry whose object died and whose address now
 * holds another code object is caught by the identity check and replaced.
 */
#include "cpython/codecache.h"
#include "util/mix.h"
#include "cpython/pystr.h"

#include <stdlib.h>
#include <string.h>

#define MAX_NAME 1024
#define MAX_FILE 4096
#define MAX_TABLE (1u << 20)

struct codecache {
    struct code_info **slots;
    size_t cap, used, max;
    uint64_t generation;
};

static void entry_free(struct code_info *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->filename);
    free(e->linetable);
    free(e);
}

struct codecache *codecache_new(size_t max_entries)
{
    struct codecache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->cap = 1024;
    c->max = max_entries < 64 ? 64 : max_entries;
    c->slots = calloc(c->cap, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    return c;
}

static void clear(struct codecache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        entry_free(c->slots[i]);
        c->slots[i] = NULL;
    }
    c->used = 0;
    c->generation++;
}

void codecache_free(struct codecache *c)
{
    if (!c)
        return;
    clear(c);
    free(c->slots);
    free(c);
}

uint64_t codecache_generation(const struct codecache *c)
{
    return c->generation;
}

static size_t hash(uint64_t a)
{
    return (size_t)mix64(a);
}

static int grow(struct codecache *c)
{
    size_t ncap = c->cap * 2;
    struct code_info **ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < c->cap; i++) {
        struct code_info *e = c->slots[i];
        if (!e)
            continue;
        size_t j = hash(e->addr) & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = e;
    }
    free(c->slots);
    c->slots = ns;
    c->cap = ncap;
    return 0;
}

void codecache_ident(const struct py_layout *l, uint64_t *offset, size_t *len)
{
    uint64_t f[5] = { l->co_filename, l->co_name, l->co_qualname, l->co_firstlineno,
                      l->co_linetable };
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < 5; i++) {
        if (f[i] == PY_NOFIELD)
            continue;
        if (f[i] < lo)
            lo = f[i];
        if (f[i] + 8 > hi)
            hi = f[i] + 8;
    }
    if (hi - lo > CODE_IDENT_MAX)       /* cannot happen with known layouts */
        hi = lo + CODE_IDENT_MAX;
    *offset = lo;
    *len = (size_t)(hi - lo);
}

int codecache_same(const struct code_info *e, const void *window)
{
    return memcmp(e->ident, window, e->ident_len) == 0;
}

static struct code_info *decode(struct reader *r, const struct py_layout *l,
                                uint64_t code_type, uint64_t addr)
{
    uint8_t buf[512];
    uint64_t ioff;
    size_t ilen;
    codecache_ident(l, &ioff, &ilen);
    if (ioff + ilen > l->co_size)
        return NULL;
    if (l->co_size > sizeof buf || reader_read(r, addr, buf, l->co_size) < 0)
        return NULL;
    uint64_t type, filename, name, linetable;
    int32_t firstlineno;
    memcpy(&type, buf + 8, 8);          /* ob_type follows ob_refcnt */
    if (code_type && type != code_type)
        return NULL;
    memcpy(&filename, buf + l->co_filename, 8);
    memcpy(&name, buf + (l->co_qualname != PY_NOFIELD ? l->co_qualname : l->co_name), 8);
    memcpy(&linetable, buf + l->co_linetable, 8);
    memcpy(&firstlineno, buf + l->co_firstlineno, 4);

    /* the table first: its index's room is part of the entry's block,
     * so an entry costs no more allocations than before */
    size_t tlen = 0;
    uint8_t *table = py_read_bytes(r, l, linetable, MAX_TABLE, &tlen);
    if (!table)
        return NULL;
    size_t room = linetable_index_room(tlen);
    struct code_info *e = calloc(1, sizeof *e + sizeof *e->lines +
                                        room * sizeof(struct linetable_mark));
    if (!e) {
        free(table);
        return NULL;
    }
    _Static_assert(sizeof *e % _Alignof(struct linetable_index) == 0 &&
                   sizeof *e->lines % _Alignof(struct linetable_mark) == 0,
                   "the index and its marks follow the entry, aligned");
    e->lines = (struct linetable_index *)(e + 1);
    linetable_index_init(e->lines, (struct linetable_mark *)(e->lines + 1), room, firstlineno);
    e->linetable = table;
    e->linetable_len = tlen;
    e->addr = addr;
    memcpy(e->ident, buf + ioff, ilen);
    e->ident_len = ilen;
    e->firstlineno = firstlineno;
    e->name = py_read_str(r, l, name, MAX_NAME);
    e->filename = py_read_str(r, l, filename, MAX_FILE);
    if (!e->name || !e->filename) {
        entry_free(e);
        return NULL;
    }
    /* CPython's static _Py_InitCleanup code (3.13), named and "filed"
     * __init__ (no real source file is called that): it runs between a
     * class call and the class's __init__ */
    e->shim = !strcmp(e->name, "__init__") && !strcmp(e->filename, "__init__");
    return e;
}

static size_t slot_of(const struct codecache *c, uint64_t addr)
{
    size_t i = hash(addr) & (c->cap - 1);
    while (c->slots[i] && c->slots[i]->addr != addr)
        i = (i + 1) & (c->cap - 1);
    return i;
}

const struct code_info *codecache_find(const struct codecache *c, uint64_t addr)
{
    return c->slots[slot_of(c, addr)];
}

const struct code_info *codecache_load(struct codecache *c, struct reader *r,
                                       const struct py_layout *l, uint64_t code_type,
                                       uint64_t addr)
{
    struct code_info *e = decode(r, l, code_type, addr);
    if (!e)
        return NULL;
    size_t i = slot_of(c, addr);
    if (c->slots[i]) {                  /* a dead object's entry: replace it */
        entry_free(c->slots[i]);
        c->slots[i] = e;
        c->generation++;
        return e;
    }
    if (c->used + 1 > c->max)
        clear(c);
    if ((c->used + 1) * 2 > c->cap && grow(c) < 0) {
        entry_free(e);
        return NULL;
    }
    c->slots[slot_of(c, addr)] = e;
    c->used++;
    return e;
}

const struct code_info *codecache_get(struct codecache *c, struct reader *r,
                                      const struct py_layout *l, uint64_t code_type,
                                      uint64_t addr)
{
    const struct code_info *e = codecache_find(c, addr);
    if (e) {
        uint8_t window[CODE_IDENT_MAX];
        uint64_t off;
        size_t len;
        codecache_ident(l, &off, &len);
        if (len == e->ident_len && reader_read(r, addr + off, window, len) == 0 &&
            codecache_same(e, window))
            return e;
    }
    return codecache_load(c, r, l, code_type, addr);
}
