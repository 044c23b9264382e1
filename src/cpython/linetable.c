/*
 * linetable.c -- the three line-table formats CPython has used.
 *
 * 3.9 co_lnotab: pairs (bytecode delta, signed line delta), starting at
 *   address 0 and co_firstlineno; the line of an address is the line after
 *   the last pair whose cumulated address does not exceed it.
 * 3.10 co_linetable: pairs (bytecode length, signed line delta), each pair
 *   covering [start, start+length); a line delta of -128 means "no line".
 * 3.11+ location table: entries of one header byte (bit 7 set, 4-bit code,
 *   3-bit length-1 in code units) followed by code-specific varints.
 *
 * All three are read as one thing: a run of entries, each covering the
 * offsets [addr, end) with one line (for lnotab: the pair's cumulated
 * address is the end, and the line is the one before its delta -- the
 * line that holds up to that address).  One decoder steps through them;
 * the from-the-start lookup and the indexed one differ only in where
 * they start.
 */
#include "cpython/linetable.h"

#include <assert.h>

/* Tables up to this long get an index: its marks' 32-bit cursors and
 * addresses cannot overflow (an entry of at least 1 byte moves the
 * address by at most 255). */
#define INDEX_MAX_LEN (1u << 23)

struct state {
    size_t i;               /* the entry's first byte */
    int64_t addr;           /* the offset it starts at */
    int64_t line;           /* the line before it */
};

/* Reads a 6-bit-chunked varint; returns -1 if the table ends first. */
static int read_varint(const uint8_t *p, size_t len, size_t *i, uint32_t *out)
{
    uint32_t val = 0;
    unsigned shift = 0;
    for (;;) {
        if (*i >= len || shift > 28)
            return -1;
        uint8_t b = p[(*i)++];
        val |= (uint32_t)(b & 63) << shift;
        if (!(b & 64))
            break;
        shift += 6;
    }
    *out = val;
    return 0;
}

static int read_svarint(const uint8_t *p, size_t len, size_t *i, int32_t *out)
{
    uint32_t u;
    if (read_varint(p, len, i, &u) < 0)
        return -1;
    *out = (u & 1) ? -(int32_t)(u >> 1) : (int32_t)(u >> 1);
    return 0;
}

/* One 3.11+ location entry at s->i (its header read): the line it moves
 * to or -1, s->i past it; -2 if malformed. */
static inline __attribute__((always_inline)) int64_t
location_entry(const uint8_t *p, size_t len, struct state *s, int code)
{
    uint32_t skip;
    int32_t delta;
    switch (code) {
    case 15:                        /* no location */
        return -1;
    case 14:                        /* long form */
        if (read_svarint(p, len, &s->i, &delta) < 0)
            return -2;
        s->line += delta;
        for (int k = 0; k < 3; k++)         /* end line, columns */
            if (read_varint(p, len, &s->i, &skip) < 0)
                return -2;
        return s->line;
    case 13:                        /* no column */
        if (read_svarint(p, len, &s->i, &delta) < 0)
            return -2;
        s->line += delta;
        return s->line;
    case 10: case 11: case 12:      /* one line, two column bytes */
        s->line += code - 10;
        s->i += 2;
        return s->line;
    default:                        /* short form, one column byte */
        s->i += 1;
        return s->line;
    }
}

/* Decode the entry at s: offsets [s->addr, *end) have line *cur (-1: no
 * line), and s moves on to the next entry.  1: decoded; 0: the table
 * ended before it; -1: malformed.  Inlined with a constant kind (run_as),
 * so the switch is gone from the loops. */
static inline __attribute__((always_inline)) int
step(enum py_linetable_kind kind, const uint8_t *p, size_t len, struct state *s, int64_t *end,
     int64_t *cur)
{
    switch (kind) {
    case PY_LINES_LNOTAB:
        if (s->i + 1 >= len)
            return 0;
        *end = s->addr + p[s->i];
        *cur = s->line;
        s->line += (int8_t)p[s->i + 1];
        s->i += 2;
        break;
    case PY_LINES_310:
        if (s->i + 1 >= len)
            return 0;
        *end = s->addr + p[s->i];
        *cur = -1;
        if ((int8_t)p[s->i + 1] != -128) {
            s->line += (int8_t)p[s->i + 1];
            *cur = s->line;
        }
        s->i += 2;
        break;
    case PY_LINES_LOCATIONS: {
        if (s->i >= len)
            return 0;
        uint8_t head = p[s->i++];
        if (!(head & 0x80))
            return -1;                  /* lost sync */
        *end = s->addr + (head & 7) + 1;
        *cur = location_entry(p, len, s, (head >> 3) & 15);
        if (*cur == -2)
            return -1;
        break;
    }
    default:
        return -1;
    }
    s->addr = *end;
    return 1;
}

/* Lines are summed in 64 bits: a table read torn from another process can
 * hold any deltas, and an int would overflow. */
static int clamp(int64_t line)
{
    return line < -1 || line > INT32_MAX ? -1 : (int)line;
}

static struct linetable_mark mark_of(const struct state *s)
{
    return (struct linetable_mark){ (uint32_t)s->i, (uint32_t)s->addr, s->line };
}

/* Decode from s (which starts at or before offset q) to the entry holding
 * q.  With x, s is x's frontier: checkpoints are left on the way and the
 * frontier moves to where the decode stopped. */
static inline __attribute__((always_inline)) int
run(enum py_linetable_kind kind, const uint8_t *p, size_t len, struct state s, int64_t q,
    struct linetable_index *x)
{
    /* the table byte at which the next checkpoint is due */
    size_t due = x && x->n < x->cap ? (size_t)x->n * LINETABLE_STRIDE : SIZE_MAX;
    for (;;) {
        if (x && s.i >= due) {
            while (x->n < x->cap && s.i >= (size_t)x->n * LINETABLE_STRIDE)
                x->marks[x->n++] = mark_of(&s);
            due = x->n < x->cap ? (size_t)x->n * LINETABLE_STRIDE : SIZE_MAX;
        }
        struct state at = s;
        int64_t end, cur;
        int r = step(kind, p, len, &s, &end, &cur);
        if (r <= 0) {
            if (x) {
                x->front = mark_of(&at);
                x->stop = r == 0 ? 1 : -1;
            }
            /* past the last entry: lnotab's last line holds on; the
             * others have no line there */
            return r == 0 && kind == PY_LINES_LNOTAB ? clamp(at.line) : -1;
        }
        if (q < end) {
            if (x)
                x->front = mark_of(&at);
            return clamp(cur);
        }
    }
}

/* run, compiled once per kind and with or without an index. */
static int run_as(enum py_linetable_kind kind, const uint8_t *p, size_t len, struct state s,
                  int64_t q, struct linetable_index *x)
{
    switch (kind) {
    case PY_LINES_LNOTAB:
        return x ? run(PY_LINES_LNOTAB, p, len, s, q, x) : run(PY_LINES_LNOTAB, p, len, s, q, NULL);
    case PY_LINES_310:
        return x ? run(PY_LINES_310, p, len, s, q, x) : run(PY_LINES_310, p, len, s, q, NULL);
    case PY_LINES_LOCATIONS:
        return x ? run(PY_LINES_LOCATIONS, p, len, s, q, x)
                 : run(PY_LINES_LOCATIONS, p, len, s, q, NULL);
    }
    return -1;
}

int linetable_line(enum py_linetable_kind kind, const uint8_t *table, size_t len,
                   int firstlineno, int64_t offset)
{
    if (offset < 0 || (!table && len))
        return -1;
    return run_as(kind, table, len, (struct state){ 0, 0, firstlineno }, offset, NULL);
}

size_t linetable_index_room(size_t len)
{
    if (len <= LINETABLE_STRIDE || len > INDEX_MAX_LEN)
        return 0;
    return len / LINETABLE_STRIDE + 1;
}

void linetable_index_init(struct linetable_index *x, struct linetable_mark *marks, size_t cap,
                          int firstlineno)
{
    *x = (struct linetable_index){ .marks = marks, .cap = (uint32_t)cap,
                                   .front = { 0, 0, firstlineno } };
}

int linetable_lookup(enum py_linetable_kind kind, const uint8_t *table, size_t len,
                     struct linetable_index *x, int64_t offset)
{
    if (offset < 0 || (!table && len))
        return -1;
    if (!x->cap || len > INDEX_MAX_LEN)    /* no index: the front never moved */
        return linetable_line(kind, table, len, (int)x->front.line, offset);
    const struct linetable_mark *m = &x->front;
    if (offset >= x->front.addr) {
        if (x->stop)
            return x->stop > 0 && kind == PY_LINES_LNOTAB ? clamp(x->front.line) : -1;
    } else {
        /* the last checkpoint at or before offset (marks[0] is the
         * table's start: the front moved, so it was left) */
        assert(x->n > 0 && x->marks[0].addr == 0);
        uint32_t lo = 0, hi = x->n;
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (x->marks[mid].addr <= offset)
                lo = mid;
            else
                hi = mid;
        }
        m = &x->marks[lo];
    }
    struct state s = { m->cursor, m->addr, m->line };
    return run_as(kind, table, len, s, offset, m == &x->front ? x : NULL);
}
