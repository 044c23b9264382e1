/*
 * chunk.c -- per-thread state and its event buffer: one chunk of at most
 * AGENT_CHUNK_MAX bytes, sent to the FIFO with a single write(2) when it is
 * full, when it is 50 ms old (checked as events arrive: a thread that stops
 * allocating keeps its last chunk until it exits), at thread exit, when the
 * interpreter finalizes (every thread's, before FINALIZING) and at process
 * exit.
 *
 * A registry of every thread's state lets the exit flusher send what is
 * left; its lock is taken only when a thread starts or ends, at fork, when
 * the interpreter finalizes and at exit -- never per event.  There is no
 * helper thread: one would show up in the program (3.12 warns on fork()
 * with more than one OS thread).
 *
 * Nothing lost at the end: stetho counts nothing of a process once it has
 * read its FINALIZING record, so every thread's events must be in the FIFO
 * before it.  join() may return before the joined thread has sent its
 * last chunk (it waits for the thread's Python state to be released, and
 * the thread runs its key destructors, ours among them, after that), so
 * the thread that sends FINALIZING first sends every registered thread's
 * chunk (chunks_flush_all), and a thread that ends sends its chunk before
 * it leaves the registry: at every moment a thread's unsent events are in
 * the registry.
 */
#include "agent/agent.h"
#include "agent/local.h"
#include "agent/nursery.h"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct agent_thread *registry;
static size_t registered;               /* threads in the registry */
_Atomic uint64_t agent_solo;
static pthread_key_t thread_key;
static int have_key;
/* this thread holds registry_lock: the exit flusher, run from a signal
 * handler that interrupted it there, must not wait for it */
static AGENT_TLS int holding_registry;

AGENT_TLS struct agent_thread *agent_self;
static AGENT_TLS int self_gone;        /* this thread's state was torn down */

/* A new agent_solo (agent.h), never one it had before: its epoch (all
 * but the low bit) grows by one, and the low bit is `alone`. */
static void solo_change(int alone)
{
    uint64_t old = atomic_load(&agent_solo), new;
    do
        new = ((old | 1) + 1) | (uint64_t)alone;
    while (!atomic_compare_exchange_weak(&agent_solo, &old, new));
}

/* The registry changed (its lock held). */
static void solo_update(void)
{
    solo_change(registered == 1);
}

static pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static void registry_take(void)
{
    pthread_mutex_lock(&registry_lock);
    holding_registry = 1;
}

static void registry_give(void)
{
    holding_registry = 0;
    pthread_mutex_unlock(&registry_lock);
}

/* A chunk to stetho: into the ring if this process has one, else the FIFO. */
static void send_chunk(const void *buf, size_t len)
{
    if (ring_attached() ? ring_put(buf, len) < 0
                        : agent_fifo_write(&agent.fifo, buf, len) < 0)
        agent_turn_off();
}

void chunk_flush(struct agent_thread *th)
{
    nursery_settle(th);     /* what it holds is this chunk's (nursery.h) */
    if (th->len > sizeof(struct agent_chunk_header)) {
        wire_put_header(th->chunk, th->new_stream ? AGENT_CHUNK_NEW_STREAM : 0, th->len,
                        agent.pid, th->tid, th->t0);
        send_chunk(th->chunk, th->len);
        th->new_stream = 0;
    }
    chunk_drop(th);
}

/* A free made after this thread's state was torn down (a C++ thread_local
 * or another key's destructor running after ours): sent on its own, in a
 * chunk of one record, rather than lost -- a lost free is a block stetho
 * would believe live forever. */
void chunk_lone_free(int allocator, const void *p)
{
    if (!self_gone || atomic_load_explicit(&agent_state, memory_order_relaxed) != AGENT_ON)
        return;
    /* a free by a thread no longer in the registry: whoever records alone
     * must not match a free across it (local.h), nor stamp coarsely */
    solo_change(atomic_load(&agent_solo) & 1);
    uint8_t buf[sizeof(struct agent_chunk_header) + WIRE_FIXED_FREE];
    uint8_t *w = wire_put_free(buf + sizeof(struct agent_chunk_header),
                               &(struct wire_free){ .allocator = (uint64_t)allocator,
                                                    .addr = (uintptr_t)p });
    wire_put_header(buf, 0, (size_t)(w - buf), agent.pid, my_tid(), agent_now());
    send_chunk(buf, (size_t)(w - buf));
}

static void flush_if_due(struct agent_thread *th, size_t need, uint64_t ts)
{
    if (th->len && (th->len + need > AGENT_CHUNK_MAX ||
                    (ts > th->t0 && ts - th->t0 >= AGENT_FLUSH_AGE_NS)))
        chunk_flush(th);
}

/* No assert here, on every event's path: that a record fits a fresh chunk
 * is checked when compiling (wire.h, for the largest, FRAME). */
uint8_t *chunk_reserve_slow(struct agent_thread *th, size_t need, uint64_t ts)
{
    if (atomic_load_explicit(&agent_state, memory_order_relaxed) == AGENT_OFF) {
        flush_if_due(th, need, ts);
        return NULL;
    }
    uint8_t *w = chunk_room(th, need, ts);
    /* the flush may have found stetho gone (agent_turn_off) */
    return atomic_load_explicit(&agent_state, memory_order_relaxed) != AGENT_OFF ? w : NULL;
}

/* chunk_reserve's, whatever agent_state says: for what the nursery writes
 * at a chunk's end, which belongs to events already recorded -- a session
 * ends with agent_state OFF, then sends every thread's chunk
 * (chunks_end_session). */
uint8_t *chunk_room(struct agent_thread *th, size_t need, uint64_t ts)
{
    flush_if_due(th, need, ts);
    if (!th->len) {
        th->t0 = ts;
        th->flush_at = ts + AGENT_FLUSH_AGE_NS;
        th->len = sizeof(struct agent_chunk_header);
        th->chunk_gen++;            /* local.h: what was in the last one is gone */
        th->allocs = 0;
        th->last = (struct wire_last){ 0, 0 };
        if (agent.sampled && !th->announced) {
            uint8_t *w = wire_put_sampled(th->chunk + th->len,
                                          &(struct wire_sampled){ agent.mean });
            th->len = (size_t)(w - th->chunk);
            th->announced = 1;
        }
    }
    return th->chunk + th->len;
}

/* ---- per-thread state ---- */

/* thread_lock's slow path (agent.h): mark the lock waited for, sleep
 * while it stays so. */
void thread_lock_wait(struct agent_thread *th)
{
    while (atomic_exchange_explicit(&th->lock, 2, memory_order_acquire) != 0)
        syscall(SYS_futex, &th->lock, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

void thread_wake(struct agent_thread *th)
{
    syscall(SYS_futex, &th->lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* thread_lock, giving up at `deadline` (agent_clock_ns): 1 if taken.  A
 * waiter that gives up leaves the word at 2: the owner's release then
 * makes one needless wake, nothing worse. */
static int thread_lock_until(struct agent_thread *th, uint64_t deadline)
{
    if (thread_trylock(th))
        return 1;
    while (atomic_exchange_explicit(&th->lock, 2, memory_order_acquire) != 0) {
        uint64_t now = agent_clock_ns();
        if (now >= deadline)
            return 0;
        struct timespec left = { (time_t)((deadline - now) / 1000000000u),
                                 (long)((deadline - now) % 1000000000u) };
        syscall(SYS_futex, &th->lock, FUTEX_WAIT_PRIVATE, 2, &left, NULL, 0);
    }
    return 1;
}

/* The kernel's membarrier(2) for thread_enter's fast way (agent.h):
 * registered once per process (and again in a forked child, a new
 * address space).  1 if it works.  The registration waits for an RCU grace
 * period when other threads exist (a dlopen'ed agent's first recording):
 * a millisecond or so, once. */
static int asym_register(void)
{
    if (agent.asym_off)
        return 0;
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    return cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
           (cmds & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) &&
           syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

/* th, taken by anyone but its owner (who uses thread_enter), giving up at
 * `deadline` (agent_clock_ns; UINT64_MAX: never): 1 if taken.  The caller
 * holds the registry's lock. */
static int thread_take_until(struct agent_thread *th, uint64_t deadline)
{
    if (!thread_lock_until(th, deadline))
        return 0;
    if (!agent.asym)
        return 1;
    atomic_store(&th->claim, 1);
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0 &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) != 0)
        /* registered, so the first does not fail (a child made by a bare
         * clone(2), without our fork handler, might not be), and the
         * second needs no registration: a millisecond instead, a million
         * times what a store takes to leave a core's buffer */
        nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
    /* the owner is in one event at most (it sees claim for the next),
     * unless it waits in it for stetho (a full FIFO or ring): yield a few
     * times, then sleep, longer each time up to a millisecond */
    long nap = 20 * 1000;
    for (unsigned spins = 0; atomic_load_explicit(&th->busy, memory_order_acquire); spins++) {
        if (agent_clock_ns() >= deadline) {
            atomic_store(&th->claim, 0);
            thread_unlock(th);
            return 0;
        }
        if (spins < 16) {
            sched_yield();
        } else {
            nanosleep(&(struct timespec){ 0, nap }, NULL);
            nap = nap * 2 > 1000 * 1000 ? 1000 * 1000 : nap * 2;
        }
    }
    return 1;
}

static void thread_give(struct agent_thread *th)
{
    atomic_store_explicit(&th->claim, 0, memory_order_release);
    thread_unlock(th);
}

/* registry_take, giving up at `deadline` (agent_clock_ns): 1 if taken.
 * pthread_mutex_timedlock counts in CLOCK_REALTIME. */
static int registry_take_until(uint64_t deadline)
{
    uint64_t now = agent_clock_ns(), left = deadline > now ? deadline - now : 0;
    struct timespec at;
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += (time_t)(left / 1000000000u);
    at.tv_nsec += (long)(left % 1000000000u);
    if (at.tv_nsec >= 1000000000L) {
        at.tv_sec++;
        at.tv_nsec -= 1000000000L;
    }
    if (pthread_mutex_timedlock(&registry_lock, &at) != 0)
        return 0;
    holding_registry = 1;
    return 1;
}

static void thread_exit(void *arg)
{
    struct agent_thread *th = arg;
    int guard = guard_enter();
    /* sent before leaving the registry, not after: in between, neither
     * FINALIZING's flush nor the exit's would know of it (the head
     * comment); nothing is recorded into th after this, the guard is held */
    thread_enter(th);
    chunk_flush(th);
    thread_leave(th);
    registry_take();
    if (th->prev)
        th->prev->next = th->next;
    else
        registry = th->next;
    if (th->next)
        th->next->prev = th->prev;
    registered--;
    solo_update();
    registry_give();
    agent_self = NULL;
    self_gone = 1;
    stack_free(th->stack);
    native_free(th->native);
    local_free_table(th);
    nursery_free_table(th);
    evalhook_thread_free(th);
    agent_real.free(th);
    guard_leave(guard);
}

static struct agent_thread *thread_new(void)
{
    struct agent_thread *th = agent_real.calloc(1, sizeof *th);
    if (!th)
        return NULL;
    th->tid = my_tid();
    th->new_stream = 1;
    sample_thread_init(th);
    registry_take();
    th->next = registry;
    if (registry)
        registry->prev = th;
    registry = th;
    registered++;
    solo_update();
    registry_give();
    agent_self = th;
    if (have_key)
        pthread_setspecific(thread_key, th);
    return th;
}

struct agent_thread *thread_get(void)
{
    if (LIKELY(agent_self))
        return agent_self;
    if (self_gone)
        return NULL;    /* after our TLS destructor ran: the thread is ending */
    return thread_new();
}

void chunks_init(void)
{
    have_key = pthread_key_create(&thread_key, thread_exit) == 0;
    agent.asym = asym_register();
}

/* When the interpreter finalizes (record.c) and at exit, from any context
 * -- _exit may be called from a signal handler that interrupted this very
 * thread inside the agent, in its own event or holding the registry's
 * lock: those are never waited for.  Another thread's event is
 * (thread_take_until), or its write in progress (a thread killed by the process's exit half-way
 * through would lose its chunk), but FLUSH_WAIT_NS in all at most: a
 * buffer still held then is skipped (its events are lost, the program is
 * not stuck). */
#define FLUSH_WAIT_NS (500 * 1000000ull)

void chunks_flush_all(void)
{
    uint64_t deadline = agent_clock_ns() + FLUSH_WAIT_NS;
    if (holding_registry || !registry_take_until(deadline))
        return;
    for (struct agent_thread *th = registry; th; th = th->next) {
        /* ours: not if we interrupted our own event (a signal handler
         * calling exit); nobody else takes it, we hold the registry */
        int taken = th == agent_self
                        ? !atomic_load_explicit(&th->busy, memory_order_relaxed) &&
                              thread_trylock(th)
                        : thread_take_until(th, deadline);
        if (!taken)
            continue;
        chunk_flush(th);
        thread_give(th);
    }
    registry_give();
}

/* No lock of ours may be held across fork(): the registry's is taken here
 * so the child gets the list whole; a thread's own state is only held
 * (busy, or its word) while that thread is inside the agent, and fork() is
 * never called from there. */
void chunks_atfork_prepare(void)
{
    registry_take();
}

void chunks_atfork_parent(void)
{
    registry_give();
}

/* In the child only the forking thread exists.  The other threads' states
 * are left as they are (one may have been half-way through an update):
 * a small leak, in the child only.  keep: record on, as a new stream. */
void chunks_atfork_child(int keep)
{
    pthread_mutex_init(&registry_lock, NULL);
    /* a new address space; one thread, not in an event: safe to change */
    if (agent.asym)
        agent.asym = asym_register();
    holding_registry = 0;
    registry = agent_self;
    registered = agent_self != NULL;
    solo_update();
    if (!agent_self)
        return;
    agent_self->next = agent_self->prev = NULL;
    atomic_store(&agent_self->lock, 0);
    atomic_store(&agent_self->busy, 0);
    atomic_store(&agent_self->claim, 0);
    agent_self->held_word = 0;
    chunk_drop(agent_self);         /* the parent's events: the parent sends them */
    nursery_drop(agent_self);
    if (!keep)
        return;
    agent_self->tid = my_tid();
    agent_self->new_stream = 1;
    agent_self->announced = 0;
    sample_thread_init(agent_self);
    if (agent_self->stack)
        stack_reset(agent_self->stack);
    if (agent_self->native)
        native_reset(agent_self->native);
}

/* A new in-process recording: the reader is a new stetho that knows none of
 * the ids this thread defined before, and what sampled blocks it had. */
void chunks_new_session(void)
{
    registry_take();
    for (struct agent_thread *th = registry; th; th = th->next) {
        thread_take_until(th, UINT64_MAX);
        chunk_drop(th);
        nursery_drop(th);
        th->new_stream = 1;
        th->announced = 0;
        sample_thread_init(th);
        if (th->stack)
            stack_reset(th->stack);
        if (th->native)
            native_reset(th->native);
        thread_give(th);
    }
    registry_give();
}

/* The end of an in-process recording, with agent_state already OFF: a
 * thread that entered its event before that finishes it (we wait for it),
 * one that enters after finds nothing more to write. */
void chunks_end_session(void)
{
    registry_take();
    for (struct agent_thread *th = registry; th; th = th->next) {
        thread_take_until(th, UINT64_MAX);
        chunk_flush(th);
        thread_give(th);
    }
    registry_give();
}
