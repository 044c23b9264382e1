/*
 * garbage.h -- a region of words read as if it were another process's
 * memory, for the tests that feed a remote reader garbage.
 *
 * Contract: define GARBAGE_BASE (the region's address) and GARBAGE_WORDS
 * before including; gives struct mem (the words, filled by the test) and
 * mem_read, a reader callback (struct reader's read) that copies from the
 * region and fails, as a vanished mapping would, on any byte outside it.
 */
#ifndef STETHO_TESTS_GARBAGE_H
#define STETHO_TESTS_GARBAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if !defined(GARBAGE_BASE) || !defined(GARBAGE_WORDS)
#error "define GARBAGE_BASE and GARBAGE_WORDS before including garbage.h"
#endif

struct mem {
    uint64_t w[GARBAGE_WORDS];
};

static int mem_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
    const struct mem *m = ctx;
    if (addr < GARBAGE_BASE || addr - GARBAGE_BASE > sizeof m->w ||
        len > sizeof m->w - (addr - GARBAGE_BASE))
        return -1;
    memcpy(dst, (const uint8_t *)m->w + (addr - GARBAGE_BASE), len);
    return 0;
}

#endif
