/*
 * sample.c -- sampled mode: which allocations to record, and which frees.
 *
 * Allocations are Poisson samples over bytes: every byte allocated is a
 * sample point with probability 1/mean, independently.  Each thread keeps
 * the distance to its next point (an exponential draw); an allocation that
 * reaches it is recorded with its size, and the next distance is drawn
 * afresh from its end (the exponential forgets, so that is exact).  An
 * allocation of s bytes is thus sampled with probability 1 - exp(-s/mean).
 *
 * Frees are recorded only for sampled blocks, so the live sampled
 * addresses are kept in a process-wide set: 64 stripes, each an
 * open-addressing table under a spin lock, in front of a table of counters
 * indexed by the address's hash.  A free whose counter is 0 (most of them:
 * most blocks were never sampled) costs one load and no lock.  The counter
 * table is sized by the mean, to hold about one counter per sampled block
 * of 8 GB live (a larger mean: fewer samples, a table that stays in cache);
 * a counter that reaches 255 stays there.
 */
#include "agent/agent.h"
#include "agent/fast.h"
#include "util/mix.h"

#include <math.h>
#include <string.h>

#define STRIPES 64
#define FILTER_MIN_BITS 16
#define FILTER_MAX_BITS 22
#define LIVE_BYTES_BITS 33          /* size the filter for 8 GB live */
#define STUCK 255

struct stripe {
    _Atomic int locked;
    uintptr_t *slots;       /* 0: empty */
    size_t cap, used;
};

static struct stripe stripes[STRIPES];
static void *const shut = (void *)&shut, *const never_finalizing = NULL;
/* closed, and no filter, outside sampled mode */
struct agent_hot agent_hot = { .closed = &shut };

void fast_set_open(int open)
{
    void *const *gate = &shut;
    if (open)
        gate = agent.finalizing_at ? (void *const *)agent.finalizing_at : &never_finalizing;
    __atomic_store_n(&agent_hot.closed, gate, __ATOMIC_RELEASE);
}

/* ---- deciding ---- */

static uint64_t rng_next(uint64_t *s)     /* xorshift64* */
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static int64_t draw(struct agent_thread *th)
{
    /* u in (0, 1]: never log(0) */
    double u = (double)((rng_next(&th->rng) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double d = -log(u) * (double)agent.mean;
    return d > 4e18 ? (int64_t)4e18 : (int64_t)d;
}

void sample_thread_init(struct agent_thread *th)
{
    th->rng = mix64((uint64_t)th->tid ^ agent_now() ^ (uintptr_t)th) | 1;
    th->countdown = agent.sampled ? draw(th) : 0;
}

int sample_take(struct agent_thread *th, size_t size)
{
    if ((uint64_t)th->countdown >= size) {
        th->countdown -= (int64_t)size;
        return 0;
    }
    th->countdown = draw(th);
    return 1;
}

/* ---- the set of live sampled addresses ---- */

static void lock(struct stripe *s)
{
    for (;;) {
        int expected = 0;
        if (atomic_compare_exchange_weak_explicit(&s->locked, &expected, 1,
                                                  memory_order_acquire, memory_order_relaxed))
            return;
        __builtin_ia32_pause();
    }
}

static void unlock(struct stripe *s)
{
    atomic_store_explicit(&s->locked, 0, memory_order_release);
}

/* The filter is indexed by the address (fast.h); the stripe takes the top
 * 6 bits of the address's hash, a stripe's table those from 32 up. */
static size_t slot_of(const struct stripe *s, uintptr_t p)
{
    return (size_t)(mix64(p) >> 32) & (s->cap - 1);
}

static int grow(struct stripe *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 256;
    uintptr_t *ns = agent_real.calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    uintptr_t *old = s->slots;
    size_t ocap = s->cap;
    s->slots = ns;
    s->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i])
            continue;
        size_t j = slot_of(s, old[i]);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = old[i];
    }
    agent_real.free(old);
    return 0;
}

static void filter_inc(_Atomic uint8_t *f)
{
    uint8_t c = atomic_load_explicit(f, memory_order_relaxed);
    while (c != STUCK &&
           !atomic_compare_exchange_weak_explicit(f, &c, (uint8_t)(c + 1),
                                                  memory_order_release, memory_order_relaxed))
        ;
}

static void filter_dec(_Atomic uint8_t *f)
{
    uint8_t c = atomic_load_explicit(f, memory_order_relaxed);
    while (c != STUCK && c != 0 &&
           !atomic_compare_exchange_weak_explicit(f, &c, (uint8_t)(c - 1),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void sample_add(const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    uint64_t h = mix64(p);
    struct stripe *s = &stripes[h >> 58];         /* 64 stripes: the top 6 bits */
    int added = 0;
    lock(s);
    if ((s->used + 1) * 2 <= s->cap || grow(s) == 0) {
        size_t i = slot_of(s, p);
        while (s->slots[i] && s->slots[i] != p)
            i = (i + 1) & (s->cap - 1);
        if (!s->slots[i]) {
            s->slots[i] = p;
            s->used++;
            added = 1;
        }
    }
    unlock(s);
    if (added && agent_hot.filter)
        filter_inc(&agent_hot.filter[fast_filter_index(p)]);
}

int sample_remove(const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    if (UNLIKELY(!agent_hot.filter))
        return 0;
    _Atomic uint8_t *f = &agent_hot.filter[fast_filter_index(p)];
    if (LIKELY(atomic_load_explicit(f, memory_order_acquire) == 0))
        return 0;
    uint64_t h = mix64(p);
    struct stripe *s = &stripes[h >> 58];         /* 64 stripes: the top 6 bits */
    int found = 0;
    lock(s);
    if (s->cap) {
        size_t i = slot_of(s, p);
        while (s->slots[i] && s->slots[i] != p)
            i = (i + 1) & (s->cap - 1);
        if (s->slots[i]) {
            found = 1;
            s->used--;
            /* backward-shift deletion keeps probe chains whole */
            size_t j = i;
            for (;;) {
                s->slots[i] = 0;
                for (;;) {
                    j = (j + 1) & (s->cap - 1);
                    if (!s->slots[j])
                        goto done;
                    size_t k = slot_of(s, s->slots[j]);
                    /* can slots[j] move to i?  only if k is not in (i, j] */
                    if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                        continue;
                    break;
                }
                s->slots[i] = s->slots[j];
                i = j;
            }
        }
    }
done:
    unlock(s);
    if (found)
        filter_dec(f);
    return found;
}

/* Called at every recording's start: the sampled set starts empty.  The
 * counter table is kept while the mean keeps its size (a thread still in a
 * free from the previous recording may be reading it).  The fast path
 * (fast.h) is on for sampled mode only, once its filter exists. */
void sample_init(void)
{
    fast_set_open(0);
    for (int i = 0; i < STRIPES; i++) {
        lock(&stripes[i]);
        if (stripes[i].slots)
            memset(stripes[i].slots, 0, stripes[i].cap * sizeof *stripes[i].slots);
        stripes[i].used = 0;
        unlock(&stripes[i]);
    }
    if (!agent.sampled)
        return;
    int bits = LIVE_BYTES_BITS;
    for (uint64_t m = agent.mean; m > 1 && bits > 0; m >>= 1)
        bits--;
    bits = bits < FILTER_MIN_BITS ? FILTER_MIN_BITS : bits > FILTER_MAX_BITS ? FILTER_MAX_BITS
                                                                            : bits;
    uint64_t mask = ((uint64_t)1 << bits) - 1;
    /* The filter always has FILTER_MAX_BITS' size (untouched pages cost
     * nothing) and is never freed or moved: a free still running from the
     * previous recording reads filter and mask separately, and any mask
     * it pairs with this filter stays inside it.  Counters set under an
     * earlier, larger mask are cleared too (used_mask). */
    static uint64_t used_mask;
    if (!agent_hot.filter)
        agent_hot.filter = agent_real.calloc((size_t)1 << FILTER_MAX_BITS, 1);
    if (agent_hot.filter) {
        for (uint64_t i = 0; i <= used_mask; i++)
            atomic_store_explicit(&agent_hot.filter[i], 0, memory_order_relaxed);
        agent_hot.filter_mask = mask;
        used_mask = mask > used_mask ? mask : used_mask;
    }
    fast_set_open(agent_hot.filter != NULL);
}

/* A stripe locked at fork time was being changed by a thread that does not
 * exist in the child: start it empty (its counters stay up, which only
 * costs a lookup now and then). */
void sample_atfork_child(void)
{
    for (int i = 0; i < STRIPES; i++) {
        if (atomic_load(&stripes[i].locked)) {
            stripes[i].slots = NULL;
            stripes[i].cap = stripes[i].used = 0;
            atomic_store(&stripes[i].locked, 0);
        }
    }
}
