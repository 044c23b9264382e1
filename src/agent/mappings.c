/*
 * mappings.c -- the anonymous mappings this process recorded (ALLOC of
 * allocator MMAP) of WIRE_MAPPING_MEASURED_MIN bytes or more that are
 * live, and their resident part measured here, with mincore(), whenever
 * one goes or the program ends (a smaller one counts whole: wire.h).
 *
 * stetho counts a mapping by its resident pages, which it reads from
 * outside (/proc/PID/pagemap) at its ticks -- once it has decoded the
 * mapping's ALLOC.  When its decoding lags the program by more than a
 * mapping's life, or the program exits first, nothing would measure it: a
 * 16 MiB touched mapping counted nothing.  So the agent sends the figure
 * itself (a RESIDENT record, wire.h) at the moments stetho cannot catch up
 * with: before a recorded mapping is unmapped or replaced (munmap, mremap,
 * MAP_FIXED) -- and then the other live ones too, since the heap may stand
 * at its peak -- after a cut that leaves part of it, and for every live one
 * when the interpreter finalizes, the process exits or execs.  Each record
 * is the truth at its time stamp, however late stetho reads it.
 *
 * mmap, munmap and mremap are rare, so one mutex guards the table, and the
 * wrappers (interpose.c) hold it across the real call: no other thread can
 * be given the range being unmapped (and record it here) before the table
 * says it is gone.  Bounded: MAPPINGS_MAX entries (64 KiB); a mapping that
 * finds the table full is measured by stetho alone, as before.  Nothing
 * here is on the malloc/free path, and no Python API is called.
 *
 * Caller holds the guard (agent.h), so the agent's own calls are not seen.
 */
#include "agent/agent.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAPPINGS_MAX 4096
#define MINCORE_PAGES 4096          /* pages per mincore() call: a 4 KiB vector
                                       on the stack, 16 MiB of 4 KiB pages */

#define OTHERS_NS 10000000ull        /* the others at an unmap: every 10 ms at most, */
#define OTHERS_PAGES (1u << 16)     /* 64 Ki pages (256 MiB) at a time, round robin */

struct mapping {
    uintptr_t addr;                 /* as recorded: stetho's key */
    size_t len;                     /* as recorded; a cut at either end
                                       shrinks [lo, hi) below */
    uintptr_t lo, hi;               /* what may still be mapped of it */
    uint64_t sent;                  /* the last figure sent; UINT64_MAX: none */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapping table[MAPPINGS_MAX];
static size_t used;
static size_t cursor;               /* the round robin of measure_others() */
static uint64_t others_t;           /* when it last ran */

static uintptr_t page_size(void)
{
    static uintptr_t page;
    if (!page) {
        long p = sysconf(_SC_PAGESIZE);
        page = p > 0 ? (uintptr_t)p : 4096;
    }
    return page;
}

/* Resident pages of n pages at `at` (n <= MINCORE_PAGES).  A range with a
 * hole (part of it unmapped by a cut in its middle) fails with ENOMEM:
 * its halves are tried, down to single pages; unmapped pages count 0, as
 * in stetho's pagemap. */
static uint64_t resident_pages(uintptr_t at, size_t n, unsigned char *vec)
{
    if (mincore((void *)at, n * page_size(), vec) == 0) {
        uint64_t present = 0;
        for (size_t i = 0; i < n; i++)
            present += vec[i] & 1;
        return present;
    }
    if (errno != ENOMEM || n == 1)
        return 0;
    size_t half = n / 2;
    return resident_pages(at, half, vec) +
           resident_pages(at + half * page_size(), n - half, vec);
}

/* The bytes of whole pages of mp that are resident now, at most its size
 * (as stetho's pagemap_resident counts them). */
static uint64_t measure(const struct mapping *mp)
{
    unsigned char vec[MINCORE_PAGES];
    uintptr_t page = page_size();
    uint64_t present = 0;
    for (uintptr_t at = mp->lo & ~(page - 1); at < mp->hi;) {
        size_t n = (size_t)((mp->hi - at + page - 1) / page);
        if (n > MINCORE_PAGES)
            n = MINCORE_PAGES;
        present += resident_pages(at, n, vec);
        at += n * page;
    }
    uint64_t bytes = present * page;
    return bytes < mp->len ? bytes : (uint64_t)mp->len;
}

static void send(struct mapping *mp)
{
    mp->sent = measure(mp);
    record_resident((const void *)mp->addr, mp->sent);
}

/* Before an unmap, the heap may stand at its peak: what the other live
 * mappings hold then counts in it, and stetho, lagging, may never have
 * seen their pages.  So they are measured too (sent if changed): at most
 * every OTHERS_NS, and OTHERS_PAGES at a time, so an unmap never costs more
 * than ~16 mincore() calls beyond its own mapping's. */
static void measure_others(uintptr_t lo, uintptr_t hi)
{
    uint64_t now = agent_now();
    if (now - others_t < OTHERS_NS)
        return;
    others_t = now;
    uintptr_t page = page_size();
    uint64_t budget = OTHERS_PAGES;
    for (size_t k = 0; k < used && budget > 0; k++) {
        if (cursor >= used)
            cursor = 0;
        struct mapping *mp = &table[cursor++];
        if (mp->lo >= mp->hi || (mp->lo < hi && lo < mp->hi))
            continue;                   /* gone, or measured by the caller */
        uint64_t pages = (mp->hi - mp->lo + page - 1) / page;
        budget -= pages < budget ? pages : budget;
        uint64_t bytes = measure(mp);
        if (bytes != mp->sent) {
            mp->sent = bytes;
            record_resident((const void *)mp->addr, bytes);
        }
    }
}

static void drop(size_t i)
{
    table[i] = table[--used];
}

void mappings_lock(void)
{
    pthread_mutex_lock(&lock);
}

void mappings_unlock(void)
{
    pthread_mutex_unlock(&lock);
}

void mappings_add(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    for (size_t i = 0; i < used; i++)
        if (table[i].addr == a) {       /* its unmap was not seen: stetho
                                           replaces the block likewise */
            drop(i);
            break;
        }
    if (used < MAPPINGS_MAX && len)
        table[used++] = (struct mapping){ a, len, a, a + len, UINT64_MAX };
}

void mappings_add_measured(const void *p, size_t len)
{
    mappings_add(p, len);
    if (used && table[used - 1].addr == (uintptr_t)p)
        send(&table[used - 1]);
}

/* The end of an unmap of len bytes at lo: the kernel's, whole pages. */
static uintptr_t range_end(uintptr_t lo, size_t len)
{
    uintptr_t page = page_size();
    return (lo + len + page - 1) & ~(page - 1);
}

/* Is mp concerned by an unmap of [lo, hi)?  (The table does not change
 * between mappings_before_unmap and _after_unmap: the lock is held.) */
static int concerned(const struct mapping *mp, uintptr_t lo, uintptr_t hi)
{
    return (mp->lo < hi && lo < mp->hi) || mp->addr == lo;
}

void mappings_before_unmap(const void *addr, size_t len)
{
    uintptr_t lo = (uintptr_t)addr, hi = range_end(lo, len);
    int any = 0;
    for (size_t i = 0; i < used; i++) {
        if (!concerned(&table[i], lo, hi))
            continue;
        any = 1;
        send(&table[i]);
    }
    if (any)
        measure_others(lo, hi);
}

void mappings_after_unmap(const void *addr, size_t len)
{
    uintptr_t lo = (uintptr_t)addr, hi = range_end(lo, len);
    for (size_t i = 0; i < used;) {
        struct mapping *mp = &table[i];
        if (!concerned(mp, lo, hi)) {
            i++;
            continue;
        }
        /* stetho takes a FREE of its address as the whole mapping */
        if (mp->addr == lo || (lo <= mp->lo && mp->hi <= hi)) {
            if (mp->addr != lo)
                record_resident((const void *)mp->addr, 0);
            drop(i);
            continue;
        }
        if (lo <= mp->lo)
            mp->lo = hi;                /* its head is gone */
        else if (hi >= mp->hi)
            mp->hi = lo;                /* its tail */
        send(mp);                       /* a hole: measured around it */
        i++;
    }
}

/* Every live one, measured and sent into the calling thread's chunk. */
void mappings_send_all(int wait)
{
    if (wait ? pthread_mutex_lock(&lock) != 0 : pthread_mutex_trylock(&lock) != 0)
        return;
    for (size_t i = 0; i < used; i++)
        send(&table[i]);
    pthread_mutex_unlock(&lock);
}

/* A forked child (its stream is another process's: stetho knows none of
 * these under its pid; only this thread exists, and another may have held
 * the lock at the fork), or a new in-process recording. */
void mappings_reset(int forked)
{
    if (forked)
        pthread_mutex_init(&lock, NULL);
    else
        pthread_mutex_lock(&lock);
    used = 0;
    if (!forked)
        pthread_mutex_unlock(&lock);
}
