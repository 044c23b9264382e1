/*
 * ring.c -- the agent's end of the ring (agent/protocol.h, struct
 * agent_ring): exact mode under `stetho run` sends its memory chunks into
 * slots of a file both map, instead of write(2)s into the FIFO.
 *
 * Mapped once, by the preloaded agent's constructor, and never unmapped:
 * a thread may be copying into it until the process's last instant (the
 * exit flush), and forked children share it.  An agent dlopen'ed into a
 * running interpreter (the Python API, attach) keeps to the FIFO, whose
 * descriptor it can close when a recording ends.
 *
 * A full ring means stetho is behind: the thread waits, as it would in a
 * write(2) into a full pipe (exact mode drops nothing), sleeping in steps
 * and checking every ~100 ms that stetho still holds the FIFO open; if
 * not, the chunk is not sent and the caller stops recording.
 */
#include "agent/agent.h"

#include <errno.h>
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

static struct agent_ring *ring;     /* NULL: chunks go to the FIFO */

int ring_attach(const char *path)
{
    if (ring || !path || !*path)
        return ring ? 0 : -1;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
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
    ring = r;
    return 0;
}

int ring_attached(void)
{
    return ring != NULL;
}

int ring_put(const void *buf, size_t len)
{
    struct agent_ring *r = ring;
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
            if (++waits % ALIVE_EVERY == 0 && !agent_fifo_read())
                return -1;
            if (waits < 16) {
                sched_yield();
            } else {
                struct timespec ts = { 0, WAIT_STEP_NS };
                nanosleep(&ts, NULL);
            }
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
