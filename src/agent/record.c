/*
 * record.c -- one allocation event into this thread's chunk: decide
 * (sampled mode), capture the Python stack, encode the record.
 *
 * Callers hold the guard.  Time stamps: a free is stamped before the
 * block goes back to the allocator and an allocation after it came out, so
 * when another thread gets the same address at once, its ALLOC is stamped
 * after our FREE and stetho can put them in order.
 */
#include "agent/agent.h"
#include "agent/local.h"

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

static inline __attribute__((always_inline)) uint64_t coarse_time(struct agent_thread *th)
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

static inline __attribute__((always_inline)) uint64_t event_time(struct agent_thread *th)
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

/* event_time, called from outside (a realloc's time before the call);
 * the events here have it inline: it is on every event's path. */
uint64_t record_time(struct agent_thread *th)
{
    return event_time(th);
}

/* A precise stamp for th's stream (a GC pause's end, FINALIZING): kept as
 * the last stamp, so the coarse stamps after it do not go back. */
uint64_t record_time_precise(struct agent_thread *th)
{
    uint64_t t = agent_now();
    if (t > th->clock_last)
        th->clock_last = t;
    return th->clock_last;
}

/* ts as the record's dt_ns: after chunk_reserve, which may start a chunk. */
static uint64_t dt_of(const struct agent_thread *th, uint64_t ts)
{
    return ts > th->t0 ? ts - th->t0 : 0;
}

/* put_alloc and put_free are inline in their callers (every event's
 * path: put_alloc's prologue and epilogue were 40 % of its own
 * instructions, cachegrind). */
#define EVENT_PATH static inline __attribute__((always_inline))

EVENT_PATH void put_alloc(struct agent_thread *th, int allocator, const void *p, size_t size,
                          uint64_t ts)
{
    uint32_t stack = stack_capture(th, ts, allocator == AGENT_ALLOC_PYMEM ||
                                               allocator == AGENT_ALLOC_PYOBJECT);
    uint32_t native = agent.native ? native_capture(th, ts) : 0;
    uint8_t *w = chunk_reserve(th, WIRE_FIXED_ALLOC, ts);
    if (!w)
        return;
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

EVENT_PATH void put_free(struct agent_thread *th, int allocator, const void *p, uint64_t ts)
{
    uint8_t *w = chunk_reserve(th, WIRE_FIXED_FREE, ts);
    if (!w)
        return;
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

void record_alloc(int allocator, const void *p, size_t size)
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

/* The mapping recorded at p had `bytes` resident now (mappings.c). */
void record_resident(const void *p, uint64_t bytes)
{
    struct agent_thread *th = thread_get();
    if (!th)
        return;
    uint64_t ts = record_time_precise(th);
    thread_enter(th);
    uint8_t *w = chunk_reserve(th, WIRE_FIXED_RESIDENT, ts);
    if (w)
        chunk_commit(th, wire_put_resident(w, &(struct wire_resident){
                                                  .addr = (uintptr_t)p,
                                                  .bytes = bytes,
                                                  .dt_ns = dt_of(th, ts),
                                              }));
    thread_leave(th);
}

void record_free(int allocator, const void *p)
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

/* p moved to q (q NULL: p was freed by a zero-size realloc).  t_before: the
 * time before the call, for the FREE of p. */
/* Sampled mode: take p out of the sampled set *before* the real realloc
 * frees it -- after, another thread may already have been given p and
 * sampled it.  1: p was sampled; 0: it was not; -1: exact mode. */
int record_realloc_claim(const void *p)
{
    return agent.sampled && p ? sample_remove(p) : -1;
}

/* The realloc failed: p is still the program's, as sampled as before. */
void record_realloc_failed(const void *p, int claim)
{
    if (claim == 1)
        sample_add(p);
}

void record_realloc(int allocator, const void *p, const void *q, size_t size,
                    uint64_t t_before, int claim)
{
    int free_it = p != NULL, alloc_it = q != NULL;
    if (agent.sampled && free_it)
        free_it = claim == 1;
    struct agent_thread *th = thread_get();
    if (!th)
        return;
    if (agent.sampled && alloc_it) {
        alloc_it = sample_take(th, size);
        if (alloc_it)
            sample_add(q);
    }
    if (!free_it && !alloc_it)
        return;
    uint64_t ts = event_time(th);
    thread_enter(th);
    if (free_it)
        put_free(th, allocator, p, t_before ? t_before : ts);
    if (alloc_it)
        put_alloc(th, allocator, q, size, ts);
    if (UNLIKELY(allocator == AGENT_ALLOC_MMAP) && alloc_it && size >= WIRE_MAPPING_MEASURED_MIN) {
        chunk_flush(th);            /* as record_alloc's */
        thread_leave(th);
        /* the wrapper holds the table's lock; the pages mremap carried
         * over are resident at once: said now, not left to stetho */
        mappings_add_measured(q, size);
        return;
    }
    thread_leave(th);
}

/* The first thread to see _PyRuntime._finalizing set says so, and sends it
 * at once: whatever is live now is what the program left behind. */
void record_finalizing(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&agent_finalizing, &expected, 1))
        return;
    /* the guard: a signal handler that allocates while we are in the
     * thread's event below must not come back in */
    int guard = guard_enter();
    struct agent_thread *th = thread_get();
    if (!th) {
        guard_leave(guard);
        return;
    }
    /* every thread's events so far go before FINALIZING: stetho counts
     * none that come after it (chunk.c's head comment) */
    chunks_flush_all();
    /* what the mappings hold now is what they leave: measured here, since
     * stetho may read this long after the process is gone */
    mappings_send_all(1);
    uint64_t ts = record_time_precise(th);
    thread_enter(th);
    uint8_t *w = chunk_reserve(th, WIRE_FIXED_FINALIZING, ts);
    if (w) {
        chunk_commit(th, wire_put_finalizing(w, &(struct wire_finalizing){ dt_of(th, ts) }));
        chunk_flush(th);
    }
    thread_leave(th);
    guard_leave(guard);
}
