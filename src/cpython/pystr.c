/*
 * pystr.c -- strings and bytes from another process.
 *
 * The str header's state word packs (low bits first) interned:2, kind:3,
 * compact:1, ascii:1 on every version we support.  ASCII compact strings
 * keep their characters right after PyASCIIObject; other compact strings
 * after PyCompactUnicodeObject, in 1, 2 or 4 bytes per character.
 */
#include "cpython/pystr.h"

#include <stdlib.h>
#include <string.h>

static size_t put_utf8(char *out, uint32_t c)
{
    if (c < 0x80) { out[0] = (char)c; return 1; }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 63));
        return 2;
    }
    if (c < 0x10000) {
        if (c >= 0xd800 && c < 0xe000)
            c = 0xfffd;                 /* lone surrogate: replace */
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 63));
        out[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    if (c > 0x10ffff)
        c = 0xfffd;
    if (c < 0x10000)
        return put_utf8(out, c);
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 63));
    out[2] = (char)(0x80 | ((c >> 6) & 63));
    out[3] = (char)(0x80 | (c & 63));
    return 4;
}

char *py_read_str(struct reader *r, const struct py_layout *l, uint64_t addr, size_t max)
{
    if (!addr)
        return NULL;
    uint8_t head[128];
    size_t hsize = l->str_compact_size;
    if (hsize > sizeof head || l->str_state + 4 > hsize)
        return NULL;
    if (reader_read(r, addr, head, hsize) < 0)
        return NULL;
    int64_t length;
    uint32_t state;
    memcpy(&length, head + l->str_length, sizeof length);
    memcpy(&state, head + l->str_state, sizeof state);
    unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    if (length < 0 || !compact || (kind != 1 && kind != 2 && kind != 4))
        return NULL;
    if ((size_t)length > max)
        length = (int64_t)max;
    uint64_t data = addr + (ascii ? l->str_ascii_size : l->str_compact_size);
    size_t nbytes = (size_t)length * kind;
    uint8_t *raw = malloc(nbytes ? nbytes : 1);
    char *out = malloc((size_t)length * 4 + 1);
    if (!raw || !out || (nbytes && reader_read(r, data, raw, nbytes) < 0)) {
        free(raw);
        free(out);
        return NULL;
    }
    size_t o = 0;
    for (int64_t i = 0; i < length; i++) {
        uint32_t c;
        if (kind == 1) c = raw[i];
        else if (kind == 2) { uint16_t v; memcpy(&v, raw + 2 * i, 2); c = v; }
        else memcpy(&c, raw + 4 * i, 4);
        if (c == 0)
            c = 0xfffd;                 /* keep the C string whole */
        o += put_utf8(out + o, c);
    }
    out[o] = 0;
    free(raw);
    return out;
}

uint8_t *py_read_bytes(struct reader *r, const struct py_layout *l, uint64_t addr,
                       size_t max, size_t *len)
{
    int64_t size;
    if (!addr || reader_read(r, addr + l->bytes_size, &size, sizeof size) < 0)
        return NULL;
    if (size < 0 || (uint64_t)size > max)
        return NULL;
    uint8_t *buf = malloc(size ? (size_t)size : 1);
    if (!buf)
        return NULL;
    if (size && reader_read(r, addr + l->bytes_sval, buf, (size_t)size) < 0) {
        free(buf);
        return NULL;
    }
    *len = (size_t)size;
    return buf;
}
