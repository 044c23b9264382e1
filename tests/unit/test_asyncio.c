/*
 * test_asyncio.c -- reading asyncio's tasks from memory that is garbage.
 *
 * A torn or implausible read must end a chain or skip a task, never crash,
 * never read without bound.  Memory is a region of random words biased to
 * look like CPython's (small counts, pointers back into the region, str
 * objects spelling the names the reader looks up, C strings spelling the
 * type names it compares), and outside it every read fails.  Every
 * version's layout is tried with many seeds (under ASan in CI).  A real
 * process is covered by tests/e2e/test_async.py.
 */
#include "check.h"
#include "cpython/asyncio.h"
#include "cpython/target.h"
#include "cpython/walker.h"
#include "util/mix.h"

#include <stdlib.h>
#include <string.h>

#define BASE 0x100000ull
#define WORDS 8192
#define SEEDS 3000
#define NAMES 10

#define GARBAGE_BASE BASE
#define GARBAGE_WORDS WORDS
#include "garbage.h"

static const char *const planted[NAMES] = {
    "asyncio.tasks", "_all_tasks", "_scheduled_tasks", "_eager_tasks", "data", "_thread_id",
    "_asyncio.Task", "coroutine", "str", "int",
};

/* Planted str object k (the first six) or C string k (the rest). */
static uint64_t str_at(int k)
{
    return BASE + 8 * (WORDS - 256 + 24 * (uint64_t)k);
}

/* A type object named by C string k (6 .. NAMES-1). */
static uint64_t type_at(int k)
{
    return BASE + 8 * (WORDS - 512 + 32 * (uint64_t)(k - 6));
}

static const uint64_t task_size[] = { 184, 192, 176, 176, 144 };   /* 3.9 .. 3.13 */

static void fill(struct mem *m, const struct py_layout *l, int minor, uint64_t seed)
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
        case 5:
            m->w[i] = str_at((int)((r >> 8) % NAMES));          /* a name */
            break;
        case 6:
            m->w[i] = type_at(6 + (int)((r >> 8) % (NAMES - 6)));   /* a type */
            break;
        default:
            m->w[i] = r;
        }
    }
    for (int k = 0; k < NAMES; k++) {
        uint8_t *s = (uint8_t *)m->w + (str_at(k) - BASE);
        int64_t len = (int64_t)strlen(planted[k]);
        memset(s, 0, 24 * 8);
        if (k >= 6) {                                           /* tp_name */
            memcpy(s, planted[k], (size_t)len + 1);
            continue;
        }
        uint32_t state = (1u << 2) | (1u << 5) | (1u << 6);     /* compact ASCII */
        memcpy(s + l->str_length, &len, sizeof len);
        memcpy(s + l->str_state, &state, sizeof state);
        memcpy(s + l->str_ascii_size, planted[k], (size_t)len + 1);
    }
    for (int k = 6; k < NAMES; k++) {                           /* types */
        uint64_t *ty = &m->w[(type_at(k) - BASE) / 8];
        ty[3] = str_at(k);                                      /* tp_name */
        ty[4] = task_size[minor - 9];                           /* tp_basicsize */
    }
}

/* The eager set at word 64 (a set of 16 slots, its table at word 128)
 * holding 8 tasks of the right type, pending, made of garbage otherwise
 * (at words 512 + 64 k). */
static void plant_tasks(struct mem *m, uint64_t set_type, int minor)
{
    uint64_t *set = &m->w[64], *table = &m->w[128];
    set[1] = set_type;
    set[3] = 8;                         /* used */
    set[4] = 15;                        /* mask */
    set[5] = BASE + 8 * 128;            /* table */
    memset(table, 0, 16 * 16);
    for (int k = 0; k < 8; k++) {
        uint64_t *task = &m->w[512 + 64 * k];
        table[2 * k] = BASE + 8 * (512 + 64 * (uint64_t)k);
        table[2 * k + 1] = (uint64_t)k;                         /* hash */
        task[1] = type_at(6);                                   /* _asyncio.Task */
        task[(minor == 9 ? 80 : minor == 13 ? 96 : 88) / 8] &= ~0xffffffffull;  /* pending */
    }
}

int main(void)
{
    static struct mem m;
    struct py_thread threads[2] = {
        { .tstate = BASE + 64, .thread_id = BASE + 128, .tid = 100 },
        { .tstate = BASE + 256, .thread_id = 7, .tid = 101 },
    };
    struct py_snapshot snap = { .threads = threads, .nthreads = 2 };
    int runs = 0;
    size_t most_tasks = 0;
    uint64_t most_reads = 0;

    for (int minor = 9; minor <= 13; minor++) {
        const struct py_layout *table = py_layout_table(3, minor);
        CHECK(table != NULL);
        if (!table)
            continue;
        for (uint64_t seed = 0; seed < SEEDS; seed++) {
            fill(&m, table, minor, seed * 16 + (uint64_t)minor);
            struct reader r = { .read = mem_read, .ctx = &m };
            struct py_target t;
            struct py_error err;
            if (py_target_init(&t, 1, r, 3, minor < 13 ? minor : 12, 0,
                               BASE + 8 * (seed % WORDS), 0, &err) != PY_OK)
                continue;
            t.minor = minor;
            t.layout = *table;
            /* start from a "set" anywhere: the registry as if found */
            struct py_tasks ts = {0};
            ts.weak = BASE + 8 * (mix64(seed) % WORDS);
            ts.set_type = m.w[(ts.weak - BASE) / 8 + 1];
            ts.eager = BASE + 8 * 64;
            plant_tasks(&m, ts.set_type, minor);
            int rc = py_asyncio_read(&t, &snap, &ts);
            CHECK(rc == 0 || rc == -1);
            for (size_t i = 0; i < ts.n; i++)
                CHECK(ts.v[i].first + ts.v[i].n <= ts.nframes);
            if (ts.n > most_tasks)
                most_tasks = ts.n;
            if (t.rd.reads > most_reads)
                most_reads = t.rd.reads;
            runs++;
            py_tasks_free(&ts);
            py_target_close(&t);
        }
    }
    printf("# %d runs, at most %zu tasks and %llu reads in one\n", runs, most_tasks,
           (unsigned long long)most_reads);
    CHECK(runs == 5 * SEEDS);
    CHECK(most_tasks > 0);              /* the garbage did reach tasks */
    CHECK(most_reads < 2000000);        /* bounded */

    /* A version without known offsets reads nothing. */
    struct reader r = { .read = mem_read, .ctx = &m };
    struct py_target t;
    struct py_error err;
    if (py_target_init(&t, 1, r, 3, 12, 0, BASE, 0, &err) == PY_OK) {
        t.minor = 14;
        CHECK(py_asyncio_unsupported(&t) != NULL);
        struct py_tasks ts = {0};
        uint64_t before = t.rd.reads;
        CHECK_EQ_INT(py_asyncio_read(&t, &snap, &ts), -1);
        CHECK_EQ_INT(t.rd.reads - before, 0);
        py_tasks_free(&ts);
        py_target_close(&t);
    }
    return CHECK_DONE();
}
