/*
 * test_threadnames.c -- reading thread names from memory that is garbage.
 *
 * A torn or implausible read must give no name, never a wrong one, never a
 * crash or an unbounded read.  Memory here is a small region of random
 * words, biased to look like CPython's: small counts, pointers back into the
 * region, and str objects spelling the names the reader looks for
 * ("threading", "_active", "_name") that random dicts may point at; outside
 * the region every read fails.  Every version's layout is tried with many
 * seeds (under ASan in CI).  A real process is covered by
 * tests/e2e/test_threadnames.py.
 */
#include "check.h"
#include "cpython/target.h"
#include "cpython/threadnames.h"
#include "cpython/walker.h"
#include "util/mix.h"

#include <stdlib.h>
#include <string.h>

#define BASE 0x100000ull
#define WORDS 4096
#define SEEDS 5000

#define GARBAGE_BASE BASE
#define GARBAGE_WORDS WORDS
#include "garbage.h"

static const char *const planted[] = { "threading", "_active", "_name", "uploader" };

/* The address of planted string k. */
static uint64_t str_at(int k)
{
    return BASE + 8 * (WORDS - 64 + 16 * (uint64_t)k);
}

static void fill(struct mem *m, const struct py_layout *l, uint64_t seed)
{
    for (size_t i = 0; i < WORDS; i++) {
        uint64_t r = mix64(seed * WORDS + i + 1);
        switch (r & 7) {
        case 0: case 1:
            m->w[i] = (r >> 8) & 31;                            /* a count */
            break;
        case 2: case 3: case 4:
            m->w[i] = BASE + 8 * ((r >> 8) % WORDS);            /* a pointer */
            break;
        case 5: case 6:
            m->w[i] = str_at((int)((r >> 8) & 3));              /* a name */
            break;
        default:
            m->w[i] = r;
        }
    }
    for (int k = 0; k < 4; k++) {
        uint8_t *s = (uint8_t *)m->w + (str_at(k) - BASE);
        int64_t len = (int64_t)strlen(planted[k]);
        uint32_t state = (1u << 2) | (1u << 5) | (1u << 6);     /* compact ASCII */
        memset(s, 0, 128);
        memcpy(s + l->str_length, &len, sizeof len);
        memcpy(s + l->str_state, &state, sizeof state);
        memcpy(s + l->str_ascii_size, planted[k], (size_t)len + 1);
    }
}

int main(void)
{
    static struct mem m;
    struct py_thread threads[4];
    for (int i = 0; i < 4; i++)
        threads[i] = (struct py_thread){ .thread_id = (uint64_t)i + 1, .tid = 100 + i };
    struct py_snapshot snap = { .threads = threads, .nthreads = 4 };
    int named = 0, runs = 0;
    uint64_t most_reads = 0;

    for (int minor = 9; minor <= 13; minor++) {
        const struct py_layout *table = py_layout_table(3, minor);
        CHECK(table != NULL);
        if (!table)
            continue;
        for (uint64_t seed = 0; seed < SEEDS; seed++) {
            fill(&m, table, seed * 16 + (uint64_t)minor);
            struct reader r = { .read = mem_read, .ctx = &m };
            struct py_target t;
            struct py_error err;
            /* 3.13 reads _Py_DebugOffsets at init: init as 3.12, then
             * take 3.13's table as it would be */
            if (py_target_init(&t, 1, r, 3, minor < 13 ? minor : 12, 0,
                               BASE + 8 * (seed % WORDS), 0, &err) != PY_OK)
                continue;
            t.minor = minor;
            t.layout = *table;
            py_threadnames_update(&t, &snap, 0);
            for (int i = 0; i < 4; i++)
                named += py_thread_name(&t, &threads[i]) != NULL;
            if (t.rd.reads > most_reads)
                most_reads = t.rd.reads;
            runs++;
            py_target_close(&t);
        }
    }
    printf("# %d runs, at most %llu reads in one\n", runs, (unsigned long long)most_reads);
    CHECK(runs == 5 * SEEDS);
    CHECK_EQ_INT(named, 0);             /* garbage never names a thread */
    CHECK(most_reads < 100000);         /* bounded */

    /* A version read through _Py_DebugOffsets without a table: no names. */
    struct reader r = { .read = mem_read, .ctx = &m };
    struct py_target t;
    struct py_error err;
    if (py_target_init(&t, 1, r, 3, 12, 0, BASE, 0, &err) == PY_OK) {
        t.minor = 14;
        uint64_t before = t.rd.reads;
        py_threadnames_update(&t, &snap, 0);
        CHECK_EQ_INT(t.rd.reads - before, 0);
        py_target_close(&t);
    }
    return CHECK_DONE();
}
