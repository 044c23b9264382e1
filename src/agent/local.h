/*
 * local.h -- frees matched in the agent (exact mode): a block allocated and
 * freed within one chunk of its thread is sent as ALLOC_LOCAL + FREE_LOCAL
 * (wire.h).  stetho then never puts it among the live blocks -- its
 * costliest work per event is a miss in that table of millions -- and the
 * free takes a few bytes instead of an address.  Nothing is lost: stetho
 * applies the two records in their place, as an ALLOC and a FREE.
 *
 * Each thread remembers, in a small direct-mapped table, where in its
 * chunk its recent allocation records are.  A free of such an address
 * turns that record into an ALLOC_LOCAL (its type byte: the fields are the
 * same) and is written as a FREE_LOCAL naming the record by its index.  A
 * slot holds only
 *  - in the chunk it was made in: every chunk started bumps chunk_gen (a
 *    chunk sent, or dropped at fork or at a new session, starts another);
 *  - while this thread was the only one recording, from the allocation's
 *    time stamp to the free (agent_solo unchanged, its low bit set).  Otherwise another
 *    thread could have freed the block (a recorded free: every thread that
 *    records joins the registry first) and had the address back from the
 *    allocator, so our free would be of that other block, not ours.  For
 *    the block to come back to us there is a happens-before from that
 *    thread's registration to our free, so we see agent_solo's change.
 *    A program with several threads recording at once sends plain ALLOC
 *    and FREE records, as before.
 * A slot is emptied when it matches, so a record is freed once; a slot
 * overwritten by a newer allocation only loses the shortcut.  Mappings are
 * never matched: stetho measures their pages while they live.
 *
 * Contract: record.c's event path only (the caller holds th's chunk:
 * thread_enter), exact mode.  local_alloc(th, p, rec, index): th's
 * allocation record number `index` of its chunk, for p, was just written
 * at rec.  local_free(th, allocator, p, w, dt_ns): the free of p, to be
 * written at w (room for WIRE_FIXED_FREE, reserved): if p's allocation
 * record is in this chunk and no other thread could have freed p since,
 * that record becomes an ALLOC_LOCAL and a FREE_LOCAL is written at w;
 * returns its end, or NULL (write a FREE).  local_free_table(th): th's
 * table goes (its thread ends).  Inline, all of it: on json_dumps the
 * calls' own instructions (saving registers, the prologues) were ~20 an
 * event, a third of what the matching costs (callgrind, 3.11).
 */
#ifndef STETHO_AGENT_LOCAL_H
#define STETHO_AGENT_LOCAL_H

#include "agent/agent.h"

#include <assert.h>

#define LOCAL_BITS 9                    /* 512 slots, 12 KiB a thread */
#define LOCAL_SLOTS (1u << LOCAL_BITS)

struct local_slot {
    uint64_t addr;
    uint64_t gen;                       /* th->chunk_gen when made; 0: empty */
    uint16_t off;                       /* its ALLOC record in th->chunk */
    uint16_t index;                     /* its allocation index in the chunk */
};

_Static_assert(AGENT_CHUNK_MAX <= UINT16_MAX && WIRE_ALLOCS_MAX <= UINT16_MAX,
               "a slot's offset and index fit 16 bits");
_Static_assert(WIRE_FIXED_FREE_LOCAL <= WIRE_FIXED_FREE,
               "a FREE_LOCAL fits where a FREE was reserved");

static inline struct local_slot *slot_of(struct agent_thread *th, const void *p)
{
    /* Fibonacci hashing: pymalloc's addresses differ in their middle bits */
    return &th->local[((uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull) >> (64 - LOCAL_BITS)];
}

/* agent_solo now; if a thread started or stopped recording since we last
 * looked, every slot made before is stale. */
static inline uint64_t solo_now(struct agent_thread *th)
{
    uint64_t solo = atomic_load_explicit(&agent_solo, memory_order_relaxed);
    if (UNLIKELY(solo != th->solo_seen)) {
        th->solo_seen = solo;
        th->chunk_gen++;
    }
    return solo;
}

static inline __attribute__((always_inline)) void local_alloc(struct agent_thread *th,
                                                              const void *p,
                                                              const uint8_t *rec,
                                                              uint32_t index)
{
    /* and unchanged since the event's time stamp (record_time): no other
     * thread recorded between that stamp and the free's */
    uint64_t solo = solo_now(th);
    if (!(solo & 1) || solo != th->clock_solo)
        return;
    if (UNLIKELY(!th->local) &&
        !(th->local = agent_real.calloc(LOCAL_SLOTS, sizeof *th->local)))
        return;
    *slot_of(th, p) = (struct local_slot){ (uintptr_t)p, th->chunk_gen,
                                           (uint16_t)(rec - th->chunk), (uint16_t)index };
}

static inline __attribute__((always_inline)) uint8_t *local_free(struct agent_thread *th,
                                                                  int allocator, const void *p,
                                                                  uint8_t *w, uint64_t dt_ns)
{
    if (!th->local)
        return NULL;
    solo_now(th);
    struct local_slot *s = slot_of(th, p);
    if (s->addr != (uintptr_t)p || s->gen != th->chunk_gen)
        return NULL;
    assert(s->off < th->len && th->chunk[s->off] == AGENT_REC_ALLOC);
    th->chunk[s->off] = AGENT_REC_ALLOC_LOCAL;
    s->gen = 0;
    return wire_put_free_local_after(w, &th->last,
                                     &(struct wire_free_local){ .allocator = (uint64_t)allocator,
                                                                .index = s->index,
                                                                .dt_ns = dt_ns });
}

static inline void local_free_table(struct agent_thread *th)
{
    agent_real.free(th->local);
    th->local = NULL;
}

#endif
