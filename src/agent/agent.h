/*
 * agent.h -- what the parts of libstetho_agent.so share: the process-wide
 * state, the per-thread state, and the calls between interpose.c (the
 * exported malloc & co), pyhooks.c (Python's allocator domains), record.c
 * (turning an allocation into records), mappings.c (the live anonymous
 * mappings, measured as they go), chunk.c (per-thread buffers and
 * the FIFO), local.h (frees matched within a chunk, exact mode), nursery.h
 * and nursery.c (young small blocks summed, exact mode), stack.c
 * (Python stacks), evalhook.c (where a stack's walk may stop, exact mode),
 * native.c (native stacks, --native), sample.c (sampled mode), and, for an
 * agent dlopen'ed into a running interpreter, inside.c (start and stop a
 * recording: inside.h) and got.c (the hooks put into every object's GOT).
 *
 * Contract: all of it is hidden inside the library, which exports only the
 * functions of AGENT_HOOK_LIST (and mmap64).  Reentrancy: every path into
 * the agent enters the thread-local guard first (guard_enter); while it is
 * held, every hook only forwards.  So the agent's own allocations, the
 * allocations made inside a wrapped Python allocator, and a signal
 * handler's malloc interrupting the agent are never recorded, and no lock
 * of ours is ever taken twice by one thread.
 */
#ifndef STETHO_AGENT_AGENT_H
#define STETHO_AGENT_AGENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/protocol.h"
#include "wire/wire.h"
#include "cpython/target.h"

#define AGENT_HIDDEN __attribute__((visibility("hidden")))
#define AGENT_EXPORT __attribute__((visibility("default")))
#define AGENT_TLS __thread __attribute__((tls_model("initial-exec")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

enum agent_state {
    AGENT_OFF = 0,          /* forward only: not Python, no FIFO, turned off */
    AGENT_WAIT_PY,          /* waiting for the interpreter to be initialized */
    AGENT_ON,               /* recording */
    AGENT_CLOSED,           /* the process is exiting: buffers were flushed */
};

/* A FIFO to stetho, write end (fifo.c); AGENT_FIFO_NONE: not open. */
#define AGENT_FIFO_NONE 0xffffffffull
struct agent_fifo {
    _Atomic uint64_t state;     /* the descriptor and a generation (fifo.c) */
    dev_t dev;                  /* to notice the program closing our fd */
    ino_t ino;
    char path[128];             /* to open it again then; "" if too long */
};

/* Process-wide state, set up by the constructor (agent.c). */
struct agent {
    struct agent_fifo fifo;     /* the memory stream's (fifo.c) */
    int sampled;                /* 0: exact mode */
    uint64_t mean;              /* sampled: mean bytes between samples */
    int native;                 /* --native: each recorded block's native stack */
    int nursery;                /* young small blocks summed (nursery.h): exact, not native */
    int asym;                   /* membarrier(2) works: thread_enter's fast way */
    int asym_off;               /* AGENT_ENV_NO_MEMBARRIER: not tried */
    int follow;                 /* STETHO_AGENT_FOLLOW=1 */
    pid_t pid;

    /* Python (pyhooks.c) */
    struct py_target target;    /* template: each thread copies it */
    uint64_t runtime;           /* &_PyRuntime */
    uint64_t finalizing_at;     /* &_PyRuntime._finalizing, 0 if unknown */
    uint64_t main_interp;       /* interpreters.head when hooks went in */
    int python;                 /* the symbols were found and a layout fits */
    int safe_reads;             /* process_vm_readv on ourselves works */

    /* stetho's clock in the ring (protocol.h): set only where the ring is
     * never unmapped (the preloaded agent's); NULL: none (record.c) */
    const _Atomic uint64_t *clock;
};

extern struct agent agent AGENT_HIDDEN;
extern _Atomic int agent_state AGENT_HIDDEN;
extern _Atomic int agent_finalizing AGENT_HIDDEN;      /* FINALIZING was sent */
extern _Atomic uint64_t agent_code_epoch AGENT_HIDDEN; /* a code object was freed */
extern _Atomic uint64_t agent_tstate_epoch AGENT_HIDDEN; /* a thread state was freed */
/* Interpreters besides the main one where a thread of ours ran (stack.c
 * fills it, 0: a free slot; agent_sub_interps_any once one was): a thread
 * state of theirs, or one of them, freed bumps the epoch too (pyhooks.c) */
#define AGENT_SUB_INTERPS 32
extern _Atomic uint64_t agent_sub_interps[AGENT_SUB_INTERPS] AGENT_HIDDEN;
extern _Atomic int agent_sub_interps_any AGENT_HIDDEN;
/* Bumped by 2 whenever a thread starts or stops recording (the registry,
 * chunk.c); its low bit is set while exactly one thread records. */
extern _Atomic uint64_t agent_solo AGENT_HIDDEN;
extern AGENT_TLS int agent_guard AGENT_HIDDEN;    /* use guard_enter/leave */

/* The reentrancy guard, scoped: `int saved = guard_enter(); ...
 * guard_leave(saved);` around every stretch of the agent's own work.  It
 * restores what it found, so a stretch entered with the guard already set
 * (the constructor's, a signal handler's inside the agent) leaves it set. */
static inline int guard_enter(void)
{
    int saved = agent_guard;
    agent_guard = 1;
    return saved;
}

static inline void guard_leave(int saved)
{
    agent_guard = saved;
}

static inline int guard_held(void)
{
    return agent_guard;
}

struct stack_state;
struct native_state;
struct local_slot;
struct nursery;

/* The thread's frame evaluations in progress, pushed and popped by the
 * frame-evaluation hook (evalhook.c), innermost last.  An entry exists
 * only while its evaluation runs: the hook pops to its own index when it
 * returns, so an entry still there is still running, and the frames below
 * its frame cannot have moved since (their evaluations wait for it).
 * stack.c stamps an entry when a walk found its frame: `level` frames
 * below it, valid while gen equals the shadow's gen (stack.c bumps it
 * whenever its last walk is redone or dropped). */
struct shadow_entry {
    uint64_t frame;             /* the frame the evaluation runs */
    uint32_t level;             /* stack.c: levels of the last walk below it */
    uint32_t gen;               /* stack.c: 0, or the gen it was stamped in */
};
_Static_assert(sizeof(struct shadow_entry) == 16, "four entries per cache line");

struct agent_shadow {
    struct shadow_entry *entries;
    uint32_t depth, cap;
    uint32_t gen;               /* never 0 once entries exist */
    uint32_t deep_at;           /* depth where the hook steps aside (3.11+) */
    int aside;                  /* this thread made the hook step aside */
    uintptr_t stack_low;        /* the thread's stack ends here (0: unknown) */
    /* what the hook costs and saves, weighed every EVAL_WINDOW pushes */
    uint32_t window;            /* pushes left to the next weighing */
    uint32_t epoch;             /* evalhook.c's, when this window began */
    uint32_t bad;               /* windows in a row where it cost more */
    uint32_t trial;             /* the first window since a trial began */
    uint64_t levels, walked;    /* stack.c: levels of the stacks taken, frames walked */
};

/* One per thread that has recorded something; owned by that thread.  The
 * lock guards the chunk against the exit flusher; the owner holds it per
 * event, nobody else takes it on the hot path (thread_enter below). */
struct agent_thread {
    struct agent_thread *next, *prev;       /* registry (chunk.c) */
    _Atomic int lock;           /* 0 free, 1 held, 2 held and waited for */
    _Atomic int busy;           /* the owner is in an event (thread_enter) */
    _Atomic int claim;          /* a taker wants the state (thread_take_until) */
    int held_word;              /* the owner took the lock word itself */
    pid_t tid;
    int new_stream;             /* the next chunk starts this (pid, tid)'s
                                   id space afresh */
    int announced;              /* SAMPLED was sent in this stream */
    uint64_t t0;                /* the chunk's t_ns; 0: no chunk started */
    uint64_t flush_at;          /* t0 + AGENT_FLUSH_AGE_NS; 0 while len is 0 (chunk_drop) */
    size_t len;                 /* bytes used in chunk, header included */
    uint64_t chunk_gen;         /* bumped at each chunk started (local.h) */
    uint32_t allocs;            /* allocation records in the chunk */
    struct wire_last last;      /* the chunk's last D fields (wire.h) */
    uint8_t chunk[AGENT_CHUNK_MAX];

    struct local_slot *local;   /* exact mode: local.h; NULL until used */
    struct nursery *nursery;    /* exact mode: nursery.h; NULL until used */
    uint64_t last_alloc;        /* the address last allocated (wire.h's temporary) */
    uint64_t solo_seen;         /* agent_solo as local.h last saw it */
    uint64_t clock_solo;        /* agent_solo at the last precise stamp */
    uint64_t clock_last;        /* the last stamp record_time() gave */
    uint32_t clock_skip;        /* stamps left from stetho's clock before the kernel's */

    int64_t countdown;          /* sampled: bytes to the next sample */
    uint64_t rng;

    struct agent_shadow shadow; /* exact mode: evalhook.c */
    struct stack_state *stack;  /* NULL until a Python stack is wanted */
    struct native_state *native;    /* NULL until a native stack is wanted */
};

/* ---- interpose.c ---- */

/* Every libc function the agent defines in the program's place, once:
 * X(name, return type, parameter types).  It makes the table of the real
 * functions (agent_real.<name>, found with dlsym(RTLD_NEXT)) and the table
 * agent_hooks[] of {name, where its real function goes, our wrapper}, which
 * the resolver walks, and which anything that redirects calls to the
 * wrappers without LD_PRELOAD (patching a GOT) walks the same way.  calloc
 * first: dlsym's own first allocation is usually a calloc, which the
 * bootstrap arena serves until it is known. */
#define AGENT_HOOK_LIST(X)                                                   \
    X(calloc, void *, (size_t, size_t))                                      \
    X(malloc, void *, (size_t))                                              \
    X(free, void, (void *))                                                  \
    X(realloc, void *, (void *, size_t))                                     \
    X(reallocarray, void *, (void *, size_t, size_t))                        \
    X(posix_memalign, int, (void **, size_t, size_t))                        \
    X(aligned_alloc, void *, (size_t, size_t))                               \
    X(memalign, void *, (size_t, size_t))                                    \
    X(valloc, void *, (size_t))                                              \
    X(pvalloc, void *, (size_t))                                             \
    X(mmap, void *, (void *, size_t, int, int, int, off_t))                  \
    X(munmap, int, (void *, size_t))                                         \
    X(mremap, void *, (void *, size_t, size_t, int, ...))                    \
    X(execve, int, (const char *, char *const[], char *const[]))             \
    X(execvpe, int, (const char *, char *const[], char *const[]))            \
    X(execv, int, (const char *, char *const[]))                             \
    X(execvp, int, (const char *, char *const[]))                            \
    X(fexecve, int, (int, char *const[], char *const[]))                     \
    X(_exit, void, (int))                                                    \
    X(_Exit, void, (int))

#define AGENT_REAL_SLOT_(name, ret, params) ret (*name) params;
struct agent_real {
    AGENT_HOOK_LIST(AGENT_REAL_SLOT_)
};
#undef AGENT_REAL_SLOT_
extern struct agent_real agent_real AGENT_HIDDEN;

struct agent_hook {
    const char *name;           /* the symbol */
    void **real;                /* &agent_real.<name> */
    void *wrapper;              /* the agent's definition */
};
#define AGENT_HOOK_COUNT_(...) +1
enum { AGENT_HOOKS = 0 AGENT_HOOK_LIST(AGENT_HOOK_COUNT_) };
#undef AGENT_HOOK_COUNT_
extern const struct agent_hook agent_hooks[AGENT_HOOKS] AGENT_HIDDEN;
void agent_resolve(void) AGENT_HIDDEN;

/* ---- agent.c ---- */
int agent_try_start(void) AGENT_HIDDEN;         /* WAIT_PY -> ON if Python is up */
uint64_t agent_now(void) AGENT_HIDDEN;          /* CLOCK_MONOTONIC, ns */
uint64_t agent_now_coarse(void) AGENT_HIDDEN;   /* the same, at the last tick */
/* A cheaper clock for spans that are many and short (calls.c): TSC ticks
 * where the TSC is trusted (agent_tsc_usable, set before any thread
 * starts), else ns; agent_tick_scale() is ns per tick, 32.32 fixed point,
 * measured since the agent loaded.  Inline: it is read at every counted
 * call and return. */
extern int agent_tsc_usable AGENT_HIDDEN;
uint64_t agent_clock_ns(void) AGENT_HIDDEN;             /* CLOCK_MONOTONIC */
static inline uint64_t agent_ticks(void)
{
#if defined(__x86_64__)
    if (LIKELY(agent_tsc_usable))
        return __builtin_ia32_rdtsc();
#endif
    return agent_clock_ns();
}
uint64_t agent_tick_scale(void) AGENT_HIDDEN;
void agent_turn_off(void) AGENT_HIDDEN;         /* the FIFO broke: forward only */
void agent_flush_at_exit(void) AGENT_HIDDEN;    /* send everything, stop */
/* The FIFO to stetho (protocol.h), opened for writing high among the
 * descriptors and deep (fifo.c); agent_fifo_open: 0, or -1 if it cannot be
 * (nobody reads it).  Every use checks that the descriptor is still ours
 * (a program may close it and open a file of its own under its number)
 * and opens the FIFO again if the program closed it: agent_fifo_fd() is
 * our descriptor, -1 when there is none (never opened, closed, or stetho
 * gone); agent_fifo_write() sends one whole chunk, 0 or -1 (stetho went
 * away -- without SIGPIPE: stop sending); agent_fifo_reads() is 1 while
 * stetho reads it (the ring's sign of life); agent_fifo_close() closes
 * ours, never a number the program took. */
int agent_fifo_open(struct agent_fifo *f, const char *path) AGENT_HIDDEN;
int agent_fifo_fd(struct agent_fifo *f) AGENT_HIDDEN;
int agent_fifo_write(struct agent_fifo *f, const void *buf, size_t len) AGENT_HIDDEN;
int agent_fifo_reads(struct agent_fifo *f) AGENT_HIDDEN;
void agent_fifo_close(struct agent_fifo *f) AGENT_HIDDEN;
void agent_flush_before_exec(void) AGENT_HIDDEN;
/* Open the FIFO, set the mode ("exact", "sampled:<mean>"), find Python: -1
 * if any fails.  The first call also sets up what lives as long as the
 * process (thread registry, fork handlers). */
int agent_setup(const char *fifo_path, const char *mode) AGENT_HIDDEN;

/* Should this call be recorded?  The hot-path test of every hook. */
static inline int agent_should_record(void)
{
    int st = atomic_load_explicit(&agent_state, memory_order_relaxed);
    /* once the interpreter finalizes, stetho keeps nothing of this process:
     * native events then are only cost */
    if (LIKELY(st == AGENT_ON))
        return !guard_held() && !atomic_load_explicit(&agent_finalizing, memory_order_relaxed);
    if (st == AGENT_WAIT_PY && !guard_held())
        return agent_try_start();
    return 0;
}

/* ---- pyhooks.c ---- */
int pyhooks_init(void) AGENT_HIDDEN;            /* constructor: find Python */
int pyhooks_ready(void) AGENT_HIDDEN;           /* initialized, on its main thread */
void pyhooks_install(void) AGENT_HIDDEN;
void pyhooks_uninstall(void) AGENT_HIDDEN;     /* the allocators it replaced */

/* ---- evalhook.c: a PEP 523 frame-evaluation hook keeping each thread's
 * shadow (exact mode); install with the GIL held ---- */
void evalhook_install(void) AGENT_HIDDEN;
void evalhook_uninstall(void) AGENT_HIDDEN;
void evalhook_thread_free(struct agent_thread *th) AGENT_HIDDEN;
/* fork: only the calling thread goes on; keep: it records */
void evalhook_atfork_child(int keep) AGENT_HIDDEN;
/* The hook is paused (it cost more than it saved), or the hook's state
 * changed where it could not be put in or out (no GIL: a thread's exit, a
 * forked child): stack.c then calls evalhook_capture() at each stack
 * taken, which counts them towards a new trial and asks a pending call
 * for what is owed. */
extern _Atomic int agent_eval_paused AGENT_HIDDEN;
extern _Atomic int agent_eval_owed AGENT_HIDDEN;
void evalhook_capture(void) AGENT_HIDDEN;

/* ---- record.c (caller holds the guard) ---- */
uint64_t record_time(struct agent_thread *th) AGENT_HIDDEN; /* an event's stamp (th: thread_get()) */
uint64_t record_time_precise(struct agent_thread *th) AGENT_HIDDEN; /* agent_now(), kept */
void record_alloc(int allocator, const void *p, size_t size) AGENT_HIDDEN;
void record_free(int allocator, const void *p) AGENT_HIDDEN;
int record_realloc_claim(const void *old);
void record_realloc_failed(const void *old, int claim);
void record_realloc(int allocator, const void *old, const void *p, size_t size,
                    uint64_t t_before, int claim);
void record_finalizing(void) AGENT_HIDDEN;
/* A RESIDENT record of the mapping recorded at p (mappings.c). */
void record_resident(const void *p, uint64_t bytes) AGENT_HIDDEN;

/* ---- mappings.c: the anonymous mappings recorded and live, measured
 * with mincore() as they go (caller holds the guard) ---- */
/* The table's lock: the mmap/munmap/mremap wrappers hold it across the real
 * call and the calls below, but mappings_send_all() and _reset(). */
void mappings_lock(void) AGENT_HIDDEN;
void mappings_unlock(void) AGENT_HIDDEN;
/* p was recorded as a mapping of len bytes, at least
 * WIRE_MAPPING_MEASURED_MIN (record_alloc, record_realloc; a smaller one
 * counts whole and is never in the table);
 * _measured: and its resident part is sent at once (mremap's pages). */
void mappings_add(const void *p, size_t len) AGENT_HIDDEN;
void mappings_add_measured(const void *p, size_t len) AGENT_HIDDEN;
/* [addr, addr + len) is about to be unmapped or replaced: every recorded
 * mapping overlapping it is measured and sent (interpose.c's unmapping()
 * then sends the FREE of addr: stetho takes it as the whole mapping
 * there, and drops it if none was). */
void mappings_before_unmap(const void *addr, size_t len) AGENT_HIDDEN;
/* ... and now it was: the one at addr, and those wholly inside, are
 * forgotten; the others it cut are measured again. */
void mappings_after_unmap(const void *addr, size_t len) AGENT_HIDDEN;
/* Every live one measured and sent in this thread's stream (finalizing,
 * exit, exec); wait 0: not if another thread holds the lock (exit may be
 * called from a signal handler). */
void mappings_send_all(int wait) AGENT_HIDDEN;
/* Forget them all: a forked child (forked 1), a new in-process recording. */
void mappings_reset(int forked) AGENT_HIDDEN;

/* ---- chunk.c ---- */
/* This thread's state, NULL until its first recorded event and after its
 * TLS destructor ran; read directly only by fast.h (thread_get makes it). */
extern AGENT_TLS struct agent_thread *agent_self AGENT_HIDDEN;
struct agent_thread *thread_get(void) AGENT_HIDDEN;    /* NULL: cannot record */
void chunk_lone_free(int allocator, const void *p) AGENT_HIDDEN;

/* th's lock.  The owner holds it around every event; the others who take
 * it -- the flusher at finalization and exit (its own thread's: try only;
 * another's: a bounded wait), a session's start and end -- are rare, but
 * one of them may hold it across a write(2) into a full FIFO, so a waiter
 * sleeps instead of spinning.
 *
 * The word is the futex mutex of Drepper's "Futexes Are Tricky" (mutex 2;
 * glibc's lll_lock is the same): 0 free, 1 held, 2 held and maybe waited
 * for.  Taking it is one compare-and-swap 0 -> 1; a waiter sets 2 before
 * it sleeps (the futex sleeps only while the word is still 2, so a release
 * in between is not missed); releasing is one exchange with 0, and only
 * the one that finds 2 wakes a waiter, who takes the lock as 2 again.
 *
 * The owner, where the kernel has membarrier(2) (agent.asym), does not
 * touch the word on its way in: those two locked instructions an event
 * (the compare-and-swap and the exchange), each waiting for every store
 * before it to drain, were ~3 % of exact mode's program CPU on json_dumps
 * and go (3.11, 7 interleaved runs: 2.07 -> 2.01 s and 1.71 -> 1.65 s).
 * It is Dekker's handshake with the heavy half moved to the rare side
 * (liburcu's and folly's asymmetric fence): the owner stores busy = 1 and
 * then reads claim, with only a compiler barrier between; a taker takes
 * the word, stores claim = 1, calls membarrier(PRIVATE_EXPEDITED) -- which
 * returns only once every running thread of the process executed a full
 * barrier -- and then waits for busy == 0.  Either the owner's barrier
 * came before its store of busy, and its read sees claim (it then gives
 * busy back and takes the word, which the taker holds), or the store was
 * seen by the taker, which waits for it.  The owner gives busy back with a
 * release store: what it wrote is seen by the taker that reads busy 0
 * with acquire.  Where membarrier is missing (an old kernel, a sandbox),
 * the owner takes the word too, as everybody else does.
 *
 * Owner (the thread th belongs to, not inside the agent already: the
 * guard): thread_enter / thread_leave.  Others: thread_take_until /
 * thread_give (chunk.c), holding the registry's lock, which keeps two of
 * them apart. */
void thread_lock_wait(struct agent_thread *th) AGENT_HIDDEN;
void thread_wake(struct agent_thread *th) AGENT_HIDDEN;

static inline void thread_lock(struct agent_thread *th)
{
    int expected = 0;
    if (UNLIKELY(!atomic_compare_exchange_strong_explicit(&th->lock, &expected, 1,
                                                          memory_order_acquire,
                                                          memory_order_relaxed)))
        thread_lock_wait(th);
}

static inline int thread_trylock(struct agent_thread *th)
{
    int expected = 0;
    return atomic_compare_exchange_strong_explicit(&th->lock, &expected, 1,
                                                   memory_order_acquire, memory_order_relaxed);
}

static inline void thread_unlock(struct agent_thread *th)
{
    if (UNLIKELY(atomic_exchange_explicit(&th->lock, 0, memory_order_release) == 2))
        thread_wake(th);
}

static inline void thread_enter(struct agent_thread *th)
{
    if (LIKELY(agent.asym)) {
        atomic_store_explicit(&th->busy, 1, memory_order_relaxed);
        atomic_signal_fence(memory_order_seq_cst);  /* the taker's membarrier is the rest */
        if (LIKELY(!atomic_load_explicit(&th->claim, memory_order_acquire)))
            return;
        /* a taker wants it: let it go first, wait on the word */
        atomic_store_explicit(&th->busy, 0, memory_order_release);
    }
    thread_lock(th);
    th->held_word = 1;
}

/* By the way thread_enter went (held_word), not by agent.asym again. */
static inline void thread_leave(struct agent_thread *th)
{
    if (LIKELY(!th->held_word)) {
        atomic_store_explicit(&th->busy, 0, memory_order_release);
        return;
    }
    th->held_word = 0;
    thread_unlock(th);
}

/* Room for `need` more bytes in th's chunk (flushing it first if it is full
 * or old); returns where to write, or NULL if recording stopped.  Inline:
 * the common case (a chunk started, room left, young, recording on) is a
 * few compares on every event's path; chunk_reserve_slow does the rest. */
#define AGENT_FLUSH_AGE_NS (50 * 1000000ull)
uint8_t *chunk_reserve_slow(struct agent_thread *th, size_t need, uint64_t ts) AGENT_HIDDEN;
uint8_t *chunk_room(struct agent_thread *th, size_t need, uint64_t ts) AGENT_HIDDEN;

static inline uint8_t *chunk_reserve(struct agent_thread *th, size_t need, uint64_t ts)
{
    /* flush_at is 0 while no chunk is started (len 0): one compare for
     * both, and one for the age (a stamp before t0 is young) */
    if (LIKELY(ts < th->flush_at && th->len + need <= AGENT_CHUNK_MAX &&
               atomic_load_explicit(&agent_state, memory_order_relaxed) != AGENT_OFF))
        return th->chunk + th->len;
    return chunk_reserve_slow(th, need, ts);
}

static inline void chunk_commit(struct agent_thread *th, uint8_t *end)
{
    th->len = (size_t)(end - th->chunk);
}

/* No chunk started: the next reserve starts one (its slow path). */
static inline void chunk_drop(struct agent_thread *th)
{
    th->len = 0;
    th->flush_at = 0;
}
void chunk_flush(struct agent_thread *th) AGENT_HIDDEN;    /* caller holds th (thread_enter/take) */
void chunks_init(void) AGENT_HIDDEN;
void chunks_flush_all(void) AGENT_HIDDEN;
void chunks_atfork_prepare(void) AGENT_HIDDEN;
void chunks_atfork_parent(void) AGENT_HIDDEN;
void chunks_atfork_child(int keep) AGENT_HIDDEN;
/* In-process recording (inside.c): every known thread starts a new stream;
 * at the end, wait for each thread's event in progress and send its chunk. */
void chunks_new_session(void) AGENT_HIDDEN;
void chunks_end_session(void) AGENT_HIDDEN;
/* ---- inside.c: the FIFO broke while recording from stetho_agent_start:
 * queue our own stop (any thread, inside a hook) ---- */
void inside_fifo_lost(void) AGENT_HIDDEN;

/* ---- ring.c (protocol.h's ring; exact mode) ---- */
/* Map the ring at path: 0, or -1 (the chunks keep to the FIFO). */
int ring_attach(const char *path) AGENT_HIDDEN;
int ring_attached(void) AGENT_HIDDEN;
const _Atomic uint64_t *ring_clock(void) AGENT_HIDDEN;
/* Unmap it once no thread is inside ring_put; the chunks go to the FIFO
 * again (inside.c, at a recording's stop). */
void ring_detach(void) AGENT_HIDDEN;
/* One whole chunk into the next slot, waiting while the ring is full;
 * -1: stetho is gone (or the ring is broken), nothing was sent. */
int ring_put(const void *buf, size_t len) AGENT_HIDDEN;

/* ---- local.h: frees matched in the chunk (exact mode; record.c's and chunk.c's) ---- */

/* ---- stack.c (caller holds th: thread_enter) ---- */
/* The id of the calling thread's Python stack, 0 if none.  gil: the event
 * is an allocation in a Python domain (PyMem, PyObject), whose caller holds
 * the GIL -- so the thread state it runs in can be told (sub-interpreters). */
uint32_t stack_capture(struct agent_thread *th, uint64_t ts, int gil) AGENT_HIDDEN;
void stack_free(struct stack_state *s) AGENT_HIDDEN;
void stack_reset(struct stack_state *s) AGENT_HIDDEN;  /* new stream: ids from 1 */

/* ---- native.c ---- */
/* Load libunwind and warm it up, read the modules; -1 if it cannot be. */
int native_init(void) AGENT_HIDDEN;
/* The calling thread's native stack above the agent, as a NATIVE id of its
 * stream (defining new ones and their modules on the way); 0 if none.
 * Caller holds th (thread_enter) and the guard. */
uint32_t native_capture(struct agent_thread *th, uint64_t ts) AGENT_HIDDEN;
void native_free(struct native_state *s) AGENT_HIDDEN;
void native_reset(struct native_state *s) AGENT_HIDDEN;    /* new stream */
void native_atfork_child(void) AGENT_HIDDEN;

/* ---- sample.c ---- */
void sample_init(void) AGENT_HIDDEN;
void sample_thread_init(struct agent_thread *th) AGENT_HIDDEN;
int sample_take(struct agent_thread *th, size_t size) AGENT_HIDDEN;   /* 1: record it */
void sample_add(const void *p) AGENT_HIDDEN;
int sample_remove(const void *p) AGENT_HIDDEN;     /* 1: it was sampled */
void sample_atfork_child(void) AGENT_HIDDEN;

#endif
