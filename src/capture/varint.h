/*
 * varint.h -- LEB128 varints and zigzag, the encoding of every field inside
 * a capture record; a growable byte buffer for writing them and a bounded
 * cursor for reading them.
 *
 * A varint holds 7 bits per byte, low bits first, the high bit set on every
 * byte but the last; a uint64 takes at most 10 bytes.  Zigzag maps signed
 * values to unsigned ones so small negative numbers stay short:
 * 0, -1, 1, -2, ... -> 0, 1, 2, 3, ...
 */
#ifndef STETHO_CAPTURE_VARINT_H
#define STETHO_CAPTURE_VARINT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* ---- writing ---- */

#define VARINT_MAX 10           /* bytes of the longest varint (a uint64) */

/* The varint of v at p, which has room for VARINT_MAX bytes; returns the
 * end.  No allocation: the agent encodes with it on its hot path. */
static inline uint8_t *varint_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

struct vbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;                    /* an allocation failed; the contents are short */
};

static inline int vbuf_reserve(struct vbuf *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->cap - b->len >= more)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline void vbuf_put(struct vbuf *b, const void *src, size_t n)
{
    if (n && vbuf_reserve(b, n) == 0) {
        memcpy(b->p + b->len, src, n);
        b->len += n;
    }
}

static inline void vbuf_varint(struct vbuf *b, uint64_t v)
{
    if (vbuf_reserve(b, VARINT_MAX) < 0)
        return;
    b->len = (size_t)(varint_put(b->p + b->len, v) - b->p);
}

static inline void vbuf_svarint(struct vbuf *b, int64_t v)
{
    vbuf_varint(b, zigzag(v));
}

/* ---- reading ---- */

/* Reading past the end or an over-long varint sets `bad` and yields zeros,
 * so a decoder can read a whole record and check `bad` once. */
struct vcur {
    const uint8_t *p, *end;
    int bad;
};

/* The varint at c->p, read from at most n (<= VARINT_MAX) bytes.  One body
 * for both readers below: with n the constant VARINT_MAX the compiler drops
 * the end test of every byte.  A malformed one sets bad and moves p to the
 * end -- but for the roomy reader only past its VARINT_MAX bytes: the next
 * fields of its record must stay inside the room its caller checked (from
 * the end they would read past it); the caller moves p to the end. */
static inline uint64_t vcur_take_(struct vcur *c, size_t n, const int roomy)
{
    const uint8_t *p = c->p;
    uint64_t v = 0;

    /* unrolled: every field of every record and event goes through here */
#pragma GCC unroll 10
    for (size_t i = 0; i < VARINT_MAX; i++) {
        if (i == n)
            break;
        uint8_t b = p[i];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (b < 0x80) {
            if (i == VARINT_MAX - 1 && b > 1)
                break;          /* more than 64 bits */
            c->p = p + i + 1;
            return v;
        }
    }
    c->bad = 1;
    c->p = roomy ? p + VARINT_MAX : c->end;
    return 0;
}

static inline uint64_t vcur_varint(struct vcur *c)
{
    size_t n = (size_t)(c->end - c->p);
    return vcur_take_(c, n < VARINT_MAX ? n : VARINT_MAX, 0);
}

/* vcur_varint() for a caller that made sure VARINT_MAX bytes are left (a
 * decoder checking once for a whole record of varints): no end test per
 * byte, a fifth of stetho's decoding instructions.  The caller moves p to
 * the end if bad is set after the record (vcur_take_). */
static inline uint64_t vcur_varint_roomy(struct vcur *c)
{
    return vcur_take_(c, VARINT_MAX, 1);
}

static inline int64_t vcur_svarint(struct vcur *c)
{
    return unzigzag(vcur_varint(c));
}

static inline size_t vcur_left(const struct vcur *c)
{
    return (size_t)(c->end - c->p);
}

#endif
