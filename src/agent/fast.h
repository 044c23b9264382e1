/*
 * fast.h -- sampled mode's hot path: the few instructions every hook runs
 * for an allocation that is not sampled and a free of a block that was not
 * (almost all of them), before anything else.
 *
 * Contract: fast_alloc_skips(n) is 1 when the fast path is open, this
 * thread is not inside the agent, and its countdown (sample.c) does not
 * reach a sample point within n more bytes; the countdown is then moved on
 * by n, exactly as sample_take() would have done, and the hook only
 * forwards.  fast_free_skips(p) is 1 when the fast path is open and p is
 * certainly not a live sampled block (its filter counter is 0); the hook
 * then only forwards.  0 from either: take the full path (the agent's
 * state, the guard, the decision again, the record), which is unchanged.
 *
 * The fast path is open in sampled mode, once its filter exists, until the
 * interpreter begins to finalize (a word it sets): from then on every call
 * takes the full path again, which notices the finalization (and sends
 * FINALIZING) at the first Python allocation, as without a fast path.
 * Exact mode never opens it: there every event is recorded.
 *
 * Otherwise neither looks at the agent's state: what they let through is
 * never recorded in any state (off, waiting for Python, finalizing,
 * closed), so they need not know it.  A thread with no state yet
 * (agent_self NULL: before recording started, or after its state was torn
 * down) always takes the full path, which is where recording starts.
 */
#ifndef STETHO_AGENT_FAST_H
#define STETHO_AGENT_FAST_H

#include "agent/agent.h"

/* One cache line that every hook reads. */
struct agent_hot {
    void *const *closed;            /* the fast path is open while *closed is
                                       NULL: &_PyRuntime._finalizing in sampled
                                       mode, a word that is not NULL otherwise */
    _Atomic uint8_t *filter;        /* counters of live sampled blocks by address */
    uint64_t filter_mask;
} __attribute__((aligned(64)));
extern struct agent_hot agent_hot AGENT_HIDDEN;

/* Open or close the fast path (sample.c, at a recording's start). */
void fast_set_open(int open) AGENT_HIDDEN;

/* The filter is indexed by the address itself (16-byte granules, as
 * allocators align): blocks freed near each other -- a pymalloc pool, a
 * list's items -- hit the same cache lines, which matters because almost
 * every free of the program looks here. */
static inline size_t fast_filter_index(uintptr_t p)
{
    return (size_t)((p >> 4) & agent_hot.filter_mask);
}

static inline int fast_open(void)
{
    void *const *closed = __atomic_load_n(&agent_hot.closed, __ATOMIC_ACQUIRE);
    return !__atomic_load_n(closed, __ATOMIC_RELAXED);
}

static inline int fast_alloc_skips(size_t n)
{
    if (!fast_open() || agent_guard)
        return 0;
    struct agent_thread *th = agent_self;
    if (UNLIKELY(!th) || (uint64_t)th->countdown < n)
        return 0;
    th->countdown -= (int64_t)n;
    return 1;
}

static inline int fast_free_skips(const void *p)
{
    return fast_open() &&
           atomic_load_explicit(&agent_hot.filter[fast_filter_index((uintptr_t)p)],
                                memory_order_acquire) == 0;
}

#endif
