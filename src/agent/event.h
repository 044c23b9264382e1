/*
 * event.h -- one allocation event into this thread's chunk, inline: decide
 * (sampled mode), stamp it, capture the Python stack, encode the record.
 *
 * Contract: event_alloc(allocator, p, size) and event_free(allocator, p)
 * are record_alloc and record_free (agent.h), inline where the hooks call
 * them on every event (pyhooks.c's full paths; record.c defines the two
 * for everyone else).  put_alloc/put_free write one record into th's
 * chunk, which the caller holds (thread_enter); event_time is an event's
 * stamp.  Callers hold the guard.  Time stamps: a free is stamped before
 * the block goes back to the allocator and an allocation after it came
 * out, so when another thread gets the same address at once, its ALLOC is
 * stamped after our FREE and stetho can put them in order.
 *
 * Inline because two calls deep cost the prologues and epilogues of both:
 * record_alloc's and record_free's were ~17 instructions an event on
 * json_dumps (callgrind, 3.11; the whole path is ~300).
 */
#ifndef STETHO_AGENT_EVENT_H
#define STETHO_AGENT_EVENT_H

#include "agent/agent.h"
#include "agent/local.h"
#include "agent/nursery.h"

#define EVENT_PATH static inline __attribute__((always_inline))

/* An event's time stamp.  In exact mode its precision matters only for
 * ordering it with other threads' events (an address one thread frees and
 * another gets at once: stetho's orphans); while this thread records
 * alone (agent_solo), a coarse clock is enough -- rdtsc is ~20 ns here, as
 * much as all the rest of an event bar the stack walk.  The first stamp
 * after any thread started or stopped recording is precise, and the
 * coarse ones never go below the last stamp: so a block another thread
 * freed before it stopped is stamped freed before we get its address (the
 * allocator's handover makes us see agent_solo's change first).  A
 * thread's stamps never go back.
 *
 * The coarse clock: stetho's, in the ring, where there is one (a load: it
 * stores it every 1-4 ms while it reads the ring, as fresh as the
 * kernel's coarse clock, which moves at its 1-4 ms tick); else, and every
 * CLOCK_CHECK events all the same, the kernel's from the vDSO (~3.5 ns
 * and a call: json_dumps's 13 M events spent 4-5 % of the program's CPU
 * in it).  The check bounds what a stetho that stopped storing (stopped,
 * descheduled) costs: stamps late by up to CLOCK_CHECK of this thread's
 * events, no more -- and a stopped stetho soon stops us anyway (a full
 * ring waits for it). */
#define CLOCK_CHECK 64

EVENT_PATH uint64_t coarse_time(struct agent_thread *th)
{
    if (agent.clock && th->clock_skip) {
        th->clock_skip--;
        uint64_t t = atomic_load_explicit(agent.clock, memory_order_relaxed);
        if (LIKELY(t))
            return t;
    }
    th->clock_skip = CLOCK_CHECK - 1;
    return agent_now_coarse();
}

EVENT_PATH uint64_t event_time(struct agent_thread *th)
{
    if (agent.sampled || !th)
        return agent_now();
    uint64_t solo = atomic_load_explicit(&agent_solo, memory_order_relaxed);
    if (!(solo & 1) || solo != th->clock_solo) {
        th->clock_solo = solo;
        uint64_t t = agent_now();
        return th->clock_last = t > th->clock_last ? t : th->clock_last;
    }
    uint64_t t = coarse_time(th);
    if (t > th->clock_last)
        th->clock_last = t;
    return th->clock_last;
}

/* ts as the record's dt_ns: after chunk_reserve, which may start a chunk. */
static inline uint64_t dt_of(const struct agent_thread *th, uint64_t ts)
{
    return ts > th->t0 ? ts - th->t0 : 0;
}

/* An ALLOC record at w (room for WIRE_FIXED_ALLOC, reserved), its time ts:
 * put_alloc's, and the nursery's for a block it lets go (nursery.c). */
EVENT_PATH void write_alloc(struct agent_thread *th, uint8_t *w, int allocator, const void *p,
                            size_t size, uint32_t stack, uint32_t native, uint64_t ts)
{
    chunk_commit(th, wire_put_alloc_after(w, &th->last,
                                          &(struct wire_alloc){
                                              .allocator = (uint64_t)allocator,
                                              .addr = (uintptr_t)p,
                                              .size = size,
                                              .stack = stack,
                                              .dt_ns = dt_of(th, ts),
                                              .native = native,
                                          }));
    uint32_t index = th->allocs++;
    if (!agent.sampled && allocator != AGENT_ALLOC_MMAP)
        local_alloc(th, p, w, index);
}

EVENT_PATH void put_alloc(struct agent_thread *th, int allocator, const void *p, size_t size,
                          uint64_t ts)
{
    uint32_t stack = stack_capture(th, ts, allocator == AGENT_ALLOC_PYMEM ||
                                               allocator == AGENT_ALLOC_PYOBJECT);
    th->last_alloc = (uintptr_t)p;
    if (agent.nursery && nursery_hold(th, allocator, p, size, stack, ts))
        return;
    uint32_t native = agent.native ? native_capture(th, ts) : 0;
    uint8_t *w = chunk_reserve(th, WIRE_FIXED_ALLOC, ts);
    if (w)
        write_alloc(th, w, allocator, p, size, stack, native, ts);
}

EVENT_PATH void put_free(struct agent_thread *th, int allocator, const void *p, uint64_t ts)
{
    /* the thread's last allocation: stetho's "temporary" (wire.h) */
    int temporary = th->last_alloc == (uintptr_t)p;
    if (temporary)
        th->last_alloc = 0;
    if (agent.nursery && nursery_free(th, p, temporary))
        return;
    uint8_t *w = chunk_reserve(th, WIRE_FIXED_FREE, ts);
    if (!w)
        return;
    if (temporary)
        allocator |= WIRE_TEMPORARY;
    /* after chunk_reserve, which may have sent the chunk the block was in */
    uint8_t *end = agent.sampled ? NULL : local_free(th, allocator, p, w, dt_of(th, ts));
    if (!end)
        end = wire_put_free_after(w, &th->last,
                                  &(struct wire_free){
                                      .allocator = (uint64_t)allocator,
                                      .addr = (uintptr_t)p,
                                      .dt_ns = dt_of(th, ts),
                                  });
    chunk_commit(th, end);
}

EVENT_PATH void event_alloc(int allocator, const void *p, size_t size)
{
    struct agent_thread *th = thread_get();
    if (!th)
        return;
    if (agent.sampled) {
        if (!sample_take(th, size))
            return;
        sample_add(p);
    }
    uint64_t ts = event_time(th);
    thread_enter(th);
    put_alloc(th, allocator, p, size, ts);
    if (UNLIKELY(allocator == AGENT_ALLOC_MMAP) && size >= WIRE_MAPPING_MEASURED_MIN) {
        /* now: stetho measures a mapping's pages while it lives, and
         * another thread's RESIDENT or FREE of it must come after it */
        chunk_flush(th);
        thread_leave(th);
        mappings_add(p, size);      /* the wrapper holds the table's lock */
        return;
    }
    thread_leave(th);
}

EVENT_PATH void event_free(int allocator, const void *p)
{
    if (agent.sampled && !sample_remove(p))
        return;                     /* the common case: never sampled */
    struct agent_thread *th = thread_get();
    if (!th) {
        chunk_lone_free(allocator, p);
        return;
    }
    uint64_t ts = event_time(th);
    thread_enter(th);
    put_free(th, allocator, p, ts);
    thread_leave(th);
}

#endif
