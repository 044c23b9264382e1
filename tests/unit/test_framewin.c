/*
 * test_framewin.c -- windows of frames (src/cpython/framewin.h) over a
 * fake address space: some pages mapped, the rest not.
 *
 * What is handed out is always the memory at that address as it was when
 * read; a window grows downwards only while the misses continue it, stops
 * at the first unmapped page without failing, and nothing read before a
 * reset is given out after it.  Then random lookups (under ASan in the
 * sanitized build) against the same rules.
 */
#include "check.h"
#include "cpython/framewin.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u
#define NPAGES 48
#define BASE 0x7f0000000000ull

struct space {
    uint8_t mem[NPAGES * PAGE];
    uint8_t mapped[NPAGES];
    unsigned calls;             /* reads asked of the reader */
};

static int space_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
    struct space *sp = ctx;
    sp->calls++;
    if (addr < BASE || addr + len > BASE + sizeof sp->mem || addr + len < addr) {
        errno = EFAULT;
        return -1;
    }
    for (uint64_t p = (addr - BASE) / PAGE; p <= (addr + len - 1 - BASE) / PAGE; p++)
        if (!sp->mapped[p]) {
            errno = EFAULT;
            return -1;
        }
    memcpy(dst, sp->mem + (addr - BASE), len);
    return 0;
}

static void fill(struct space *sp, uint64_t seed)
{
    for (size_t i = 0; i < sizeof sp->mem; i++)
        sp->mem[i] = (uint8_t)((i * 2654435761u) >> 13 ^ seed);
}

static int same(const struct space *sp, const uint8_t *got, uint64_t addr, size_t len)
{
    return got && memcmp(got, sp->mem + (addr - BASE), len) == 0;
}

static uint64_t page_addr(unsigned p)
{
    return BASE + (uint64_t)p * PAGE;
}

static void rules(void)
{
    static struct space sp;
    fill(&sp, 1);
    memset(sp.mapped, 1, sizeof sp.mapped);
    sp.mapped[2] = 0;                   /* a hole below the "stack" */
    struct reader rd = { .read = space_read, .ctx = &sp };
    struct framewin *w = framewin_new();
    CHECK(w != NULL);
    framewin_reset(w);

    /* the first window: the frame's own page, from its start to the frame's end */
    uint64_t f = page_addr(40) + 3000;
    CHECK(same(&sp, framewin_get(w, &rd, f, 100), f, 100));
    CHECK_EQ_INT(rd.reads, 1);
    CHECK(same(&sp, framewin_get(w, &rd, page_addr(40) + 8, 200), page_addr(40) + 8, 200));
    CHECK_EQ_INT(rd.reads, 1);          /* held: no read */
    CHECK(framewin_holds(w, page_addr(40) + 8, 3092));
    CHECK(!framewin_holds(w, page_addr(40) + 8, 3093)); /* above the frame's end */
    CHECK(!framewin_holds(w, page_addr(40), 8));        /* read, never handed out */
    CHECK(!framewin_holds(w, page_addr(39) + 4000, 100));

    /* a caller just below: the next window is two pages, then four ... */
    uint64_t g = page_addr(39) + 4000;
    CHECK(same(&sp, framewin_get(w, &rd, g, 96), g, 96));
    CHECK_EQ_INT(rd.reads, 2);
    CHECK(same(&sp, framewin_get(w, &rd, page_addr(38) + 16, 64), page_addr(38) + 16, 64));
    CHECK_EQ_INT(rd.reads, 2);
    CHECK(same(&sp, framewin_get(w, &rd, page_addr(37) + 4000, 64), page_addr(37) + 4000, 64));
    CHECK_EQ_INT(rd.reads, 3);
    CHECK(same(&sp, framewin_get(w, &rd, page_addr(34) + 8, 64), page_addr(34) + 8, 64));
    CHECK_EQ_INT(rd.reads, 3);          /* 37..34 in that one */
    /* a frame straddling the bottom of a window: read with its own page */
    uint64_t st = page_addr(34) - 40;
    CHECK(same(&sp, framewin_get(w, &rd, st, 80), st, 80));
    CHECK_EQ_INT(rd.reads, 4);

    /* far away (a generator's frame on the heap): its own page only */
    uint64_t h = page_addr(5) + 2000;
    CHECK(same(&sp, framewin_get(w, &rd, h, 80), h, 80));
    CHECK(!framewin_holds(w, page_addr(4) + 4000, 80));

    /* a window reaching the hole stops there, and what it read is good */
    framewin_reset(w);
    for (unsigned p = 8; p >= 3; p--)
        CHECK(same(&sp, framewin_get(w, &rd, page_addr(p) + 16, 64), page_addr(p) + 16, 64));
    CHECK(!framewin_holds(w, page_addr(2) + 16, 64));
    CHECK(framewin_get(w, &rd, page_addr(2) + 16, 64) == NULL);     /* unmapped */

    /* reset: nothing from before; a second copy shows what changed */
    framewin_reset(w);
    CHECK(!framewin_holds(w, f, 100));
    CHECK(same(&sp, framewin_get(w, &rd, f, 100), f, 100));
    CHECK(same(&sp, framewin_get(w, &rd, g, 96), g, 96));
    sp.mem[g - BASE] ^= 0xff;
    struct reader_iov iov[FRAMEWIN_MAX];
    size_t n = framewin_reread_iov(w, iov);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(iov[0].addr, f);       /* what was handed out, not the whole page */
    CHECK_EQ_INT(iov[0].len, 100);
    reader_readv(&rd, iov, n);
    CHECK(same(&sp, framewin_again(w, iov, g, 96), g, 96));
    CHECK(same(&sp, framewin_again(w, iov, f, 100), f, 100));
    CHECK(framewin_again(w, iov, page_addr(20), 8) == NULL);        /* not held */
    iov[1].ok = 0;
    CHECK(framewin_again(w, iov, g, 96) == NULL);                   /* not read again */

    /* a reader that has only what was asked (a replayed image): the first
     * failed window ends windows for the walk, frame by frame after it */
    framewin_reset(w);
    memset(sp.mapped, 0, sizeof sp.mapped);
    uint64_t before = sp.calls;
    CHECK(framewin_get(w, &rd, f, 100) == NULL);
    CHECK(framewin_get(w, &rd, g, 96) == NULL);
    CHECK_EQ_INT(sp.calls - before, 1);
    framewin_free(w);
}

/* Random pages mapped, random lookups: each answer is the memory there, or NULL. */
static void random_lookups(void)
{
    static struct space sp;
    struct reader rd = { .read = space_read, .ctx = &sp };
    struct framewin *w = framewin_new();
    uint64_t x = 88172645463325252ull;
    unsigned wrong = 0, held = 0, asked = 0;
    for (int round = 0; round < 1000; round++) {
        fill(&sp, (uint64_t)round);
        for (unsigned p = 0; p < NPAGES; p++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            sp.mapped[p] = x % 20 != 0;
        }
        framewin_reset(w);
        uint64_t at = page_addr(NPAGES - 1) + 3000;
        for (int k = 0; k < 50; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t len = 1 + x % 600;
            if (x % 7 == 0)
                at = BASE + x % (sizeof sp.mem + 2 * PAGE) - PAGE;      /* anywhere, even outside */
            else
                at -= x % 700;          /* the next caller, below */
            const uint8_t *got = framewin_get(w, &rd, at, len);
            asked++;
            if (!got)
                continue;
            held++;
            int ok = at >= BASE && at + len <= BASE + sizeof sp.mem;
            for (uint64_t p = ok ? (at - BASE) / PAGE : 0; ok && p <= (at + len - 1 - BASE) / PAGE; p++)
                ok = sp.mapped[p];
            if (!ok || !same(&sp, got, at, len))
                wrong++;
        }
    }
    printf("# %u lookups, %u from windows\n", asked, held);
    CHECK_EQ_INT(wrong, 0);
    CHECK(held > asked / 2);
    framewin_free(w);
}

int main(void)
{
    rules();
    random_lookups();
    return CHECK_DONE();
}
