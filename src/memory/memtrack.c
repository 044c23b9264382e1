/*
 * memtrack.c -- live blocks, per-stack metrics and the heap's peak.
 *
 * Peak without copying everything at every new high: the heap's peak is
 * only known once it starts going down, so a snapshot is taken at the first
 * free after a new high (until then every event was an allocation, so the
 * state then is the state at the peak).  The snapshot only updates the
 * stacks whose live bytes changed since the previous one (a dirty list), so
 * its cost follows the activity, not the number of stacks.
 *
 * Anonymous mappings (allocator MMAP) of WIRE_MAPPING_MEASURED_MIN bytes or
 * more (smaller ones count whole, as any block) are counted by what is
 * resident: a library may reserve address space it never touches
 * (OpenBLAS maps 32 MiB per thread at import), and that is no memory
 * held.  Each live mapping is kept in a side table with the bytes it
 * counts for now; memtrack_tick() reads the resident pages of the ranges
 * (/proc/PID/pagemap, a bounded number of pages per tick, round robin)
 * and moves the heap, the stacks and
 * so the peak by the difference, as an allocation or a free would.  A new
 * mapping counts 0 until measured (its pages are not touched yet).  When
 * our decoding lags the program by more than a mapping's life (or the
 * program exits first), no tick could measure it: the agent measures it
 * itself (mincore) before it goes and when the program ends, and its
 * RESIDENT record, applied in the stream's order, is the truth at its
 * time (on_resident).  The agent's hot path is untouched.
 *
 * Growth: each stack's live bytes at the end of equal time buckets,
 * GROWTH_BUCKETS at most.  When they are full, pairs merge (each keeps its
 * later value) and the width doubles, so a run of any length ends with
 * half to all of them, and taking the points costs a walk over the stacks
 * at each bucket's end only: about 2 * GROWTH_BUCKETS walks per doubling.
 */
#include "memory/memtrack.h"
#include "memory/census.h"
#include "memory/memnative.h"
#include "proc/resident.h"
#include "util/array.h"
#include "util/kmap.h"
#include "wire/wire.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_NAMESPACES 65536
#define LOOKAHEAD 16                    /* records decoded ahead (memtrack_feed) */
#define GROWTH_BUCKETS 64
#define GROWTH_FIRST_NS 50000000ull     /* 50 ms: a 3 s run gets ~30 buckets */
#define CENSUS_NS 250000000ull         /* a type census every 250 ms at most, */
#define CENSUS_COST 20                  /* and no more than 1/20 of a CPU, */
#define CENSUS_SLICE 2000000ull         /* read 2 ms (CPU) per tick: a fifth of a 10 ms tick */
#define MEASURE_PAGES (1u << 16)        /* pagemap entries read per tick: 512 KiB,
                                           256 MiB of mappings (4 KiB pages) */

/* Metrics of one (pid, tid, stack): memory is per thread, like time. */
struct stack_metrics {
    int32_t pid, tid;
    uint32_t stack;
    uint64_t alloc_bytes, alloc_count, live, peak, leaked, temporary;
    uint64_t live_mapped, peak_mapped, leaked_mapped;  /* mappings' whole sizes */
    uint64_t tick_bytes, tick_count;    /* allocated since the last tick */
    uint64_t peak_written, peak_mapped_written, live_written;  /* values last written */
    uint64_t *growth;                   /* live at each bucket's end (GROWTH_BUCKETS),
                                           from the first one it held memory at */
    uint32_t growth_len;
    uint8_t dirty, tick_dirty, peak_dirty;
    uint8_t held;                       /* in memtrack.held */
    uint8_t moved;                      /* in memtrack.moved */
};

struct block {
    uint64_t addr;                      /* 0: empty slot */
    int32_t pid;
    uint32_t stack;                     /* index into memtrack.stacks */
    uint64_t size;                      /* estimated bytes (sampling weight) */
    uint32_t count;                     /* estimated blocks it stands for */
    uint32_t allocator : 8;
    uint32_t type : 24;                 /* object allocator: its type's name (capture
                                           string id) once a census read it; 0: not
                                           yet; TYPE_PENDING: being read */
};

/* A live object's type is read by one census and kept for the next ones: a
 * census then reads only the objects made since (json_dumps: 57 k live
 * blocks, read again every 250 ms, were a fifth of stetho's CPU).  An
 * object's type does not change but for a `__class__` assignment, and such
 * an object is counted under the type it had when first read.  A block read
 * that holds no object (a buffer from the object allocator: 16 k of them
 * in json_dumps) is not read again either.  Only a
 * block that is still the one the census was given (still pending: a new
 * block at the same address starts at 0) takes what was read. */
#define TYPE_PENDING ((1u << 24) - 1)
#define TYPE_NONE ((1u << 24) - 2)     /* read: holds no object */

/* A free that came before its allocation: another thread's chunk with the
 * allocation had not arrived yet (threads send their own chunks, so events
 * of different threads reach us out of order).  Kept, bounded, until the
 * allocation shows up: an allocation older than the free cancels with it. */
struct orphan {
    uint64_t addr;                      /* 0: empty */
    int32_t pid;
    uint64_t t_ns;                      /* when it was freed */
};

#define ORPHANS 4096                    /* a direct-mapped table */

/* The blocks of one chunk's allocation records, by their index in it
 * (FREE_LOCAL names one): an ALLOC_LOCAL's block lives here only, never in
 * the table of live blocks, since it dies in the same chunk. */
enum { LOCAL_NONE, LOCAL_LIVE, LOCAL_IGNORED };
struct local_block {
    uint64_t addr;
    uint64_t size;                      /* estimated bytes */
    uint32_t stack;                     /* index into memtrack.stacks */
    uint8_t state;                      /* LOCAL_NONE: an ALLOC, or freed */
};

/* A live anonymous mapping, beside its block: what it counts for now. */
struct mapping {
    int32_t pid;
    uint32_t stack;                     /* index into memtrack.stacks */
    uint64_t addr, len;                 /* the range, as mapped */
    uint64_t weight;                    /* the block's size (estimated bytes) */
    uint64_t counted;                   /* its resident part, in weight's scale */
    int measured;                       /* counted comes from its pages */
};

/* One thread's id spaces (frames and stacks are per thread, wire.h). */
struct ns {
    int32_t pid, tid;
    uint32_t *frames, *stacks;          /* agent id -> capture id */
    size_t nframes, nstacks;
    uint32_t *metrics;                  /* agent stack id -> metrics_of(), 0: not yet */
    size_t nmetrics;
    uint32_t native_root;               /* capture stack of "[native]" */
    uint64_t sample_mean;               /* 0: exact */
    struct mn_thread *native;           /* --native: its stack trees */
};

struct proc_state {
    int32_t pid;
    int finalized;
    struct census_result census;        /* its last census, until known good */
    struct mn_proc *native;             /* --native: its modules */
};

struct memtrack {
    struct capture_writer *w;
    uint64_t start_ns;
    struct ns *ns;
    size_t nns, capns;
    struct proc_state *procs;
    size_t nprocs, capprocs;

    struct block *blocks;               /* open addressing, tombstone-free */
    size_t capblocks, nblocks;

    struct stack_metrics *stacks;       /* [0] unused */
    size_t nstacks, capstacks;
    struct kmap index;                  /* (pid, tid, stack) -> stacks[i] */
    uint32_t *dirty, *tick_dirty;       /* stack ids */
    size_t ndirty, capdirty, ntick, captick;
    uint32_t *held;                     /* stack ids that held memory at a tick */
    size_t nheld, capheld;
    uint32_t *moved;                    /* stack ids whose live bytes may have
                                           changed since the last growth point */
    size_t nmoved, capmoved;

    struct orphan orphans[ORPHANS];
    struct local_block local[WIRE_ALLOCS_MAX];  /* this chunk's allocations */
    size_t nlocal;
    struct mapping *maps;               /* live mappings, unordered */
    size_t nmaps, capmaps, map_cursor;
    struct kmap map_index;              /* (pid, addr) -> maps[i - 1]; 0: gone */
    uint64_t mapped, mapped_res;        /* sums of weight and counted */
    uint64_t peak_mapped, peak_mapped_res;
    /* heap, mapped and mapped_res for another thread's timeline */
    _Atomic uint64_t pub_heap, pub_mapped, pub_mapped_res;
    uint64_t heap, peak_heap, peak_t;
    int peak_pending, peak_changed;
    struct cap_mem_totals totals;
    uint64_t events, dropped;
    uint32_t native_frame;
    int32_t only_pid, only_tid;         /* only_tid 0: every thread */
    uint64_t growth_ns;                 /* the buckets' width */
    uint32_t growth_n;                  /* buckets taken */
    struct census *census;              /* NULL: out of memory, no census */
    uint64_t census_next;               /* since the start */
    int32_t census_pid;                 /* the census being read, 0: none */
    uint64_t census_t, census_cost;     /* its time (since the start), CPU so far */
    size_t census_turn;                 /* the process whose census is next */
    int calls_only;                     /* memory is not recorded */
    struct cap_call *calls;             /* the latest figures of each key */
    size_t ncalls, capcalls;
    struct kmap calls_index;            /* (pid << 32 | caller, callee) -> calls */
    uint64_t counted_functions;         /* calls[] with no caller */
    struct mn_stats native;             /* --native merges */
};

/* The live-block table: zeroed, on huge pages where the kernel gives them
 * (THP "madvise"), else on cache-line boundaries at least.  Its slots are
 * looked up at random, one per event: with 4 KiB pages nearly every lookup
 * of a big table also missed the TLB; and a slot that straddled two lines
 * would cost two misses. */
#define HUGE_PAGE (2u << 20)
_Static_assert(64 % sizeof(struct block) == 0, "whole slots per cache line");

static size_t blocks_bytes(size_t n)
{
    return (n * sizeof(struct block) + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
}

static struct block *blocks_new(size_t n)
{
    size_t len = blocks_bytes(n);
    /* room to start on a huge page boundary, the rest given back */
    uint8_t *p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    size_t before = start - (uintptr_t)p;
    if (before)
        munmap(p, before);
    if (HUGE_PAGE - before)
        munmap((uint8_t *)start + len, HUGE_PAGE - before);
    madvise((void *)start, len, MADV_HUGEPAGE);     /* a hint: fine if refused */
    return (struct block *)start;
}

static void blocks_free(struct block *b, size_t n)
{
    if (b)
        munmap(b, blocks_bytes(n));
}

struct memtrack *memtrack_new(struct capture_writer *w, uint64_t start_ns)
{
    struct memtrack *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->w = w;
    m->start_ns = start_ns;
    m->growth_ns = GROWTH_FIRST_NS;
    m->census = census_new(w);
    m->capblocks = 1 << 16;
    m->blocks = blocks_new(m->capblocks);
    if (!m->blocks) {
        free(m);
        return NULL;
    }
    return m;
}

void memtrack_free(struct memtrack *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nns; i++) {
        free(m->ns[i].frames);
        free(m->ns[i].stacks);
        free(m->ns[i].metrics);
        mn_thread_free(m->ns[i].native);
    }
    free(m->ns);
    for (size_t i = 0; i < m->nprocs; i++) {
        census_drop(&m->procs[i].census);
        mn_proc_free(m->procs[i].native);
    }
    free(m->procs);
    free(m->calls);
    kmap_free(&m->calls_index);
    for (size_t i = 1; i < m->nstacks; i++)
        free(m->stacks[i].growth);
    blocks_free(m->blocks, m->capblocks);
    free(m->stacks);
    kmap_free(&m->index);
    free(m->dirty);
    free(m->tick_dirty);
    free(m->held);
    free(m->moved);
    free(m->maps);
    kmap_free(&m->map_index);
    census_free(m->census);
    free(m);
}

void memtrack_only_thread(struct memtrack *m, int32_t pid, int32_t tid)
{
    m->only_pid = pid;
    m->only_tid = tid;
}

void memtrack_calls_only(struct memtrack *m)
{
    m->calls_only = 1;
}

uint64_t memtrack_events(const struct memtrack *m) { return m->events; }
uint64_t memtrack_counted(const struct memtrack *m) { return m->counted_functions; }
uint64_t memtrack_dropped(const struct memtrack *m) { return m->dropped; }

void memtrack_native_stats(const struct memtrack *m, uint64_t *stacks, uint64_t *partial)
{
    *stacks = m->native.stacks;
    *partial = m->native.partial;
}

static int grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, ncap * elem);
    if (!np)
        return -1;
    memset((char *)np + *cap * elem, 0, (ncap - *cap) * elem);
    *p = np;
    *cap = ncap;
    return 0;
}

/* The metrics index of (pid, tid, capture stack); 0 if out of memory. */
static uint32_t metrics_of(struct memtrack *m, int32_t pid, int32_t tid, uint32_t stack)
{
    uint64_t key = kmap_pair32((uint32_t)pid, (uint32_t)tid);
    uint32_t k = kmap_get(&m->index, key, stack, 0);
    if (k) {
        assert(k < m->nstacks && m->stacks[k].stack == stack);
        return k;
    }
    if (!m->nstacks)
        m->nstacks = 1;                 /* [0] stays unused */
    /* room first, so an index entry always names a stored element */
    int isnew;
    if (grow_array((void **)&m->stacks, &m->capstacks, m->nstacks + 1, sizeof *m->stacks) < 0 ||
        !kmap_put(&m->index, key, stack, (uint32_t)m->nstacks, &isnew))
        return 0;
    struct stack_metrics *s = &m->stacks[m->nstacks];
    s->pid = pid;
    s->tid = tid;
    s->stack = stack;
    return (uint32_t)m->nstacks++;
}

/* Appends stack to a list of stack ids, setting its flag; nothing if out
 * of memory (the flag stays clear: it is tried again at the next event).
 * Out of line: an event finds its stack listed already nearly always, and
 * the test of the flag alone is what stays inline in every event's path
 * (called, with the push, they were a tenth of the replayed instructions
 * on json_dumps, most of it the calls' register saves). */
static __attribute__((noinline)) void list_push(uint32_t **list, size_t *n, size_t *cap,
                                                uint8_t *flag, uint32_t stack)
{
    if (grow_array((void **)list, cap, *n + 1, sizeof **list) == 0) {
        *flag = 1;
        (*list)[(*n)++] = stack;
    }
}

/* Stacks with something to write at the next tick. */
static inline void tick_touch(struct memtrack *m, uint32_t stack, struct stack_metrics *s)
{
    if (!s->tick_dirty)
        list_push(&m->tick_dirty, &m->ntick, &m->captick, &s->tick_dirty, stack);
}

/* Stacks whose live bytes changed since the last peak snapshot (and, for
 * MEM_LIVE, since the last tick). */
static inline void mark(struct memtrack *m, uint32_t stack, struct stack_metrics *s)
{
    tick_touch(m, stack, s);
    if (!s->dirty)
        list_push(&m->dirty, &m->ndirty, &m->capdirty, &s->dirty, stack);
}

/* ---- live blocks ---- */

static size_t bhash(int32_t pid, uint64_t addr)
{
    uint64_t h = addr ^ ((uint64_t)(uint32_t)pid << 47);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h;
}

/* Fetch ahead the line of the slot a lookup of (pid, addr) starts at, and
 * the next one: the probe, or the shift of a deletion, goes on there. */
#define SLOTS_PER_LINE (64 / sizeof(struct block))

static inline void prefetch_slot(const struct block *b)
{
#if defined(__x86_64__)
    /* not __builtin_prefetch: GCC 12 -O2 drops it here as dead code */
    __asm__ volatile("prefetcht0 %0" : : "m"(*b));
#else
    __builtin_prefetch(b);
#endif
}

static inline void bprefetch(const struct memtrack *m, int32_t pid, uint64_t addr)
{
    size_t mask = m->capblocks - 1, i = bhash(pid, addr) & mask;
    prefetch_slot(&m->blocks[i]);
    prefetch_slot(&m->blocks[((i & ~(SLOTS_PER_LINE - 1)) + SLOTS_PER_LINE) & mask]);
}

/* The slot of (pid, addr): its block, or the empty slot its probe ends at
 * (where it would be inserted). */
static struct block *bslot(struct memtrack *m, int32_t pid, uint64_t addr)
{
    size_t mask = m->capblocks - 1, i = bhash(pid, addr) & mask;
    while (m->blocks[i].addr && (m->blocks[i].addr != addr || m->blocks[i].pid != pid))
        i = (i + 1) & mask;
    return &m->blocks[i];
}

static struct block *bfind(struct memtrack *m, int32_t pid, uint64_t addr)
{
    struct block *b = bslot(m, pid, addr);
    return b->addr ? b : NULL;
}

static int binsert(struct memtrack *m, const struct block *b);

static __attribute__((noinline)) int bgrow(struct memtrack *m)
{
    struct block *old = m->blocks;
    size_t oldcap = m->capblocks;
    struct block *nb = blocks_new(oldcap * 2);
    if (!nb)
        return -1;
    m->blocks = nb;
    m->capblocks = oldcap * 2;
    m->nblocks = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].addr)
            binsert(m, &old[i]);
    blocks_free(old, oldcap);
    return 0;
}

/* 0 inserted, 1 replaced (a free we never saw), -1 out of memory.  slot:
 * where bslot() found b's probe to end, if nothing moved since; or NULL.
 * (An allocation probes once: its lookup finds where it goes.)  Inline in
 * on_alloc, the growth out of line: the call's saves and restores were a
 * fifth of what an insertion cost (callgrind; replayed instructions -1 to
 * -2.5 %). */
static inline int binsert_at(struct memtrack *m, struct block *slot, const struct block *b)
{
    if ((m->nblocks + 1) * 2 > m->capblocks) {
        if (bgrow(m) < 0)
            return -1;
        slot = NULL;                    /* the table moved */
    }
    if (!slot)
        slot = bslot(m, b->pid, b->addr);
    int replaced = slot->addr != 0;
    *slot = *b;
    m->nblocks += !replaced;
    return replaced;
}

static int binsert(struct memtrack *m, const struct block *b)
{
    return binsert_at(m, NULL, b);
}

/* Backward-shift deletion keeps probe chains whole without tombstones. */
static void bdelete(struct memtrack *m, struct block *b)
{
    size_t mask = m->capblocks - 1, i = (size_t)(b - m->blocks), j = i;
    m->blocks[i].addr = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->blocks[j].addr)
            break;
        size_t home = bhash(m->blocks[j].pid, m->blocks[j].addr) & mask;
        /* can the entry at j move to the hole at i? */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            m->blocks[i] = m->blocks[j];
            m->blocks[j].addr = 0;
            i = j;
        }
    }
    m->nblocks--;
}

/* ---- peak ---- */

static void snapshot_peak(struct memtrack *m)
{
    for (size_t i = 0; i < m->ndirty; i++) {
        struct stack_metrics *s = &m->stacks[m->dirty[i]];
        s->dirty = 0;
        if (s->peak != s->live || s->peak_mapped != s->live_mapped) {
            s->peak = s->live;
            s->peak_mapped = s->live_mapped;
            s->peak_dirty = 1;
            tick_touch(m, m->dirty[i], s);
        }
    }
    m->ndirty = 0;
    m->peak_pending = 0;
    m->peak_changed = 1;
}

/* ---- namespaces ---- */

static struct proc_state *proc(struct memtrack *m, int32_t pid)
{
    for (size_t i = 0; i < m->nprocs; i++)
        if (m->procs[i].pid == pid)
            return &m->procs[i];
    if (grow_array((void **)&m->procs, &m->capprocs, m->nprocs + 1, sizeof *m->procs) < 0)
        return NULL;
    struct proc_state *p = &m->procs[m->nprocs++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    return p;
}

static struct ns *namespace(struct memtrack *m, int32_t pid, int32_t tid)
{
    for (size_t i = m->nns; i-- > 0;)
        if (m->ns[i].tid == tid && m->ns[i].pid == pid)
            return &m->ns[i];
    if (m->nns >= MAX_NAMESPACES ||
        grow_array((void **)&m->ns, &m->capns, m->nns + 1, sizeof *m->ns) < 0)
        return NULL;
    struct ns *n = &m->ns[m->nns++];
    memset(n, 0, sizeof *n);
    n->pid = pid;
    n->tid = tid;
    return n;
}

static uint32_t capture_stack(struct memtrack *m, struct ns *n, uint64_t agent_stack,
                              uint64_t native)
{
    if (native) {
        struct proc_state *p = proc(m, n->pid);
        return mn_stack(m->w, p ? p->native : NULL, n->native, agent_stack, native, &m->native);
    }
    if (agent_stack == 0) {
        if (!n->native_root) {
            if (!m->native_frame)
                m->native_frame = capw_frame(m->w, "[native]", "", 0, 0, CAP_FRAME_SYNTHETIC);
            n->native_root = capw_stack(m->w, 0, m->native_frame);
        }
        return n->native_root;
    }
    return agent_stack < n->nstacks ? n->stacks[agent_stack] : 0;
}

/* The metrics index of an allocation's stack.  A thread's (agent stack ->
 * metrics) is kept beside its id map: looking (pid, tid, stack) up in the
 * index for every event missed the cache on programs with many stacks
 * (deepstack: the function doing it had a sixth of the memory thread's
 * samples; replayed, 5 % fewer instructions and 11 % fewer L1 misses
 * now).  Native merges and the
 * "[native]" root are not kept (they depend on more than the id). */
static __attribute__((noinline)) uint32_t stack_metrics_slow(struct memtrack *m, struct ns *n,
                                                              uint64_t agent_stack,
                                                              uint64_t native)
{
    uint32_t k = metrics_of(m, n->pid, n->tid, capture_stack(m, n, agent_stack, native));
    if (!k || native || !agent_stack || agent_stack >= n->nstacks)
        return k;
    if (agent_stack >= n->nmetrics) {
        /* the id map's size: ids are checked against it before they come here */
        uint32_t *v = realloc(n->metrics, n->nstacks * sizeof *v);
        if (!v)
            return k;
        memset(v + n->nmetrics, 0, (n->nstacks - n->nmetrics) * sizeof *v);
        n->metrics = v;
        n->nmetrics = n->nstacks;
    }
    n->metrics[agent_stack] = k;
    return k;
}

/* The common case inline, the rest out of line: with the index lookup
 * inlined into it, every allocation's call saved and restored six
 * registers for a path taken once per stack. */
static inline uint32_t stack_metrics(struct memtrack *m, struct ns *n, uint64_t agent_stack,
                                     uint64_t native)
{
    if (!native && agent_stack && agent_stack < n->nmetrics && n->metrics[agent_stack])
        return n->metrics[agent_stack];
    return stack_metrics_slow(m, n, agent_stack, native);
}

/* ---- decoding ---- */

static int set_id(uint32_t **arr, size_t *n, uint64_t id, uint32_t value)
{
    /* ids are dense from 1 (wire.h): allow a little slack, no more, so a
     * bad chunk cannot make us allocate for a huge id */
    if (id == 0 || id > (uint64_t)*n + 4096)
        return -1;
    if (id >= *n) {
        size_t ncap = *n ? *n : 64;
        while (ncap <= id)
            ncap *= 2;
        uint32_t *na = realloc(*arr, ncap * sizeof *na);
        if (!na)
            return -1;
        memset(na + *n, 0, (ncap - *n) * sizeof *na);
        *arr = na;
        *n = ncap;
    }
    (*arr)[id] = value;
    return 0;
}

static uint64_t weight(uint64_t size, uint64_t mean)
{
    if (!mean)
        return size;
    /* a block of `size` bytes is sampled with probability 1 - e^(-size/mean):
     * each sample stands for size / that probability (Horvitz-Thompson) */
    double p = -expm1(-(double)size / (double)mean);
    return p > 0 ? (uint64_t)((double)size / p + 0.5) : mean;
}

static void new_peak(struct memtrack *m, uint64_t now)
{
    m->peak_heap = m->heap;
    m->peak_t = now;
    m->peak_mapped = m->mapped;
    m->peak_mapped_res = m->mapped_res;
    m->peak_pending = 1;
}

/* Before the heap goes down: if it stands at a new high, that was a peak,
 * and the state now is the state then. */
static void before_decrease(struct memtrack *m, uint64_t now)
{
    if (m->heap > m->peak_heap)
        new_peak(m, now);
    if (m->peak_pending)
        snapshot_peak(m);
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* ---- mappings ---- */

static struct mapping *mapping_of(struct memtrack *m, const struct block *b)
{
    if (b->allocator != AGENT_ALLOC_MMAP)
        return NULL;
    uint32_t i = kmap_get(&m->map_index, (uint64_t)(uint32_t)b->pid, b->addr, 0);
    return i ? &m->maps[i - 1] : NULL;
}

/* 0, or -1 (out of memory: the block then counts whole, as any other). */
static int mapping_add(struct memtrack *m, const struct block *b, uint64_t len)
{
    int isnew;
    if (ARRAY_RESERVE(m->maps, m->nmaps, m->capmaps) < 0)
        return -1;
    uint32_t *slot = kmap_put(&m->map_index, (uint64_t)(uint32_t)b->pid, b->addr,
                              (uint32_t)m->nmaps + 1, &isnew);
    if (!slot)
        return -1;
    *slot = (uint32_t)m->nmaps + 1;     /* a key of a gone mapping is reused */
    m->maps[m->nmaps++] = (struct mapping){ b->pid, b->stack, b->addr, len, b->size, 0, 0 };
    return 0;
}

/* The index entry of a mapping (its key is there: no insertion, but the
 * map may grow, so NULL when out of memory). */
static uint32_t *index_slot(struct memtrack *m, const struct mapping *mp)
{
    int isnew;
    return kmap_put(&m->map_index, (uint64_t)(uint32_t)mp->pid, mp->addr, 0, &isnew);
}

static void mapping_remove(struct memtrack *m, struct mapping *mp)
{
    size_t i = (size_t)(mp - m->maps), last = m->nmaps - 1;
    uint32_t *slot = index_slot(m, mp);
    if (slot)
        *slot = 0;
    if (i != last) {
        m->maps[i] = m->maps[last];
        if ((slot = index_slot(m, &m->maps[i])))
            *slot = (uint32_t)i + 1;
    }
    m->nmaps--;
}

/* What a live block counts for in the heap: a mapping its resident part. */
static uint64_t counted(struct memtrack *m, const struct block *b, uint64_t *mapped)
{
    const struct mapping *mp = mapping_of(m, b);
    *mapped = mp ? mp->weight : 0;
    return mp ? mp->counted : b->size;
}

/* Take a live block out of the heap (freed, or its process is gone). */
static void release(struct memtrack *m, struct block *b, uint64_t now)
{
    before_decrease(m, now);
    struct stack_metrics *s = &m->stacks[b->stack];
    struct mapping *mp = mapping_of(m, b);
    uint64_t c = mp ? mp->counted : b->size;
    if (mp) {
        s->live_mapped = sub_sat(s->live_mapped, mp->weight);
        m->mapped = sub_sat(m->mapped, mp->weight);
        m->mapped_res = sub_sat(m->mapped_res, c);
        mapping_remove(m, mp);
    }
    s->live = sub_sat(s->live, c);
    mark(m, b->stack, s);
    m->heap = sub_sat(m->heap, c);
    bdelete(m, b);
}

/* A mapping's resident part changed: the heap moves as for an allocation
 * or a free of the difference. */
static void recount(struct memtrack *m, struct mapping *mp, uint64_t c, uint64_t now)
{
    if (c == mp->counted)
        return;
    if (c < mp->counted)
        before_decrease(m, now);
    struct stack_metrics *s = &m->stacks[mp->stack];
    s->live = s->live - mp->counted + c;
    m->heap = m->heap - mp->counted + c;
    m->mapped_res = m->mapped_res - mp->counted + c;
    mp->counted = c;
    mark(m, mp->stack, s);
}

/* A mapping's resident bytes in its block's scale (a sampled one stands
 * for weight / len of itself). */
static uint64_t scaled(const struct mapping *mp, uint64_t resident)
{
    if (mp->len == mp->weight || !mp->len)
        return resident;
    return (uint64_t)((double)mp->weight * (double)resident / (double)mp->len + 0.5);
}

/* An open /proc/PID/pagemap, reused while the pid stays the same. */
struct pagemap {
    int fd, err;
    int scan;                           /* pagemap_resident's: try PAGEMAP_SCAN */
    int32_t pid;
};

static void measure(struct memtrack *m, struct pagemap *pm, struct mapping *mp, uint64_t now)
{
    if (pm->fd < 0 || pm->pid != mp->pid) {
        if (pm->fd >= 0)
            close(pm->fd);
        pm->fd = pagemap_open(mp->pid);
        pm->pid = mp->pid;
        pm->err = pm->fd < 0 ? errno : 0;
        pm->scan = 1;
    }
    int64_t r = pm->fd >= 0 ? pagemap_resident(pm->fd, mp->addr, mp->len, &pm->scan) : -1;
    if (r < 0) {
        /* process gone: keep the last figure; not permitted: count it
         * whole, as before mappings were measured */
        if (pm->fd < 0 && (pm->err == EACCES || pm->err == EPERM))
            recount(m, mp, mp->weight, now);
        return;
    }
    recount(m, mp, scaled(mp, (uint64_t)r), now);
    mp->measured = 1;
}

/* The agent measured the mapping at addr itself (wire.h RESIDENT): the
 * truth at its time stamp, however late we decode it -- before its free,
 * or its process's end, which come after it in the stream. */
static void on_resident(struct memtrack *m, int32_t pid, uint64_t addr, uint64_t bytes,
                        uint64_t now)
{
    struct block *b = bfind(m, pid, addr);
    struct mapping *mp = b ? mapping_of(m, b) : NULL;
    if (!mp)
        return;                         /* not kept (another thread's, out of memory) */
    recount(m, mp, scaled(mp, bytes < mp->len ? bytes : mp->len), now);
    mp->measured = 1;
}

/* Measure the mappings' resident parts, MEASURE_PAGES at most, round robin;
 * with pid > 0, those of that process never measured yet instead. */
static void measure_mappings(struct memtrack *m, int32_t pid, uint64_t now)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), budget = MEASURE_PAGES;
    struct pagemap pm = { .fd = -1 };       /* measure() opens it, scan flag and all */
    if (pid > 0) {
        for (size_t i = 0; i < m->nmaps; i++)
            if (m->maps[i].pid == pid && !m->maps[i].measured)
                measure(m, &pm, &m->maps[i], now);
    } else {
        for (size_t k = 0; k < m->nmaps && budget > 0; k++) {
            if (m->map_cursor >= m->nmaps)
                m->map_cursor = 0;
            struct mapping *mp = &m->maps[m->map_cursor++];
            uint64_t pages = (mp->len + page - 1) / page;
            budget -= pages < budget ? pages : budget;
            measure(m, &pm, mp, now);
        }
    }
    if (pm.fd >= 0)
        close(pm.fd);
}

static void publish(struct memtrack *m)
{
    atomic_store_explicit(&m->pub_heap, m->heap, memory_order_relaxed);
    atomic_store_explicit(&m->pub_mapped, m->mapped, memory_order_relaxed);
    atomic_store_explicit(&m->pub_mapped_res, m->mapped_res, memory_order_relaxed);
}

void memtrack_now(struct memtrack *m, struct cap_timeline_point *p)
{
    p->heap_bytes = atomic_load_explicit(&m->pub_heap, memory_order_relaxed);
    p->mapped_bytes = atomic_load_explicit(&m->pub_mapped, memory_order_relaxed);
    p->mapped_resident_bytes = atomic_load_explicit(&m->pub_mapped_res, memory_order_relaxed);
}

static struct orphan *orphan_slot(struct memtrack *m, int32_t pid, uint64_t addr)
{
    return &m->orphans[bhash(pid, addr) & (ORPHANS - 1)];
}

/* The block an allocation record makes: b->stack 0 if it is not kept
 * (another thread's, with memtrack_only_thread; out of memory). */
static inline void new_block(struct memtrack *m, struct ns *n, uint64_t allocator,
                             uint64_t addr, uint64_t size, uint64_t stack_id, uint64_t native,
                             struct block *b)
{
    *b = (struct block){ .addr = addr, .pid = n->pid };
    if (m->only_tid && n->pid == m->only_pid && n->tid != m->only_tid)
        return;
    b->stack = stack_metrics(m, n, stack_id, native);
    b->size = weight(size, n->sample_mean);
    /* sampled: the sample stands for w/size blocks of its size */
    uint64_t count = n->sample_mean && size ? (uint64_t)((double)b->size / (double)size + 0.5) : 1;
    b->count = (uint32_t)(count < UINT32_MAX ? count : UINT32_MAX);
    b->allocator = (uint8_t)(allocator < AGENT_ALLOCATORS ? allocator : 0);
}

/* What `count` allocations of `bytes` in all add to the allocated figures
 * of their stack and of the totals; size_class: wire_size_class() of each
 * one's size as requested, for the histogram. */
static inline void count_allocated(struct memtrack *m, uint32_t stack, uint32_t allocator,
                                   uint64_t bytes, uint64_t count, uint32_t size_class)
{
    struct stack_metrics *s = &m->stacks[stack];
    s->alloc_bytes += bytes;
    s->alloc_count += count;
    s->tick_bytes += bytes;
    s->tick_count += count;
    tick_touch(m, stack, s);
    m->totals.alloc_bytes += bytes;
    m->totals.alloc_count += count;
    m->totals.by_allocator_bytes[allocator] += bytes;
    m->totals.by_allocator_count[allocator] += count;
    m->totals.size_hist[size_class < CAP_MEM_HIST ? size_class : CAP_MEM_HIST - 1] += count;
}

/* Every allocation's (size: as requested). */
static inline void count_alloc(struct memtrack *m, const struct block *b, uint64_t size)
{
    count_allocated(m, b->stack, b->allocator, b->size, b->count, wire_size_class(size));
}

/* A "temporary": freed before its thread allocated anything else (the
 * agent tells: WIRE_TEMPORARY, TEMPS's temporary). */
static void count_temporary(struct memtrack *m, uint32_t stack, uint64_t count)
{
    m->stacks[stack].temporary += count;
    m->totals.temporary_count += count;
}

/* A TEMPS record: t->count blocks allocated and freed (wire.h), counted as
 * that many ALLOCs and FREEs would be; the heap is where it was. */
static void on_temps(struct memtrack *m, struct ns *n, const struct wire_temps *t)
{
    if (m->only_tid && n->pid == m->only_pid && n->tid != m->only_tid)
        return;
    uint32_t stack = stack_metrics(m, n, t->stack, 0);
    if (!stack)
        return;
    count_allocated(m, stack, (uint32_t)t->allocator, t->bytes, t->count,
                    (uint32_t)t->size_class);
    if (t->temporary)
        count_temporary(m, stack, t->temporary);
}

static void on_alloc(struct memtrack *m, struct ns *n, uint64_t allocator, uint64_t addr,
                     uint64_t size, uint64_t stack_id, uint64_t native, uint64_t now)
{
    struct block b;
    new_block(m, n, allocator, addr, size, stack_id, native, &b);
    if (!b.stack)
        return;
    uint32_t stack = b.stack;
    struct stack_metrics *s = &m->stacks[stack];
    uint64_t w = b.size;
    struct block *slot = bslot(m, n->pid, addr);
    if (slot->addr) {                   /* its free never reached us */
        release(m, slot, now);
        slot = NULL;                    /* the deletion moved its probe chain */
    }
    struct orphan *o = orphan_slot(m, n->pid, addr);
    /* strictly later: the same thread freeing then reusing an address (as
     * pymalloc does at once) must not cancel the new block */
    int freed_already = o->addr == addr && o->pid == n->pid && o->t_ns > now;
    int mapped = 0;
    if (freed_already)
        o->addr = 0;                    /* allocated, and freed later: not live */
    else if (binsert_at(m, slot, &b) >= 0 && b.allocator == AGENT_ALLOC_MMAP &&
             size >= WIRE_MAPPING_MEASURED_MIN)
        mapped = mapping_add(m, &b, size) == 0;
    count_alloc(m, &b, size);
    if (mapped) {                       /* counts once its pages are seen */
        s->live_mapped += w;
        m->mapped += w;
        mark(m, stack, s);
    } else if (!freed_already) {
        s->live += w;
        mark(m, stack, s);
        m->heap += w;
    }
}

/* An ALLOC_LOCAL: counted as any allocation, live until its FREE_LOCAL
 * in this chunk, and never in the table of live blocks. */
static void on_alloc_local(struct memtrack *m, struct ns *n, uint64_t allocator, uint64_t addr,
                           uint64_t size, uint64_t stack_id, uint64_t native,
                           struct local_block *lb)
{
    struct block b;
    new_block(m, n, allocator, addr, size, stack_id, native, &b);
    if (!b.stack)
        return;
    count_alloc(m, &b, size);
    struct stack_metrics *s = &m->stacks[b.stack];
    s->live += b.size;
    mark(m, b.stack, s);
    m->heap += b.size;
    *lb = (struct local_block){ addr, b.size, b.stack, LOCAL_LIVE };
    /* a sampled stream never sends one: b.count is 1 */
}

static void on_free_local(struct memtrack *m, struct local_block *lb, int temporary,
                          uint64_t now)
{
    if (temporary)
        count_temporary(m, lb->stack, 1);
    before_decrease(m, now);
    struct stack_metrics *s = &m->stacks[lb->stack];
    s->live = sub_sat(s->live, lb->size);
    mark(m, lb->stack, s);
    m->heap = sub_sat(m->heap, lb->size);
    lb->state = LOCAL_NONE;
}

static void on_free(struct memtrack *m, struct ns *n, uint64_t addr, int temporary,
                    uint64_t now)
{
    struct block *b = bfind(m, n->pid, addr);
    if (!b) {
        /* made before the hooks, not sampled -- or its allocation is in
         * another thread's chunk still to come: remember it a while */
        struct orphan *o = orphan_slot(m, n->pid, addr);
        *o = (struct orphan){ addr, n->pid, now };
        return;
    }
    if (temporary)
        count_temporary(m, b->stack, b->count);
    release(m, b, now);
}

static void leak(struct memtrack *m, const struct block *b)
{
    uint64_t mapped, c = counted(m, b, &mapped);
    struct stack_metrics *s = &m->stacks[b->stack];
    s->leaked += c;
    s->leaked_mapped += mapped;
    m->totals.leaked_bytes += c;
    m->totals.leaked_mapped_bytes += mapped;
}

/* Every block of pid leaves the heap (its process ended or exec'd), first
 * counted as leaked if `leaked`: one pass over a table that may be big. */
static void drop_process_blocks(struct memtrack *m, int32_t pid, int leaked, uint64_t now)
{
    for (size_t i = 0; i < m->capblocks;) {
        struct block *b = &m->blocks[i];
        if (b->addr && b->pid == pid) {
            if (leaked)
                leak(m, b);
            release(m, b, now);         /* shifts a later entry into i: look again */
        } else {
            i++;
        }
    }
}

static uint64_t rel(const struct memtrack *m, uint64_t now);
static void growth_fill_held(struct memtrack *m, uint32_t at, int32_t pid);

/* A type census of p's live object-allocator blocks (census.h), at now.
 * None once the process began to finalize: it then tears its objects down
 * while we would read them (the agent no longer reports those frees).  And
 * a census is only written once known to have been read before that: the
 * agent sends FINALIZING at once, so by the next census, or when it comes
 * (on_finalizing), we know. */
static void census_of(struct memtrack *m, struct proc_state *p, uint64_t now)
{
    census_write(m->w, &p->census);
    int32_t pid = p->pid;
    census_begin(m->census, pid);
    for (size_t i = 0; i < m->capblocks; i++) {
        const struct block *b = &m->blocks[i];
        if (!b->addr || b->pid != pid || b->allocator != AGENT_ALLOC_PYOBJECT)
            continue;
        if (b->type == TYPE_NONE)
            continue;
        if (b->type && b->type != TYPE_PENDING) {
            census_add_known(m->census, b->type, b->count, b->size, m->stacks[b->stack].stack);
            continue;
        }
        /* a sampled block's own size: its weight over the blocks it stands
         * for, rounded up (the count was rounded: never below the real size) */
        uint64_t size = b->count > 1 ? (b->size + b->count - 1) / b->count : b->size;
        census_add(m->census, b->addr, size, b->count, b->size, m->stacks[b->stack].stack);
        m->blocks[i].type = TYPE_PENDING;
    }
    m->census_pid = pid;
    m->census_t = rel(m, now);
    m->census_cost = 0;
}

/* What a census read of the block at addr, kept if the block is still the
 * one it was given. */
struct learn {
    struct memtrack *m;
    int32_t pid;
};

static void learn_type(void *ctx, uint64_t addr, uint32_t name)
{
    struct learn *l = ctx;
    struct block *b = bfind(l->m, l->pid, addr);
    if (b && b->type == TYPE_PENDING)
        b->type = name == CENSUS_NO_TYPE ? TYPE_NONE : name < TYPE_NONE ? name : 0;
}

/* The memory thread's CPU time: what a census costs us (its wall time
 * would count the time other programs had the CPU). */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Every CENSUS_NS, a census of the next running process, read a slice
 * per tick (so growth points and mappings' measures are not held up);
 * spaced out further when they cost more, so reading never takes more than
 * 1/CENSUS_COST of a CPU. */
static void census_tick(struct memtrack *m, uint64_t now)
{
    if (!m->census)
        return;
    if (!m->census_pid) {
        if (rel(m, now) < m->census_next)
            return;
        for (size_t k = 0; k < m->nprocs && !m->census_pid; k++) {
            struct proc_state *p = &m->procs[(m->census_turn + k) % m->nprocs];
            if (!p->finalized) {
                m->census_turn = (m->census_turn + k + 1) % m->nprocs;
                uint64_t t0 = cpu_ns();
                census_of(m, p, now);
                m->census_cost += cpu_ns() - t0;
            }
        }
        if (!m->census_pid)
            return;
    }
    uint64_t t0 = cpu_ns();
    int done = census_step(m->census, CENSUS_SLICE);
    m->census_cost += cpu_ns() - t0;
    if (!done)
        return;
    struct proc_state *p = proc(m, m->census_pid);
    if (p && !p->finalized) {
        census_end(m->census, m->census_t, &p->census);
        struct learn ctx = { m, m->census_pid };
        t0 = cpu_ns();
        census_each_read(m->census, learn_type, &ctx);
        m->census_cost += cpu_ns() - t0;
    }
    m->census_pid = 0;
    uint64_t cost = m->census_cost * CENSUS_COST;
    m->census_next = rel(m, now) + (cost > CENSUS_NS ? cost : CENSUS_NS);
}

/* The process began to finalize: what it still holds has leaked; then it
 * is gone from the heap (what it frees while shutting down is noise). */
static void on_finalizing(struct memtrack *m, int32_t pid, uint64_t now)
{
    struct proc_state *p = proc(m, pid);
    if (!p || p->finalized)
        return;
    growth_fill_held(m, m->growth_n, pid);     /* its last growth points */
    p->finalized = 1;
    if (m->census_pid == pid)
        m->census_pid = 0;              /* its census is still being read: none */
    if (p->census.done_ns <= now)
        census_write(m->w, &p->census);
    else
        census_drop(&p->census);        /* read while it tore down */
    /* its last chunk may have brought mappings no tick measured yet: their
     * pages may still be there (the others keep their last figure: by now
     * the program may be unmapping them) */
    measure_mappings(m, pid, now);
    drop_process_blocks(m, pid, 1, now);
}

/* A thread's stream starts anew (a new thread with a reused tid, or the
 * process exec'd): its ids start again; on exec, the old image is gone. */
static void on_new_stream(struct memtrack *m, struct ns *n, uint64_t now)
{
    if (n->nframes || n->nstacks) {
        if (n->frames)                  /* one of them may not exist yet */
            memset(n->frames, 0, n->nframes * sizeof *n->frames);
        if (n->stacks)
            memset(n->stacks, 0, n->nstacks * sizeof *n->stacks);
        n->native_root = 0;
        mn_thread_reset(n->native);
        n->sample_mean = 0;
        if (n->tid == n->pid) {         /* the main thread again: an exec */
            struct proc_state *p = proc(m, n->pid);
            drop_process_blocks(m, n->pid, 0, now);
            if (p) {
                p->finalized = 0;
                mn_proc_free(p->native);    /* another image: other modules */
                p->native = NULL;
            }
        }
    }
}

/* A process's call counts so far (wire.h CALLS, on its calls stream): the
 * latest figures of each (caller, callee) replace the ones before; they go
 * into the capture at the end. */
static int on_calls(struct memtrack *m, struct ns *n, const struct wire_calls *c)
{
    if (n->tid != WIRE_CALLS_TID || !c->callee || c->callee >= n->nframes ||
        !n->frames[c->callee] || (c->caller && (c->caller >= n->nframes || !n->frames[c->caller])))
        return -1;
    uint32_t caller = c->caller ? n->frames[c->caller] : 0, callee = n->frames[c->callee];
    int isnew;
    uint32_t *v = kmap_put(&m->calls_index, kmap_pair32((uint32_t)n->pid, caller), callee,
                           (uint32_t)m->ncalls, &isnew);
    if (!v || (isnew && grow_array((void **)&m->calls, &m->capcalls, m->ncalls + 1,
                                   sizeof *m->calls) < 0))
        return -1;
    if (isnew) {
        m->ncalls++;
        m->counted_functions += !caller;
    }
    m->calls[*v] = (struct cap_call){
        .pid = n->pid,
        .caller = caller,
        .callee = callee,
        .calls = c->calls,
        .primitive_calls = c->rec_calls <= c->calls ? c->calls - c->rec_calls : 0,
        .cum_ns = c->cum_ns,
        .own_ns = c->own_ns,
    };
    return 0;
}

/* The agent's counts and kinds are the capture's: they are stored as sent. */
_Static_assert(AGENT_ALLOCATORS == CAP_MEM_ALLOCATORS, "one allocator list");
_Static_assert(AGENT_FRAME_PYTHON == (int)CAP_FRAME_PYTHON &&
                   AGENT_FRAME_NATIVE == (int)CAP_FRAME_NATIVE &&
                   AGENT_FRAME_SYNTHETIC == (int)CAP_FRAME_SYNTHETIC &&
                   AGENT_FRAME_KINDS == 3,
               "the agent's frame kinds are the capture's");
/* The longest name and file the agent sends are kept whole below. */
#define FRAME_NAME_BUF 1024
#define FRAME_FILE_BUF 4096
_Static_assert(WIRE_NAME_MAX < FRAME_NAME_BUF && WIRE_FILE_MAX < FRAME_FILE_BUF,
               "a FRAME's strings fit");

/* One record of the stream of (p, n); -1 if it is bad (what it names is
 * not defined, or it cannot be stored).  Inline in memtrack_feed's loop,
 * which GCC stopped doing once wire_next was forced inline: its call, with
 * six registers saved and restored, was 5 % of the replayed instructions. */
static inline __attribute__((always_inline)) int
on_record(struct memtrack *m, struct proc_state *p, struct ns *n, uint64_t t0,
          const struct wire_record *r)
{
    switch (r->type) {
    case AGENT_REC_FRAME: {
        const struct wire_frame *f = &r->u.frame;
        char nbuf[FRAME_NAME_BUF], fbuf[FRAME_FILE_BUF];
        snprintf(nbuf, sizeof nbuf, "%.*s", (int)f->name.len, f->name.p);
        snprintf(fbuf, sizeof fbuf, "%.*s", (int)f->file.len, f->file.p);
        uint32_t id = capw_frame(m->w, nbuf, fbuf, (int32_t)f->line, (int32_t)f->first_line,
                                 f->kind < AGENT_FRAME_KINDS ? (enum cap_frame_kind)f->kind
                                                             : CAP_FRAME_PYTHON);
        return set_id(&n->frames, &n->nframes, f->id, id);
    }
    case AGENT_REC_STACK: {
        const struct wire_stack *s = &r->u.stack;
        if ((s->parent && (s->parent >= n->nstacks || !n->stacks[s->parent])) ||
            s->frame >= n->nframes || !n->frames[s->frame])
            return -1;
        /* the tree as the agent made it, for --native's merges (if it
         * cannot be kept, only those fail: their ALLOC is refused) */
        (void)mn_python(&n->native, s->id, s->parent, n->frames[s->frame], s->entry != 0);
        if (s->id < n->nmetrics)
            n->metrics[s->id] = 0;      /* what the id meant before (a new stream's
                                           ids are defined before use) is gone */
        return set_id(&n->stacks, &n->nstacks, s->id,
                      capw_stack(m->w, s->parent ? n->stacks[s->parent] : 0,
                                 n->frames[s->frame]));
    }
    case AGENT_REC_ALLOC: {
        const struct wire_alloc *a = &r->u.alloc;
        if ((a->stack && (a->stack >= n->nstacks || !n->stacks[a->stack])) ||
            (a->native && !mn_has_native(n->native, a->native)) ||
            m->nlocal >= WIRE_ALLOCS_MAX)
            return -1;
        m->local[m->nlocal++].state = LOCAL_NONE;
        m->events++;
        if (!p->finalized)
            on_alloc(m, n, a->allocator, a->addr, a->size, a->stack, a->native, t0 + a->dt_ns);
        return 0;
    }
    case AGENT_REC_NATIVE:
        return mn_native(&n->native, &r->u.native);
    case AGENT_REC_MODULE:
        return mn_module(&p->native, &r->u.module);
    case AGENT_REC_ALLOC_LOCAL: {
        /* never a mapping: its resident pages are measured while it lives */
        const struct wire_alloc_local *a = &r->u.alloc_local;
        if ((a->stack && (a->stack >= n->nstacks || !n->stacks[a->stack])) ||
            (a->native && !mn_has_native(n->native, a->native)) ||
            m->nlocal >= WIRE_ALLOCS_MAX || a->allocator == AGENT_ALLOC_MMAP ||
            n->sample_mean)
            return -1;
        struct local_block *lb = &m->local[m->nlocal++];
        lb->state = LOCAL_IGNORED;
        m->events++;
        if (!p->finalized)
            on_alloc_local(m, n, a->allocator, a->addr, a->size, a->stack, a->native, lb);
        return 0;
    }
    case AGENT_REC_FREE:
        m->events++;
        if (!p->finalized)
            on_free(m, n, r->u.free.addr, (r->u.free.allocator & WIRE_TEMPORARY) != 0,
                    t0 + r->u.free.dt_ns);
        return 0;
    case AGENT_REC_FREE_LOCAL: {
        const struct wire_free_local *f = &r->u.free_local;
        if (f->index >= m->nlocal || m->local[f->index].state == LOCAL_NONE)
            return -1;                  /* not an ALLOC_LOCAL of this chunk, or freed */
        m->events++;
        struct local_block *lb = &m->local[f->index];
        if (lb->state == LOCAL_IGNORED || p->finalized)
            lb->state = LOCAL_NONE;
        else
            on_free_local(m, lb, (f->allocator & WIRE_TEMPORARY) != 0, t0 + f->dt_ns);
        return 0;
    }
    case AGENT_REC_TEMPS: {
        /* each block's size has size_class bits: within [2^(c-1), 2^c) */
        const struct wire_temps *t = &r->u.temps;
        if ((t->stack && (t->stack >= n->nstacks || !n->stacks[t->stack])) ||
            t->allocator >= AGENT_ALLOCATORS || t->allocator == AGENT_ALLOC_MMAP ||
            t->size_class > WIRE_TEMPS_CLASS_MAX || !t->count || t->count > UINT32_MAX ||
            t->temporary > t->count || n->sample_mean)
            return -1;
        uint64_t lo = t->size_class ? 1ull << (t->size_class - 1) : 0;
        uint64_t hi = t->size_class ? (1ull << t->size_class) - 1 : 0;
        if (t->bytes < t->count * lo || t->bytes > t->count * hi)
            return -1;
        m->events += 2 * t->count;
        if (!p->finalized)
            on_temps(m, n, t);
        return 0;
    }
    case AGENT_REC_FINALIZING:
        on_finalizing(m, n->pid, t0 + r->u.finalizing.dt_ns);
        return 0;
    case AGENT_REC_GC_PAUSE: {
        const struct wire_gc_pause *g = &r->u.gc_pause;
        uint64_t end = t0 + g->dt_ns;
        if (g->generation >= CAP_GC_GENERATIONS || g->duration_ns > end)
            return -1;
        capw_gc_pause(m->w, &(struct cap_gc_pause){ rel(m, end - g->duration_ns), n->pid,
                                                    n->tid, (uint32_t)g->generation,
                                                    g->duration_ns, g->collected,
                                                    g->uncollectable });
        return 0;
    }
    case AGENT_REC_SAMPLED:
        n->sample_mean = r->u.sampled.mean;
        m->totals.sample_mean = r->u.sampled.mean;
        return 0;
    case AGENT_REC_CALLS:
        return on_calls(m, n, &r->u.calls);
    case AGENT_REC_RESIDENT:
        if (!p->finalized)
            on_resident(m, n->pid, r->u.resident.addr, r->u.resident.bytes,
                        t0 + r->u.resident.dt_ns);
        return 0;
    }
    return -1;
}

int memtrack_feed(struct memtrack *m, const uint8_t *chunk, size_t len)
{
    struct agent_chunk_header h;
    struct wire_cur c;
    if (wire_chunk_open(chunk, len, &h, &c) < 0) {
        m->dropped++;
        return -1;
    }
    struct proc_state *p = proc(m, h.pid);
    struct ns *n = namespace(m, h.pid, h.tid);
    if (!p || !n) {
        m->dropped++;
        return -1;
    }
    if (h.flags & AGENT_CHUNK_NEW_STREAM)
        on_new_stream(m, n, h.t_ns);
    /* Records are decoded LOOKAHEAD ahead of their use and the slot each
     * ALLOC or FREE will look up is prefetched as it is decoded: the table
     * of live blocks is far bigger than the caches, and one miss per event,
     * waited for in turn, was most of stetho's time in exact mode. */
    struct wire_record ring[LOOKAHEAD];
    size_t head = 0, queued = 0;
    m->nlocal = 0;
    int got = 1;
    for (;;) {
        if (got > 0 && queued < LOOKAHEAD) {
            struct wire_record *r = &ring[(head + queued) % LOOKAHEAD];
            if ((got = wire_next(&c, r)) > 0) {
                if (r->type == AGENT_REC_ALLOC)
                    bprefetch(m, h.pid, r->u.alloc.addr);
                else if (r->type == AGENT_REC_FREE)
                    bprefetch(m, h.pid, r->u.free.addr);
                queued++;
                continue;
            }
        }
        if (!queued)
            break;
        if (on_record(m, p, n, h.t_ns, &ring[head]) < 0) {
            got = -1;
            break;
        }
        head = (head + 1) % LOOKAHEAD;
        queued--;
    }
    publish(m);
    if (got < 0) {
        m->dropped++;
        return -1;
    }
    return 0;
}

static uint64_t rel(const struct memtrack *m, uint64_t now)
{
    return now > m->start_ns ? now - m->start_ns : 0;
}

/* What changed since the last tick: allocations per stack, the peak, and
 * what each stack holds now (MEM_LIVE, for `top`'s "held now"). */
static void write_changes(struct memtrack *m, uint64_t t)
{
    capw_hold(m->w);                    /* a record or three per stack: one lock */
    if (m->peak_changed) {
        struct cap_timeline_point p = { rel(m, m->peak_t), 0, m->peak_heap, m->peak_mapped,
                                        m->peak_mapped_res };
        capw_mem_peak(m->w, &p);
    }
    for (size_t i = 0; i < m->ntick; i++) {
        uint32_t id = m->tick_dirty[i];
        struct stack_metrics *s = &m->stacks[id];
        struct cap_mem_stack ms = { .pid = s->pid, .tid = s->tid, .stack = s->stack,
                                    .alloc_bytes = s->tick_bytes, .alloc_count = s->tick_count,
                                    .peak_bytes = s->peak, .peak_mapped_bytes = s->peak_mapped };
        if (s->tick_count)
            capw_mem_allocs(m->w, t, &ms);
        if (s->live != s->live_written) {
            ms.live_bytes = s->live;
            capw_mem_live(m->w, t, &ms);
            s->live_written = s->live;
        }
        if (s->peak_dirty &&
            (s->peak != s->peak_written || s->peak_mapped != s->peak_mapped_written)) {
            capw_mem_peak_stack(m->w, &ms);
            s->peak_written = s->peak;
            s->peak_mapped_written = s->peak_mapped;
        }
        if (!s->moved)
            list_push(&m->moved, &m->nmoved, &m->capmoved, &s->moved, id);
        s->tick_bytes = s->tick_count = 0;
        s->tick_dirty = s->peak_dirty = 0;
        if (s->live && !s->held && grow_array((void **)&m->held, &m->capheld, m->nheld + 1,
                                              sizeof *m->held) == 0) {
            s->held = 1;
            m->held[m->nheld++] = id;
        }
    }
    m->ntick = 0;
    m->peak_changed = 0;
    capw_release(m->w);
}

/* A stack's growth through bucket `at` - 1, if its process has not begun
 * to finalize: the buckets it was not visited at held its last value (its
 * live bytes had not changed).  p: its process, or NULL (looked up). */
static void growth_fill(struct memtrack *m, struct stack_metrics *s, uint32_t at,
                        struct proc_state **p)
{
    if (!*p || (*p)->pid != s->pid)
        *p = proc(m, s->pid);           /* a stack's process is there: found, not made */
    if (!s->growth || !*p || (*p)->finalized || s->growth_len >= at)
        return;
    assert(s->growth_len > 0 && at <= GROWTH_BUCKETS);
    uint64_t last = s->growth[s->growth_len - 1];
    while (s->growth_len < at)
        s->growth[s->growth_len++] = last;
}

/* Every stack that held memory at some tick, through bucket `at` - 1
 * (growth_fill), or those of one process only (pid; 0: all). */
static void growth_fill_held(struct memtrack *m, uint32_t at, int32_t pid)
{
    struct proc_state *p = NULL;
    for (size_t i = 0; i < m->nheld; i++) {
        struct stack_metrics *s = &m->stacks[m->held[i]];
        if (!pid || s->pid == pid)
            growth_fill(m, s, at, &p);
    }
}

/* The end of a growth bucket: every stack's live bytes, except those of
 * processes that began to finalize; then, when full, pairs merge.  Only
 * the stacks whose live bytes changed since the last bucket's end are
 * visited (write_changes() lists them: a stack's live bytes change only
 * with a mark, written at the next tick): the others still hold their last
 * value, filled in when they are next visited, before pairs merge, when
 * their process begins to finalize and at the end (growth_fill).  Visiting
 * every stack that ever held memory (~8 k on json_dumps, ~10 k on
 * deepstack, most of them the imports' and still) cost ~0.33 ms a bucket,
 * 14-27 ms of CPU a run: on nbody a tenth of stetho's (perf). */
static void growth_point(struct memtrack *m)
{
    uint32_t at = m->growth_n;
    struct proc_state *p = NULL;
    for (size_t i = 0; i < m->nmoved; i++) {
        struct stack_metrics *s = &m->stacks[m->moved[i]];
        s->moved = 0;
        if (!s->growth) {
            if (!s->live || !(s->growth = calloc(GROWTH_BUCKETS, sizeof *s->growth)))
                continue;
            s->growth_len = at;         /* held nothing at the buckets before */
        }
        growth_fill(m, s, at, &p);
        if (s->growth_len == at && p && !p->finalized)
            s->growth[s->growth_len++] = s->live;
    }
    m->nmoved = 0;
    if (++m->growth_n < GROWTH_BUCKETS)
        return;
    growth_fill_held(m, m->growth_n, 0);
    for (size_t i = 0; i < m->nheld; i++) {
        struct stack_metrics *s = &m->stacks[m->held[i]];
        if (!s->growth)
            continue;
        uint32_t half = (s->growth_len + 1) / 2;
        for (uint32_t j = 0; j < half; j++)
            s->growth[j] = s->growth[2 * j + 1 < s->growth_len ? 2 * j + 1 : s->growth_len - 1];
        s->growth_len = half;
    }
    m->growth_n /= 2;
    m->growth_ns *= 2;
}

void memtrack_tick(struct memtrack *m, uint64_t now)
{
    if (m->calls_only)
        return;
    measure_mappings(m, 0, now);
    publish(m);
    write_changes(m, rel(m, now));
    /* a tick late by several buckets gives them all the same values */
    while (rel(m, now) >= (uint64_t)(m->growth_n + 1) * m->growth_ns)
        growth_point(m);
    census_tick(m, now);
}

static void write_growth(struct memtrack *m)
{
    for (size_t id = 1; id < m->nstacks; id++) {
        const struct stack_metrics *s = &m->stacks[id];
        int held = 0;
        for (uint32_t i = 0; i < s->growth_len && !held; i++)
            held = s->growth[i] != 0;
        if (held)
            capw_mem_growth(m->w, &(struct cap_mem_growth){ s->pid, s->tid, s->stack,
                                                            s->growth_len, m->growth_ns,
                                                            s->growth });
    }
}

void memtrack_finish(struct memtrack *m, uint64_t now, uint64_t peak_rss, uint64_t peak_rss_t)
{
    capw_hold(m->w);                    /* a record or more per stack: one lock */
    for (size_t i = 0; i < m->ncalls; i++)
        capw_call(m->w, &m->calls[i]);
    if (m->calls_only) {
        capw_release(m->w);
        return;
    }
    uint64_t t = rel(m, now);
    if (m->heap > m->peak_heap)         /* still at its peak at the end */
        new_peak(m, now);
    if (m->peak_pending)
        snapshot_peak(m);
    /* processes that never finalized (killed, os._exit): what they held at
     * the end is all we can call leaked */
    for (size_t i = 0; i < m->capblocks; i++) {
        const struct block *b = &m->blocks[i];
        struct proc_state *p = b->addr ? proc(m, b->pid) : NULL;
        if (p && !p->finalized)
            leak(m, b);
    }
    write_changes(m, t);
    for (size_t i = 0; i < m->nprocs; i++)    /* never finalized: killed, os._exit */
        census_write(m->w, &m->procs[i].census);
    for (size_t id = 1; id < m->nstacks; id++) {
        const struct stack_metrics *s = &m->stacks[id];
        if (!s->alloc_count && !s->peak && !s->leaked && !s->peak_mapped && !s->leaked_mapped)
            continue;
        struct cap_mem_stack ms = { s->pid, s->tid, s->stack, s->alloc_bytes, s->alloc_count,
                                    s->peak, s->leaked, s->temporary, s->peak_mapped,
                                    s->leaked_mapped, s->live };
        capw_mem_stack(m->w, &ms);
    }
    growth_fill_held(m, m->growth_n, 0);
    write_growth(m);
    m->totals.peak_heap_bytes = m->peak_heap;
    m->totals.peak_heap_t_ns = rel(m, m->peak_t);
    m->totals.peak_mapped_bytes = m->peak_mapped;
    m->totals.peak_mapped_resident_bytes = m->peak_mapped_res;
    m->totals.peak_rss_bytes = peak_rss;
    m->totals.peak_rss_t_ns = peak_rss_t;
    capw_mem_totals(m->w, &m->totals);
    capw_release(m->w);
}
