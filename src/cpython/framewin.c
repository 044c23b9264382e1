/*
 * framewin.c -- frames read a few pages at a time (framewin.h).
 *
 * A window is read from the frame's own page downwards, in whole pages, as
 * pieces of one prefix read: the read stops at the first page that is not
 * mapped, and what came before it is whole.  The first window of a walk is
 * the frame's own page only (a shallow stack costs what it did); each
 * window that continues the one before it downwards (a stack deeper than
 * a page) is twice as big, up to FRAMEWIN_PAGES: a 50 KiB stack is four
 * reads instead of one per frame.  Both copies live in one allocation made
 * once, so a pointer handed out stays valid until the next reset.
 */
#include "cpython/framewin.h"

#include <stdlib.h>

#define PAGE 4096u
#define FRAMEWIN_BYTES (512u * 1024u)   /* per copy; beyond it, frame by frame */
#define CONTIGUOUS (64u * 1024u)        /* a miss this close below a window continues it */

_Static_assert(FRAMEWIN_PAGES <= READER_PREFIX_MAX, "a window is one prefix read");
_Static_assert(FRAMEWIN_BYTES >= FRAMEWIN_PAGES * PAGE + PAGE, "room for a whole window");

struct window {
    uint64_t lo, hi;            /* remote [lo, hi) */
    uint64_t used;              /* the lowest address handed out: what is
                                   read again is [used, hi) */
    size_t off;                 /* where lo is in each copy */
    unsigned pages;             /* as asked: its successor's size follows */
};

struct framewin {
    struct window w[FRAMEWIN_MAX];
    size_t n, used;             /* windows, buffer bytes */
    int failed;                 /* a window could not be read on this walk:
                                   the reader has only what was asked for
                                   (a replayed image), frame by frame */
    uint8_t *buf;               /* two copies of FRAMEWIN_BYTES: read, again */
};

struct framewin *framewin_new(void)
{
    struct framewin *w = calloc(1, sizeof *w);
    if (w && !(w->buf = malloc(2 * (size_t)FRAMEWIN_BYTES))) {
        free(w);
        return NULL;
    }
    return w;
}

void framewin_free(struct framewin *w)
{
    if (!w)
        return;
    free(w->buf);
    free(w);
}

void framewin_reset(struct framewin *w)
{
    w->n = w->used = 0;
    w->failed = 0;
}

static struct window *holding(struct framewin *w, uint64_t addr, size_t len)
{
    for (size_t i = w->n; i-- > 0;) {       /* the newest is the likeliest */
        struct window *x = &w->w[i];
        if (addr >= x->lo && addr < x->hi && len <= x->hi - addr)
            return x;
    }
    return NULL;
}

int framewin_holds(struct framewin *w, uint64_t addr, size_t len)
{
    const struct window *x = holding(w, addr, len);
    return x && addr >= x->used;
}

const uint8_t *framewin_get(struct framewin *w, struct reader *rd, uint64_t addr, size_t len)
{
    struct window *x = holding(w, addr, len);
    if (x) {
        if (addr < x->used)
            x->used = addr;
        return w->buf + x->off + (addr - x->lo);
    }
    if (w->failed || w->n == FRAMEWIN_MAX || !len || addr + len < addr || len > PAGE)
        return NULL;
    uint64_t hi = addr + len, base = addr & ~(uint64_t)(PAGE - 1);
    unsigned pages = 1;
    if (w->n) {
        const struct window *last = &w->w[w->n - 1];
        if (addr < last->lo && last->lo - addr <= CONTIGUOUS)
            pages = last->pages * 2 < FRAMEWIN_PAGES ? last->pages * 2 : FRAMEWIN_PAGES;
    }
    if (base < (uint64_t)(pages - 1) * PAGE)
        pages = 1;
    uint64_t lo = base - (uint64_t)(pages - 1) * PAGE;
    size_t need = (size_t)(hi - lo);
    if (w->used + need > FRAMEWIN_BYTES)
        return NULL;
    /* the frame's own page(s) first, then each page below it */
    struct reader_iov iov[FRAMEWIN_PAGES];
    uint8_t *dst = w->buf + w->used;
    iov[0] = (struct reader_iov){ base, dst + (base - lo), (size_t)(hi - base), 0 };
    for (unsigned k = 1; k < pages; k++) {
        uint64_t a = base - (uint64_t)k * PAGE;
        iov[k] = (struct reader_iov){ a, dst + (a - lo), PAGE, 0 };
    }
    size_t got = reader_readv_prefix(rd, iov, pages);
    if (!got) {
        w->failed = 1;
        return NULL;
    }
    uint64_t got_lo = iov[got - 1].addr;
    w->w[w->n++] = (struct window){ got_lo, hi, addr, w->used + (size_t)(got_lo - lo), pages };
    w->used += need;
    return w->buf + w->w[w->n - 1].off + (addr - got_lo);
}

size_t framewin_reread_iov(struct framewin *w, struct reader_iov *iov)
{
    uint8_t *again = w->buf + FRAMEWIN_BYTES;
    for (size_t i = 0; i < w->n; i++) {
        const struct window *x = &w->w[i];
        iov[i] = (struct reader_iov){ x->used, again + x->off + (x->used - x->lo),
                                      (size_t)(x->hi - x->used), 0 };
    }
    return w->n;
}

const uint8_t *framewin_again(const struct framewin *w, const struct reader_iov *iov,
                              uint64_t addr, size_t len)
{
    for (size_t i = w->n; i-- > 0;) {
        const struct window *x = &w->w[i];
        if (addr >= x->lo && addr < x->hi && len <= x->hi - addr)
            return iov[i].ok && iov[i].addr == x->used && addr >= x->used
                       ? w->buf + FRAMEWIN_BYTES + x->off + (addr - x->lo) : NULL;
    }
    return NULL;
}
