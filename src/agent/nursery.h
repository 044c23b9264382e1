/*
 * nursery.h -- a thread's young small blocks, held back (exact mode): most
 * of a Python program's allocations are small and die young, and each
 * was two records stetho decoded and applied one by one (an ALLOC, a FREE
 * or their _LOCAL forms) -- most of stetho's own CPU in exact mode.
 *
 * An allocation of at most WIRE_TEMPS_SIZE_MAX bytes is not written: it
 * waits, with its stack (taken as for any allocation) and its stamp, in
 * a small direct-mapped table by address.  Its free, while it waits,
 * writes nothing either: it adds the block to a sum per (stack,
 * allocator, size class), sent as one TEMPS record (wire.h).  A block
 * pushed out of its slot by a newer one is written then, as the ALLOC it
 * would have been, with its own stamp.  Everything still waiting is
 * written (blocks as ALLOCs, sums as TEMPS) when the chunk is sent, for
 * whatever reason (full, old, NURSERY_EVENTS held or summed, the thread's
 * end, FINALIZING, exit, a session's end): so what the nursery holds is
 * always part of the chunk being filled, never older than it, and
 * nothing waits past it.
 *
 * Held only while this thread records alone, as local.h's matching and
 * for the same reason: another thread recording could free one of our
 * blocks and get its address back, so a free of ours would not be of the
 * block held.  Everything waiting is written as soon as a thread's event
 * sees agent_solo changed, before that event's own records; a block
 * another thread freed in between is ordered by stamps (its ALLOC keeps
 * its own, earlier than the other thread's FREE: stetho's orphans).
 *
 * Never in sampled mode (each sampled block stands for many), with
 * --native (a block's native stack would need its own sums) or for a
 * mapping (stetho measures its pages while it lives).
 *
 * What it costs stetho's figures: the heap's height between a held
 * block's allocation and its free (a peak can miss what the nursery
 * held: NURSERY_SLOTS blocks of WIRE_TEMPS_SIZE_MAX bytes at most, 128 KiB
 * a thread), and the place in the stream of the allocations summed (at
 * the chunk's end: within AGENT_FLUSH_AGE_NS).  Counts, bytes, stacks,
 * the size histogram and temporaries are exact.
 *
 * Contract: the event path only (event.h, the caller holds th: thread_enter;
 * exact mode).  nursery_hold(th, allocator, p, size, stack, ts): 1 if the
 * allocation is held (write nothing more), 0 if it must be written now.
 * nursery_free(th, p, temporary): 1 if p was held (its free is summed).
 * nursery_settle(th): write all that waits into th's chunk (chunk.c,
 * before a chunk is sent; it makes room itself); nursery_drop(th): forget
 * it (a forked child, a new session: the chunk it belonged to is dropped
 * too); nursery_free_table(th): its memory (the thread ends).
 */
#ifndef STETHO_AGENT_NURSERY_H
#define STETHO_AGENT_NURSERY_H

#include "agent/agent.h"

#define NURSERY_BITS 8
#define NURSERY_SLOTS (1u << NURSERY_BITS)
#define TEMPS_BITS 8
#define TEMPS_SLOTS (1u << TEMPS_BITS)
/* Events held or summed before the chunk is sent (and the nursery with
 * it), however young it is: what stetho has not seen stays bounded in
 * events, as when every event was a record and a chunk filled in ~450.
 * A thread that then sleeps leaves at most this much unsent (a type census
 * taken meanwhile misses it); each time, the blocks held go out as ALLOCs,
 * some of which would have died young: 256 in 4096 events at worst. */
#define NURSERY_EVENTS 4096

/* A block's stack, allocator and size in one word (what it is summed by
 * at its free is the same word with the size's class in the size's place:
 * one compare a free). */
#define NURSERY_META(stack, allocator, size) \
    ((uint64_t)(stack) << 32 | (uint64_t)(allocator) << 16 | (uint64_t)(size))
#define META_STACK(m) ((uint32_t)((m) >> 32))
#define META_ALLOCATOR(m) ((uint32_t)((m) >> 16 & 0xffff))
#define META_SIZE(m) ((uint32_t)((m) & 0xffff))

struct nursery_block {
    uint64_t addr;                      /* 0: empty */
    uint64_t ts;                        /* its allocation's stamp */
    uint64_t meta;                      /* NURSERY_META */
};

struct nursery_temps {
    uint64_t key;                       /* NURSERY_META, the size's class as its size */
    uint64_t bytes;
    uint32_t count;                     /* 0: empty */
    uint32_t temporary;
};

struct nursery {
    uint64_t solo;                      /* agent_solo while it holds anything */
    uint32_t blocks, temps;             /* slots used */
    uint32_t events;                    /* held and summed since it was settled */
    int settling;                       /* nursery_settle is writing it */
    struct nursery_block block[NURSERY_SLOTS];
    struct nursery_temps sum[TEMPS_SLOTS];
};

_Static_assert(WIRE_TEMPS_SIZE_MAX <= 0xffff && AGENT_ALLOCATORS <= 0xffff,
               "a held block's size and allocator fit its meta word");

/* nursery.c: an ALLOC of a block the nursery let go (its own stamp), and
 * a TEMPS record, each written into th's chunk through chunk_room. */
void nursery_write_block(struct agent_thread *th, const struct nursery_block *b) AGENT_HIDDEN;
void nursery_write_temps(struct agent_thread *th, const struct nursery_temps *t) AGENT_HIDDEN;
void nursery_settle(struct agent_thread *th) AGENT_HIDDEN;
void nursery_drop(struct agent_thread *th) AGENT_HIDDEN;
void nursery_free_table(struct agent_thread *th) AGENT_HIDDEN;
struct nursery *nursery_new(struct agent_thread *th) AGENT_HIDDEN;

static inline struct nursery_block *nursery_slot(struct nursery *n, const void *p)
{
    /* Fibonacci hashing, as local.h's */
    return &n->block[((uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull) >> (64 - NURSERY_BITS)];
}

/* Anything held under another agent_solo than `solo` is written first. */
static inline int nursery_stale(const struct nursery *n, uint64_t solo)
{
    return n->solo != solo && (n->blocks | n->temps);
}

/* agent.nursery is the caller's test (exact mode, not --native). */
static inline __attribute__((always_inline)) int
nursery_hold(struct agent_thread *th, int allocator, const void *p, size_t size, uint32_t stack,
             uint64_t ts)
{
    if (size > WIRE_TEMPS_SIZE_MAX || allocator == AGENT_ALLOC_MMAP || !p)
        return 0;
    struct nursery *n = th->nursery;
    uint64_t solo = atomic_load_explicit(&agent_solo, memory_order_relaxed);
    if (UNLIKELY(!n)) {
        if (!(n = nursery_new(th)))
            return 0;
    } else if (UNLIKELY(nursery_stale(n, solo))) {
        nursery_settle(th);
    }
    /* alone, and since this event's stamp (as local_alloc) */
    if (!(solo & 1) || solo != th->clock_solo)
        return 0;
    if (UNLIKELY(n->events >= NURSERY_EVENTS))
        chunk_flush(th);                /* settles it */
    /* a chunk is started (t0 <= ts), so the block can be written into it */
    if (!chunk_reserve(th, 0, ts))
        return 0;
    struct nursery_block *b = nursery_slot(n, p);
    if (b->addr) {
        struct nursery_block old = *b;
        b->addr = 0;
        n->blocks--;
        nursery_write_block(th, &old);  /* may send the chunk: everything else too */
    }
    n->solo = solo;
    b->addr = (uintptr_t)p;
    b->ts = ts;
    b->meta = NURSERY_META(stack, allocator, size);
    n->blocks++;
    n->events++;
    return 1;
}

static inline __attribute__((always_inline)) int nursery_free(struct agent_thread *th,
                                                              const void *p, int temporary)
{
    struct nursery *n = th->nursery;
    if (!n || !n->blocks)
        return 0;
    struct nursery_block *b = nursery_slot(n, p);
    if (b->addr != (uintptr_t)p)
        return 0;
    if (UNLIKELY(n->solo != atomic_load_explicit(&agent_solo, memory_order_relaxed))) {
        nursery_settle(th);
        return 0;
    }
    uint64_t meta = b->meta;
    b->addr = 0;
    n->blocks--;
    uint32_t size = META_SIZE(meta);
    uint64_t key = (meta & ~0xffffull) | wire_size_class(size);
    struct nursery_temps *t = &n->sum[(key * 0x9E3779B97F4A7C15ull) >> (64 - TEMPS_BITS)];
    if (UNLIKELY(t->key != key) && t->count) {
        struct nursery_temps old = *t;
        t->count = 0;
        n->temps--;
        nursery_write_temps(th, &old);  /* may send the chunk: the rest too */
    }
    if (!t->count) {
        *t = (struct nursery_temps){ key, 0, 0, 0 };
        n->temps++;
    }
    t->count++;
    n->events++;
    t->bytes += size;
    t->temporary += temporary != 0;
    return 1;
}

#endif
