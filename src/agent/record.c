/*
 * record.c -- one allocation event into this thread's chunk: decide
 * (sampled mode), capture the Python stack, encode the record.
 *
 * Callers hold agent_guard.  Time stamps: a free is stamped before the
 * block goes back to the allocator and an allocation after it came out, so
 * when another thread gets the same address at once, its ALLOC is stamped
 * after our FREE and stetho can put them in order.
 */
#include "agent/agent.h"

#define REC_MAX (1 + 5 * VARINT_MAX)

static void put_alloc(struct agent_thread *th, int allocator, const void *p, size_t size,
                      uint64_t ts)
{
    uint32_t stack = stack_capture(th, ts);
    uint8_t *w = chunk_reserve(th, REC_MAX, ts);
    if (!w)
        return;
    *w++ = AGENT_REC_ALLOC;
    w = put_varint(w, (uint64_t)allocator);
    w = put_varint(w, (uintptr_t)p);
    w = put_varint(w, size);
    w = put_varint(w, stack);
    w = put_varint(w, ts > th->t0 ? ts - th->t0 : 0);
    chunk_commit(th, w);
}

static void put_free(struct agent_thread *th, int allocator, const void *p, uint64_t ts)
{
    uint8_t *w = chunk_reserve(th, REC_MAX, ts);
    if (!w)
        return;
    *w++ = AGENT_REC_FREE;
    w = put_varint(w, (uint64_t)allocator);
    w = put_varint(w, (uintptr_t)p);
    w = put_varint(w, ts > th->t0 ? ts - th->t0 : 0);
    chunk_commit(th, w);
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
    uint64_t ts = agent_now();
    thread_lock(th);
    put_alloc(th, allocator, p, size, ts);
    if (allocator == AGENT_ALLOC_MMAP)
        chunk_flush(th);            /* now: stetho measures a mapping's pages while it lives */
    thread_unlock(th);
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
    uint64_t ts = agent_now();
    thread_lock(th);
    put_free(th, allocator, p, ts);
    thread_unlock(th);
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
    uint64_t ts = agent_now();
    thread_lock(th);
    if (free_it)
        put_free(th, allocator, p, t_before ? t_before : ts);
    if (alloc_it)
        put_alloc(th, allocator, q, size, ts);
    thread_unlock(th);
}

/* The first thread to see _PyRuntime._finalizing set says so, and sends it
 * at once: whatever is live now is what the program left behind. */
void record_finalizing(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&agent_finalizing, &expected, 1))
        return;
    /* the guard: a signal handler that allocates while we hold the
     * thread's lock below must not come back in and wait for it */
    int guard = agent_guard;
    agent_guard = 1;
    struct agent_thread *th = thread_get();
    if (!th) {
        agent_guard = guard;
        return;
    }
    uint64_t ts = agent_now();
    thread_lock(th);
    uint8_t *w = chunk_reserve(th, 1 + VARINT_MAX, ts);
    if (w) {
        *w++ = AGENT_REC_FINALIZING;
        w = put_varint(w, ts > th->t0 ? ts - th->t0 : 0);
        chunk_commit(th, w);
        chunk_flush(th);
    }
    thread_unlock(th);
    agent_guard = guard;
}
