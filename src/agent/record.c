/*
 * record.c -- the events that are not on every allocation's inline path
 * (event.h has those): an allocation and a free for the callers outside
 * the Python domains' hooks, a realloc, a mapping's resident pages,
 * FINALIZING.  Callers hold the guard.
 */
#include "agent/event.h"

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

void record_alloc(int allocator, const void *p, size_t size)
{
    event_alloc(allocator, p, size);
}

void record_free(int allocator, const void *p)
{
    event_free(allocator, p);
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
