/*
 * fuzz_linetable.c -- libFuzzer entry point for the line-table decoders
 * (src/cpython/linetable.c): a line table is read from another process,
 * so any bytes must decode without reading outside the table or looping
 * without end, and the indexed lookup must answer what the decode from
 * the start answers, for offsets in any order.
 *
 * The input: one byte for the kind (mod 3), one for how many lookups (x4),
 * then the table.  The offsets come from a generator seeded by the input
 * and range a little past what the table can cover.  Build and run: see
 * tests/fuzz/README.md.
 */
#include "cpython/linetable.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    enum py_linetable_kind kind = (enum py_linetable_kind)(1 + data[0] % 3);
    int lookups = 1 + data[1] * 4;
    const uint8_t *table = data + 2;
    size_t len = size - 2;
    size_t room = linetable_index_room(len);
    struct linetable_mark *marks = room ? malloc(room * sizeof *marks) : NULL;
    if (room && !marks)
        return 0;
    struct linetable_index x;
    linetable_index_init(&x, marks, room, 7);
    uint64_t y = 0x9e3779b97f4a7c15ull ^ size;
    for (size_t i = 0; i < len && i < 16; i++)
        y = y * 31 + table[i];
    uint64_t span = (uint64_t)len * 256 + 16;   /* lnotab: up to 255 a pair */
    for (int k = 0; k < lookups; k++) {
        y ^= y << 13;
        y ^= y >> 7;
        y ^= y << 17;
        /* a third of them just after the last: the forward path */
        int64_t off = (int64_t)(y % span);
        if (k % 3 == 0)
            off = (int64_t)(y % 64) + (int64_t)x.front.addr;
        if (linetable_lookup(kind, table, len, &x, off) !=
            linetable_line(kind, table, len, 7, off))
            abort();
    }
    free(marks);
    return 0;
}
