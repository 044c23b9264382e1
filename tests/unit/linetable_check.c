/*
 * linetable_check.c -- a test aid: the indexed line-table lookup
 * (linetable_lookup) against the from-the-start decode (linetable_line)
 * for every offset of real code objects.
 *
 * stdin: one code object a line, "<kind> <firstlineno> <offsets> <table
 * hex>" (tests/e2e/test_linetable_index.py writes them from what each
 * interpreter compiled; kind as in tests/data/linetables.txt).  Each is
 * looked up at offsets 0 .. offsets+3 (past its end too) through three
 * fresh indexes: in increasing order, in decreasing order and in a
 * random order, the last then once more in increasing order.  Prints one
 * summary line; exit 1 if any answer differed, 2 on unreadable input.
 */
#include "cpython/linetable.h"
#include "unhex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

enum order { UP, DOWN, RANDOM, ORDERS };

int main(void)
{
    static char line[1 << 22];
    static uint8_t table[1 << 21];
    static struct linetable_mark marks[(1 << 21) / LINETABLE_STRIDE + 1];
    long codes = 0, indexed = 0, lookups = 0, wrong = 0;
    while (fgets(line, sizeof line, stdin)) {
        char *save, *tk[4];
        tk[0] = strtok_r(line, " \n", &save);
        for (int k = 1; k < 4; k++)
            tk[k] = tk[k - 1] ? strtok_r(NULL, " \n", &save) : NULL;
        if (!tk[3]) {
            fprintf(stderr, "linetable_check: bad line %ld\n", codes + 1);
            return 2;
        }
        enum py_linetable_kind kind = (enum py_linetable_kind)atoi(tk[0]);
        int first = atoi(tk[1]);
        long n = atol(tk[2]) + 4;
        size_t len = unhex(tk[3], table, sizeof table);
        int *want = malloc((size_t)n * sizeof *want);
        long *perm = malloc((size_t)n * sizeof *perm);
        if (!want || !perm)
            return 2;
        for (long o = 0; o < n; o++)
            want[o] = linetable_line(kind, table, len, first, o);
        size_t room = linetable_index_room(len);
        indexed += room > 0;
        for (int order = UP; order < ORDERS; order++) {
            for (long o = 0; o < n; o++)
                perm[o] = order == DOWN ? n - 1 - o : o;
            if (order == RANDOM)
                for (long o = n - 1; o > 0; o--) {
                    long j = (long)(next_rand() % (uint64_t)(o + 1)), t = perm[o];
                    perm[o] = perm[j];
                    perm[j] = t;
                }
            struct linetable_index x;
            linetable_index_init(&x, marks, room, first);
            for (int pass = 0; pass < (order == RANDOM ? 2 : 1); pass++)
                for (long k = 0; k < n; k++) {
                    long o = pass ? k : perm[k];
                    int got = linetable_lookup(kind, table, len, &x, o);
                    lookups++;
                    if (got != want[o] && wrong++ < 10)
                        printf("# kind %d first %d len %zu offset %ld order %d: want %d got %d\n",
                               kind, first, len, o, order, want[o], got);
                }
        }
        free(want);
        free(perm);
        codes++;
    }
    printf("codes %ld indexed %ld lookups %ld wrong %ld\n", codes, indexed, lookups, wrong);
    return wrong ? 1 : 0;
}
