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
 */
#include "cpython/linetable.h"

static int64_t lnotab_line(const uint8_t *p, size_t len, int64_t line, int64_t addrq)
{
    int64_t addr = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        addr += p[i];
        if (addr > addrq)
            break;
        line += (int8_t)p[i + 1];
    }
    return line;
}

static int64_t linetable310_line(const uint8_t *p, size_t len, int64_t line, int64_t addrq)
{
    int64_t start = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        int64_t end = start + p[i];
        int8_t ldelta = (int8_t)p[i + 1];
        int64_t cur = -1;
        if (ldelta != -128) {
            line += ldelta;
            cur = line;
        }
        if (start <= addrq && addrq < end)
            return cur;
        start = end;
    }
    return -1;
}

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

static int64_t locations_line(const uint8_t *p, size_t len, int64_t line, int64_t addrq)
{
    int64_t addr = 0;
    size_t i = 0;
    while (i < len) {
        uint8_t head = p[i++];
        if (!(head & 0x80))
            return -1;                  /* lost sync: malformed */
        int code = (head >> 3) & 15;
        int64_t units = (head & 7) + 1;
        int64_t cur;
        uint32_t skip;
        int32_t delta;
        switch (code) {
        case 15:                        /* no location */
            cur = -1;
            break;
        case 14:                        /* long form */
            if (read_svarint(p, len, &i, &delta) < 0)
                return -1;
            line += delta;
            cur = line;
            for (int k = 0; k < 3; k++)         /* end line, columns */
                if (read_varint(p, len, &i, &skip) < 0)
                    return -1;
            break;
        case 13:                        /* no column */
            if (read_svarint(p, len, &i, &delta) < 0)
                return -1;
            line += delta;
            cur = line;
            break;
        case 10: case 11: case 12:      /* one line, two column bytes */
            line += code - 10;
            cur = line;
            i += 2;
            break;
        default:                        /* short form, one column byte */
            cur = line;
            i += 1;
            break;
        }
        if (addrq >= addr && addrq < addr + units)
            return cur;
        addr += units;
    }
    return -1;
}

/* Lines are summed in 64 bits: a table read torn from another process can
 * hold any deltas, and an int would overflow. */
int linetable_line(enum py_linetable_kind kind, const uint8_t *table, size_t len,
                   int firstlineno, int64_t offset)
{
    int64_t line = -1;
    if (offset < 0 || (!table && len))
        return -1;
    switch (kind) {
    case PY_LINES_LNOTAB:
        line = lnotab_line(table, len, firstlineno, offset);
        break;
    case PY_LINES_310:
        line = linetable310_line(table, len, firstlineno, offset);
        break;
    case PY_LINES_LOCATIONS:
        line = locations_line(table, len, firstlineno, offset);
        break;
    }
    return line < -1 || line > INT32_MAX ? -1 : (int)line;
}
