/*
 * test_linetable.c -- every line-table decoder against CPython's own
 * answers (tests/data/linetables.txt, made by
 * tools/gen_linetable_fixtures.py on each supported interpreter), from the
 * start and through an index; plus malformed tables that must not crash,
 * and whose indexed answers are the decode's from the start.
 */
#include "check.h"
#include "cpython/linetable.h"
#include "unhex.h"

#include <stdlib.h>
#include <string.h>

#define MAX_OFFSETS 65536

int main(void)
{
    FILE *f = fopen("tests/data/linetables.txt", "r");
    CHECK(f != NULL);
    if (!f)
        return CHECK_DONE();
    static char line[1 << 20];
    static uint8_t table[1 << 16];
    static struct linetable_mark marks[(1 << 16) / LINETABLE_STRIDE + 1];
    static long offs[MAX_OFFSETS];
    static int wants[MAX_OFFSETS];
    int tables = 0, kinds[4] = {0};
    long offsets = 0, wrong = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *save;
        int kind = atoi(strtok_r(line, " \n", &save));
        int first = atoi(strtok_r(NULL, " \n", &save));
        size_t len = unhex(strtok_r(NULL, " \n", &save), table, sizeof table);
        int this_wrong = 0, n = 0;
        for (char *p; (p = strtok_r(NULL, " \n", &save)) && n < MAX_OFFSETS;) {
            if (sscanf(p, "%ld:%d", &offs[n], &wants[n]) != 2)
                continue;
            int got = linetable_line((enum py_linetable_kind)kind, table, len, first, offs[n]);
            offsets++;
            if (got != wants[n]) {
                if (this_wrong++ < 3)
                    printf("# kind %d first %d offset %ld: want %d got %d\n",
                           kind, first, offs[n], wants[n], got);
                wrong++;
            }
            n++;
        }
        CHECK_EQ_INT(this_wrong, 0);
        /* the indexed lookup, last offset first (each one behind the
         * frontier after the first), then first to last */
        struct linetable_index x;
        linetable_index_init(&x, marks, linetable_index_room(len), first);
        int index_wrong = 0;
        for (int k = 0; k < 2 * n; k++) {
            int j = k < n ? n - 1 - k : k - n;
            index_wrong += linetable_lookup((enum py_linetable_kind)kind, table, len, &x,
                                            offs[j]) != wants[j];
        }
        CHECK_EQ_INT(index_wrong, 0);
        if (kind >= 1 && kind <= 3)
            kinds[kind]++;
        tables++;
    }
    fclose(f);
    printf("# %d tables, %ld offsets, %ld wrong\n", tables, offsets, wrong);
    CHECK(kinds[1] > 0 && kinds[2] > 0 && kinds[3] > 0);

    /* Malformed and truncated tables: any answer, but no crash or hang. */
    uint8_t junk[64];
    for (int seed = 1; seed < 2000; seed++) {
        unsigned x = (unsigned)seed * 2654435761u;
        for (size_t i = 0; i < sizeof junk; i++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            junk[i] = (uint8_t)x;
        }
        for (int k = 1; k <= 3; k++)
            linetable_line((enum py_linetable_kind)k, junk, (size_t)(seed % 65), 1, seed % 97);
    }
    /* Any bytes, through an index: the answers of the decode from the
     * start, in any order (random offsets, some past the end); most
     * bytes with bit 7 set, so that location tables decode for a while
     * before they lose sync. */
    static uint8_t big[1024];
    int junk_wrong = 0;
    unsigned y = 12345;
    for (int seed = 1; seed < 600; seed++) {
        size_t len = (size_t)(seed * 7) % sizeof big;
        for (size_t i = 0; i < len; i++) {
            y ^= y << 13; y ^= y >> 17; y ^= y << 5;
            big[i] = (uint8_t)(seed % 3 ? y | 0x80 : y);
        }
        for (int k = 1; k <= 3; k++) {
            struct linetable_index x;
            linetable_index_init(&x, marks, linetable_index_room(len), seed);
            for (int q = 0; q < 200; q++) {
                y ^= y << 13; y ^= y >> 17; y ^= y << 5;
                int64_t off = (int64_t)(y % (len * 3 + 8));
                junk_wrong += linetable_lookup((enum py_linetable_kind)k, big, len, &x, off) !=
                              linetable_line((enum py_linetable_kind)k, big, len, seed, off);
            }
        }
    }
    CHECK_EQ_INT(junk_wrong, 0);
    CHECK_EQ_INT(linetable_line(PY_LINES_LOCATIONS, NULL, 0, 5, 0), -1);
    CHECK_EQ_INT(linetable_line(PY_LINES_LOCATIONS, junk, 8, 5, -1), -1);
    /* a varint that never ends */
    uint8_t endless[] = { 0x80 | (14 << 3), 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f };
    CHECK_EQ_INT(linetable_line(PY_LINES_LOCATIONS, endless, sizeof endless, 5, 0), -1);
    return CHECK_DONE();
}
