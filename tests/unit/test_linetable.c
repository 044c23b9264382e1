/*
 * test_linetable.c -- every line-table decoder against CPython's own
 * answers (tests/data/linetables.txt, made by
 * tools/gen_linetable_fixtures.py on each supported interpreter), plus
 * malformed tables that must not crash.
 */
#include "check.h"
#include "cpython/linetable.h"

#include <stdlib.h>
#include <string.h>

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    if (!strcmp(s, "-"))
        return 0;
    while (s[0] && s[1] && n < max) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

int main(void)
{
    FILE *f = fopen("tests/data/linetables.txt", "r");
    CHECK(f != NULL);
    if (!f)
        return CHECK_DONE();
    static char line[1 << 20];
    static uint8_t table[1 << 16];
    int tables = 0, kinds[4] = {0};
    long offsets = 0, wrong = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char *save;
        int kind = atoi(strtok_r(line, " \n", &save));
        int first = atoi(strtok_r(NULL, " \n", &save));
        size_t len = unhex(strtok_r(NULL, " \n", &save), table, sizeof table);
        int this_wrong = 0;
        for (char *p; (p = strtok_r(NULL, " \n", &save));) {
            long off;
            int want;
            if (sscanf(p, "%ld:%d", &off, &want) != 2)
                continue;
            int got = linetable_line((enum py_linetable_kind)kind, table, len, first, off);
            offsets++;
            if (got != want) {
                if (this_wrong++ < 3)
                    printf("# kind %d first %d offset %ld: want %d got %d\n",
                           kind, first, off, want, got);
                wrong++;
            }
        }
        CHECK_EQ_INT(this_wrong, 0);
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
    CHECK_EQ_INT(linetable_line(PY_LINES_LOCATIONS, NULL, 0, 5, 0), -1);
    CHECK_EQ_INT(linetable_line(PY_LINES_LOCATIONS, junk, 8, 5, -1), -1);
    /* a varint that never ends */
    uint8_t endless[] = { 0x80 | (14 << 3), 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f };
    CHECK_EQ_INT(linetable_line(PY_LINES_LOCATIONS, endless, sizeof endless, 5, 0), -1);
    return CHECK_DONE();
}
