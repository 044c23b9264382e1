/*
 * objtype.c -- a live block's Python type, checked (objtype.h).
 */
#include "cpython/objtype.h"
#include "util/utf8.h"

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

/* tp_name: printable UTF-8 and a NUL within OBJTYPE_NAME_MAX (a dying
 * heap type's name may already be other bytes); the read stops at the
 * page's end, so a short name at the end of a mapping reads. */
static int read_name(struct reader *r, uint64_t at, char *out)
{
    size_t room = 4096 - (size_t)(at & 4095);
    size_t len = room < OBJTYPE_NAME_MAX ? room : OBJTYPE_NAME_MAX;
    if (!at || reader_read(r, at, out, len) < 0)
        return -1;
    for (size_t i = 0; i < len;) {
        const unsigned char *p = (const unsigned char *)out + i;
        if (!*p)
            return i ? 0 : -1;
        if (*p < 0x20 || *p == 0x7f)
            return -1;
        size_t n = utf8_char_len(p, len - i);
        if (*p >= 0x80 && n == 1)
            return -1;
        i += n;
    }
    return -1;
}

#define HEADER (OBJTYPE_TP_FLAGS + 8)

/* t's type object header h read: the checks of objtype.h. */
static void check(struct reader *r, struct objtype *t, const uint8_t *h)
{
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

/* A new entry for addr (not checked yet), or NULL: known already (*known
 * set), or out of memory. */
static struct objtype *entry(struct objtype_cache *c, uint64_t addr, const struct objtype **known)
{
    int isnew;
    *known = NULL;
    if (c->n >= OBJTYPE_CACHE_MAX && !kmap_get(&c->index, addr, 0, 0))
        return NULL;            /* full: read nothing new */
    uint32_t *slot = kmap_put(&c->index, addr, 0, 0, &isnew);
    if (!slot)
        return NULL;
    if (!isnew) {
        *known = *slot ? &c->types[*slot - 1] : NULL;
        return NULL;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct objtype *v = realloc(c->types, cap * sizeof *v);
        if (!v)
            return NULL;        /* slot 0: never read, a miss next time too */
        c->types = v;
        c->cap = cap;
    }
    struct objtype *t = &c->types[c->n++];
    memset(t, 0, sizeof *t);
    t->addr = addr;
    *slot = (uint32_t)c->n;
    return t;
}

static const struct objtype *lookup(struct objtype_cache *c, struct reader *r, uint64_t addr)
{
    const struct objtype *known;
    struct objtype *t = entry(c, addr, &known);
    uint8_t h[HEADER];
    if (t && reader_read(r, addr, h, sizeof h) == 0)
        check(r, t, h);
    return t ? t : known;
}

#define PREFETCH 256

void objtype_prefetch(struct objtype_cache *c, struct reader *r, const uint64_t *addrs,
                      size_t n)
{
    uint8_t h[PREFETCH][HEADER];        /* 44 KiB: the census runs on its own thread */
    struct reader_iov iov[PREFETCH];
    uint32_t which[PREFETCH];
    size_t k = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || k == PREFETCH) {
            reader_readv(r, iov, k);
            for (size_t j = 0; j < k; j++)
                if (iov[j].ok)
                    check(r, &c->types[which[j]], h[j]);
            k = 0;
        }
        if (i == n)
            break;
        const struct objtype *known;
        if (!addrs[i] || (addrs[i] & 7) || !entry(c, addrs[i], &known))
            continue;
        which[k] = (uint32_t)(c->n - 1);        /* an index: the array may move */
        iov[k] = (struct reader_iov){ addrs[i], h[k], HEADER, 0 };
        k++;
    }
}

/* The type at start o of the block, if it puts an object there. */
static int fits(const struct objtype *t, uint64_t o, uint64_t size)
{
    uint64_t at = (t->flags & OBJTYPE_F_HAVE_GC ? OBJTYPE_GC_HEAD : 0) +
                  (t->flags & OBJTYPE_F_PREHEADER ? OBJTYPE_PREHEADER : 0);
    return t->valid && at == o && t->basicsize <= size - o;
}

const struct objtype *objtype_of(struct objtype_cache *c, struct reader *r,
                                 const uint8_t *head, size_t len, uint64_t size)
{
    /* Types known already first: the words at the wrong starts (a GC
     * header's links, a refcount) are mostly unique addresses, and reading
     * each as a type would cost a system call per object. */
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t o = 0; o + OBJTYPE_PREHEADER <= OBJTYPE_HEAD; o += 16) {
            if (o + 16 > len || o + 16 > size)
                break;
            uint64_t type = le64(head + o + OBJTYPE_OB_TYPE);
            if (!type || (type & 7))
                continue;
            uint32_t known = kmap_get(&c->index, type, 0, 0);
            const struct objtype *t = known ? &c->types[known - 1]
                                    : pass && r ? lookup(c, r, type) : NULL;
            if (t && fits(t, o, size))
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
