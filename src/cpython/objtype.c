/*
 * objtype.c -- a live block's Python type, checked (objtype.h).
 */
#include "cpython/objtype.h"

#include <stdlib.h>
#include <string.h>

#define MAX_BASICSIZE (1ull << 20)

static uint64_t le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);    /* x86-64: the target's byte order is ours */
    return v;
}

/* A type's flags through its address, or 0 if unreadable. */
static uint64_t flags_at(struct reader *r, uint64_t type)
{
    uint64_t f;
    return reader_read(r, type + OBJTYPE_TP_FLAGS, &f, sizeof f) == 0 ? f : 0;
}

/* tp_name: printable bytes and a NUL within OBJTYPE_NAME_MAX; the read
 * stops at the page's end, so a short name at the end of a mapping reads. */
static int read_name(struct reader *r, uint64_t at, char *out)
{
    size_t room = 4096 - (size_t)(at & 4095);
    size_t len = room < OBJTYPE_NAME_MAX ? room : OBJTYPE_NAME_MAX;
    if (!at || reader_read(r, at, out, len) < 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)out[i];
        if (!ch)
            return i ? 0 : -1;
        if (ch < 0x20 || ch == 0x7f)
            return -1;
    }
    return -1;
}

static void check(struct reader *r, struct objtype *t)
{
    uint8_t h[OBJTYPE_TP_FLAGS + 8];
    if (reader_read(r, t->addr, h, sizeof h) < 0)
        return;
    t->flags = le64(h + OBJTYPE_TP_FLAGS);
    t->basicsize = le64(h + OBJTYPE_TP_BASICSIZE);
    uint64_t meta = le64(h + OBJTYPE_OB_TYPE), metameta;
    if (!(t->flags & OBJTYPE_F_READY) || t->basicsize < 16 || t->basicsize > MAX_BASICSIZE ||
        !meta || (meta & 7))
        return;
    /* its type is `type` or a subclass of it, and so is that one's */
    if (!(flags_at(r, meta) & OBJTYPE_F_TYPE_SUBCLASS) ||
        reader_ptr(r, meta + OBJTYPE_OB_TYPE, &metameta) < 0 || !metameta ||
        !(flags_at(r, metameta) & OBJTYPE_F_TYPE_SUBCLASS))
        return;
    if (read_name(r, le64(h + OBJTYPE_TP_NAME), t->name) < 0)
        return;
    t->valid = 1;
}

static const struct objtype *lookup(struct objtype_cache *c, struct reader *r, uint64_t addr)
{
    int isnew;
    uint32_t *slot = kmap_put(&c->index, addr, 0, 0, &isnew);
    if (!slot)
        return NULL;
    if (!isnew)
        return &c->types[*slot - 1];
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct objtype *v = realloc(c->types, cap * sizeof *v);
        if (!v) {
            *slot = 0;          /* never read: a miss next time too */
            return NULL;
        }
        c->types = v;
        c->cap = cap;
    }
    struct objtype *t = &c->types[c->n++];
    memset(t, 0, sizeof *t);
    t->addr = addr;
    *slot = (uint32_t)c->n;
    check(r, t);
    return t;
}

const struct objtype *objtype_of(struct objtype_cache *c, struct reader *r,
                                 const uint8_t *head, size_t len, uint64_t size)
{
    for (uint64_t o = 0; o + OBJTYPE_PREHEADER <= OBJTYPE_HEAD; o += 16) {
        if (o + 16 > len || o + 16 > size)
            break;
        uint64_t type = le64(head + o + OBJTYPE_OB_TYPE);
        if (!type || (type & 7))
            continue;
        const struct objtype *t = lookup(c, r, type);
        if (!t || !t->valid)
            continue;
        uint64_t at = (t->flags & OBJTYPE_F_HAVE_GC ? OBJTYPE_GC_HEAD : 0) +
                      (t->flags & OBJTYPE_F_PREHEADER ? OBJTYPE_PREHEADER : 0);
        if (at == o && t->basicsize <= size - o)
            return t;
    }
    return NULL;
}

void objtype_reset(struct objtype_cache *c)
{
    kmap_free(&c->index);
    free(c->types);
    memset(c, 0, sizeof *c);
}
