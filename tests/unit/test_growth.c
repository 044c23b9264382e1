/*
 * test_growth.c -- the MEM_GROWTH and GC records (written, read back,
 * refused when malformed) and the leak-suspect rules of model/growth.h on series
 * whose answer is known.
 */
#include "check.h"
#include "capture/capture.h"
#include "model/growth.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1ull << 20)

/* A capture with one stack per series (ids 1..n), written and read back. */
static int load_series(const uint64_t *const *series, const uint32_t *lens, int n,
                       struct capture *c)
{
    char path[] = "/tmp/stetho-growth-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    struct capture_writer *w = capw_open(path, 10000000);
    uint32_t fr = capw_frame(w, "f", "app.py", 3, 1, CAP_FRAME_PYTHON);
    uint32_t parent = 0;
    for (int i = 0; i < n; i++) {
        uint32_t st = capw_stack(w, parent, fr);        /* a deeper stack each */
        capw_mem_stack(w, &(struct cap_mem_stack){ .pid = 7, .tid = 7, .stack = st,
                                                   .alloc_bytes = 1, .alloc_count = 1 });
        capw_mem_growth(w, &(struct cap_mem_growth){ 7, 7, st, lens[i], 100000000, series[i] });
        parent = st;
    }
    capw_close(w, 1000000000);
    char err[200];
    int rc = capture_load(path, c, err, sizeof err);
    unlink(path);
    return rc;
}

static void test_roundtrip_and_suspects(void)
{
    uint64_t rising[40], flat[40], early[40], late[40], saw[40], noisy[40];
    for (int i = 0; i < 40; i++) {
        rising[i] = (uint64_t)(i + 1) * MIB / 4;                /* 2.5 MiB/s at 100 ms */
        flat[i] = 3 * MIB + (i % 3) * 100000;                   /* holds steady */
        early[i] = i < 2 ? (uint64_t)(i + 1) * MIB : 2 * MIB;   /* filled once */
        late[i] = i < 35 ? 0 : (uint64_t)(i - 34) * MIB;        /* the last buckets */
        saw[i] = (uint64_t)(i % 10) * MIB;                      /* comes and goes */
        noisy[i] = (uint64_t)(i % 2 ? 5 : 1) * MIB + (uint64_t)i * 1000;
    }
    const uint64_t *series[] = { rising, flat, early, late, saw, noisy };
    uint32_t lens[] = { 40, 40, 40, 40, 40, 40 };
    struct capture c;
    CHECK_EQ_INT(load_series(series, lens, 6, &c), 0);
    CHECK_EQ_INT(c.ngrowth, 6);
    int same = c.ngrowth == 6;
    for (size_t i = 0; same && i < 6; i++)
        for (uint32_t k = 0; k < 40; k++)
            same &= c.growth[i].n == 40 && c.growth[i].live[k] == series[i][k] &&
                    c.growth[i].bucket_ns == 100000000;
    CHECK(same);

    struct growth g;
    CHECK_EQ_INT(growth_build(&g, &c), 0);
    CHECK_EQ_INT(g.nseries, 6);
    CHECK_EQ_INT(g.nsuspects, 1);
    if (g.nsuspects == 1) {
        const struct growth_suspect *s = &g.suspects[0];
        CHECK_EQ_INT(g.series[s->series].stack, c.growth[0].stack);
        CHECK(s->rate > 2.49 * MIB && s->rate < 2.51 * MIB);
        CHECK(s->r2 > 0.999 && s->rose == 1.0);
        CHECK_EQ_INT(s->since_ns, 100000000);
        CHECK_EQ_INT(s->to_bytes, 10 * MIB);
    }
    growth_free(&g);
    capture_free(&c);
}

/* The same stack in two threads is one series, summed; a leak that
 * starts halfway is a suspect since then. */
static void test_threads_and_since(void)
{
    uint64_t a[30], b[30];
    for (int i = 0; i < 30; i++) {
        a[i] = i < 10 ? MIB : MIB + (uint64_t)(i - 9) * MIB / 8;
        b[i] = a[i];
    }
    char path[] = "/tmp/stetho-growth-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    struct capture_writer *w = capw_open(path, 10000000);
    uint32_t st = capw_stack(w, 0, capw_frame(w, "g", "app.py", 5, 4, CAP_FRAME_PYTHON));
    capw_mem_growth(w, &(struct cap_mem_growth){ 7, 7, st, 30, 50000000, a });
    capw_mem_growth(w, &(struct cap_mem_growth){ 7, 8, st, 30, 50000000, b });
    capw_close(w, 1500000000);
    struct capture c;
    char err[200];
    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    unlink(path);
    struct growth g;
    CHECK_EQ_INT(growth_build(&g, &c), 0);
    CHECK_EQ_INT(g.nseries, 1);
    CHECK_EQ_INT(g.nsuspects, 1);
    if (g.nsuspects == 1) {
        /* the last time it held its least: bucket 9, which ends at 0.5 s */
        CHECK_EQ_INT(g.suspects[0].since_ns, 500000000);
        CHECK_EQ_INT(g.suspects[0].from_bytes, 2 * MIB);
        CHECK(g.suspects[0].rate > 4.99 * MIB && g.suspects[0].rate < 5.01 * MIB);
    }
    growth_free(&g);
    capture_free(&c);
}

/* Malformed records end the read there (the capture is cut, not crashed). */
static void test_refused(void)
{
    uint64_t down[3] = { 5, 2, 7 };
    char path[] = "/tmp/stetho-growth-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    struct capture_writer *w = capw_open(path, 10000000);
    uint32_t st = capw_stack(w, 0, capw_frame(w, "h", "app.py", 1, 1, CAP_FRAME_PYTHON));
    /* the writer refuses what a reader would */
    CHECK(capw_mem_growth(w, &(struct cap_mem_growth){ 1, 1, st, 3, 0, down }) < 0);
    CHECK(capw_mem_growth(w, &(struct cap_mem_growth){ 1, 1, st, 5000, 1, down }) < 0);
    CHECK_EQ_INT(capw_mem_growth(w, &(struct cap_mem_growth){ 1, 1, st, 3, 1000, down }), 0);
    /* and a GC record beside it, read back as written */
    struct cap_gc_point gc = { 77, -5, { 1, 2, 3 }, { 40, 50, 1ull << 40 }, { 0, 0, 9 } };
    CHECK_EQ_INT(capw_gc(w, &gc), 0);
    capw_close(w, 1000);
    struct capture c;
    char err[200];
    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    unlink(path);
    CHECK(c.ngrowth == 1 && c.growth[0].live[1] == 2 && c.growth[0].live[2] == 7);
    CHECK(c.ngc == 1 && c.gc[0].t_ns == 77 && c.gc[0].pid == -5 &&
          !memcmp(c.gc[0].collections, gc.collections, sizeof gc.collections) &&
          !memcmp(c.gc[0].collected, gc.collected, sizeof gc.collected) &&
          !memcmp(c.gc[0].uncollectable, gc.uncollectable, sizeof gc.uncollectable));
    CHECK(!c.truncated);
    capture_free(&c);
}

int main(void)
{
    test_roundtrip_and_suspects();
    test_threads_and_since();
    test_refused();
    return CHECK_DONE();
}
