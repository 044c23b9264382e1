/*
 * ring.c -- the agent's end of the ring (agent/protocol.h, struct
 * agent_ring): exact mode sends its memory chunks into slots of a file
 * stetho maps too, instead of write(2)s into the FIFO.
 *
 * The preloaded agent (`stetho run`) maps it once, in its constructor, and
 * never unmaps it: a thread may be copying into it until the process's
 * last instant (the exit flush), and forked children share it.  An agent
 * dlopen'ed into a running interpreter (the Python API) maps the ring of
 * each recording at its start and unmaps it at its stop (ring_detach),
 * once no thread is inside ring_put: every put counts itself in `users`
 * before it looks at `ring`, and the detach takes `ring` away before it
 * waits for `users` to fall to 0 (both sequentially consistent, so a put
 * that found the ring is waited for).
 *
 * A full ring means stetho is behind: the thread waits, as it would in a
 * write(2) into a full pipe (exact mode drops nothing), yielding, then
 * sleeping in steps, and checking every ~100 ms that stetho still reads
 * the FIFO; if not, the chunk is not sent and the caller stops recording.
 * Puts look too, once per ~100 ms of chunks (stetho_gone).
 * One wait is bounded: a put made while this thread is inside another (an
 * exit flush from a signal handler that interrupted a put): the slot the
 * outer put claimed and has not filled stops stetho, so a full ring would
 * never free a slot for the inner one.  It gives up after NESTED_WAITS
 * (~0.5 s, the exit flush's own bound) and the chunk is lost.
 */
#include "agent/agent.h"

#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CLAIM_TRIES (1u << 20)      /* a ring that never lets us claim: broken */
#define WAIT_STEP_NS 50000L         /* a full ring: sleeps of 50 us */
#define ALIVE_EVERY 2000u           /* ~100 ms of them between two looks at stetho */
#define NESTED_WAITS (4 * ALIVE_EVERY)
#define ALIVE_NS 100000000ull       /* stetho looked for every 100 ms of chunks */

static AGENT_TLS int in_put;        /* this thread is inside ring_put */

static struct agent_ring *_Atomic ring;    /* NULL: chunks go to the FIFO */
static _Atomic unsigned users;              /* threads inside ring_put */
static _Atomic uint64_t alive_at;           /* chunk time of the last look at stetho */

int ring_attach(const char *path)
{
    if (atomic_load(&ring) || !path || !*path)
        return atomic_load(&ring) ? 0 : -1;
    /* /proc/PID/fd/N, stetho's memfd, is a link to follow; a file in a
     * shared directory (/dev/shm) is not */
    int follow = strncmp(path, "/proc/", 6) == 0;
    int fd = open(path, O_RDWR | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if (fd < 0)
        return -1;
    struct stat st;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        (uint64_t)st.st_size == AGENT_RING_BYTES)
        m = agent_real.mmap(NULL, AGENT_RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return -1;
    struct agent_ring *r = m;
    if (r->magic != AGENT_RING_MAGIC || r->slots != AGENT_RING_SLOTS ||
        r->slot_size != AGENT_RING_SLOT) {
        agent_real.munmap(m, AGENT_RING_BYTES);
        return -1;
    }
    atomic_store(&ring, r);
    return 0;
}

int ring_attached(void)
{
    return atomic_load_explicit(&ring, memory_order_relaxed) != NULL;
}

/* The clock stetho keeps in the attached ring (NULL if none). */
const _Atomic uint64_t *ring_clock(void)
{
    struct agent_ring *r = atomic_load(&ring);
    return r ? &r->clock_ns : NULL;
}

static void nap(void)
{
    struct timespec ts = { 0, WAIT_STEP_NS };
    nanosleep(&ts, NULL);
}

void ring_detach(void)
{
    struct agent_ring *r = atomic_exchange(&ring, NULL);
    if (!r)
        return;
    while (atomic_load(&users))
        nap();
    agent_real.munmap(r, AGENT_RING_BYTES);
}

static int put(struct agent_ring *r, const void *buf, size_t len, int nested)
{
    uint64_t pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
    unsigned waits = 0;
    for (unsigned tries = 0;; tries++) {
        if (tries == CLAIM_TRIES)
            return -1;
        uint64_t seq = atomic_load_explicit(&r->seq[pos & (AGENT_RING_SLOTS - 1)],
                                            memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&r->enq, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
            continue;               /* another took it: pos is the new enq */
        }
        if (dif < 0) {
            /* the slot still holds the chunk of SLOTS positions back */
            if ((++waits % ALIVE_EVERY == 0 && !agent_fifo_reads(&agent.fifo)) ||
                (nested && waits >= NESTED_WAITS))
                return -1;
            if (waits < 16)
                sched_yield();
            else
                nap();
            tries = 0;
        }
        pos = atomic_load_explicit(&r->enq, memory_order_relaxed);
    }
    uint8_t *slot = (uint8_t *)r + AGENT_RING_DATA +
                    (size_t)(pos & (AGENT_RING_SLOTS - 1)) * AGENT_RING_SLOT;
    memcpy(slot, buf, len);
    atomic_store_explicit(&r->seq[pos & (AGENT_RING_SLOTS - 1)], pos + 1, memory_order_release);
    return 0;
}

/* Is stetho gone (nobody reads the FIFO)?  Looked at once per ALIVE_NS of
 * the chunks' own time stamps (no clock read, one thread looks): a write
 * into the FIFO fails at once when stetho is gone, a copy into the ring
 * does not, and a ring that never fills would keep a recording stetho
 * left going (and the hooks of an injected agent in place) for ever. */
static int stetho_gone(const void *buf)
{
    struct agent_chunk_header h;
    memcpy(&h, buf, sizeof h);
    uint64_t last = atomic_load_explicit(&alive_at, memory_order_relaxed);
    if ((int64_t)(h.t_ns - last) < (int64_t)ALIVE_NS ||
        !atomic_compare_exchange_strong_explicit(&alive_at, &last, h.t_ns,
                                                 memory_order_relaxed, memory_order_relaxed))
        return 0;
    return !agent_fifo_reads(&agent.fifo);
}

int ring_put(const void *buf, size_t len)
{
    atomic_fetch_add(&users, 1);
    int nested = in_put++;
    struct agent_ring *r = atomic_load(&ring);
    /* detached: the recording ended */
    int rc = r && !stetho_gone(buf) ? put(r, buf, len, nested) : -1;
    in_put--;
    atomic_fetch_sub(&users, 1);
    return rc;
}
