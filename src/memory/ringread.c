/*
 * ringread.c -- stetho's end of the ring: see ringread.h and, for the
 * protocol, agent/protocol.h.
 */
#include "memory/ringread.h"
#include "agent/protocol.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct ringread {
    struct agent_ring *ring;
    uint64_t deq;                   /* ours alone: not in the shared file */
    uint64_t bad;                   /* slots whose chunk did not check */
    int memfd;                      /* kept open: path names it; -1: a file */
    char path[128];
    uint8_t copy[AGENT_RING_SLOT];
};

/* Its name goes: the memfd closed, or the file removed. */
static void ringread_forget(struct ringread *r)
{
    if (r->memfd >= 0)
        close(r->memfd);
    else
        unlink(r->path);
}

static int make_file(struct ringread *r, const char *dir)
{
    snprintf(r->path, sizeof r->path, "%s/stetho-ring-XXXXXX", dir);
    int fd = mkostemp(r->path, O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)AGENT_RING_BYTES) < 0) {
        close(fd);
        unlink(r->path);
        return -1;
    }
    return fd;
}

/* A memfd, named by its /proc path: nothing is left behind when stetho
 * is killed (a file in /dev/shm was, 1 MiB of memory each until reboot),
 * and a process that still maps it keeps it alive.  The agents open that
 * path (the kernel lets a process of the same user open another's fd
 * there); if /proc does not show it to us, a named file instead. */
static int make_memfd(struct ringread *r)
{
    char name[32];
    snprintf(name, sizeof name, "stetho-ring-%d", (int)getpid());
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    snprintf(r->path, sizeof r->path, "/proc/%d/fd/%d", (int)getpid(), fd);
    int probe = -1;
    if (ftruncate(fd, (off_t)AGENT_RING_BYTES) < 0 ||
        (probe = open(r->path, O_RDWR | O_CLOEXEC)) < 0) {
        close(fd);
        return -1;
    }
    close(probe);
    return fd;
}

struct ringread *ringread_create(const char *fallback_dir)
{
    struct ringread *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->memfd = make_memfd(r);
    int fd = r->memfd;
    /* /dev/shm: memory, never written back to a disk as the slots churn */
    if (fd < 0)
        fd = make_file(r, "/dev/shm");
    if (fd < 0 && fallback_dir && strlen(fallback_dir) < 90)
        fd = make_file(r, fallback_dir);
    if (fd < 0) {
        free(r);
        return NULL;
    }
    void *m = mmap(NULL, AGENT_RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r->memfd < 0)
        close(fd);
    if (m == MAP_FAILED) {
        ringread_forget(r);
        free(r);
        return NULL;
    }
    r->ring = m;
    r->ring->slots = AGENT_RING_SLOTS;
    r->ring->slot_size = AGENT_RING_SLOT;
    atomic_store(&r->ring->enq, 0);
    for (uint32_t i = 0; i < AGENT_RING_SLOTS; i++)
        atomic_store(&r->ring->seq[i], i);
    /* last: an agent maps it only with the magic in place */
    atomic_thread_fence(memory_order_release);
    r->ring->magic = AGENT_RING_MAGIC;
    return r;
}

const char *ringread_path(const struct ringread *r)
{
    return r->path;
}

int ringread_used(const struct ringread *r)
{
    return atomic_load_explicit(&r->ring->enq, memory_order_relaxed) != 0;
}

void ringread_clock(struct ringread *r, uint64_t now_ns)
{
    atomic_store_explicit(&r->ring->clock_ns, now_ns, memory_order_relaxed);
}

uint64_t ringread_bad(const struct ringread *r)
{
    return r->bad;
}

/* The slot at position pos, published: copy it out, free it, hand it over. */
static void take_one(struct ringread *r, uint64_t pos, channel_fn fn, void *ctx)
{
    const uint8_t *slot = (const uint8_t *)r->ring + AGENT_RING_DATA +
                          (size_t)(pos & (AGENT_RING_SLOTS - 1)) * AGENT_RING_SLOT;
    memcpy(r->copy, slot, AGENT_RING_SLOT);
    atomic_store_explicit(&r->ring->seq[pos & (AGENT_RING_SLOTS - 1)], pos + AGENT_RING_SLOTS,
                          memory_order_release);
    struct agent_chunk_header h;
    memcpy(&h, r->copy, sizeof h);
    if (h.magic != AGENT_MAGIC || h.len < sizeof h || h.len > AGENT_RING_SLOT) {
        r->bad++;
        return;
    }
    fn(ctx, r->copy, h.len);
}

size_t ringread_take(struct ringread *r, size_t max, channel_fn fn, void *ctx)
{
    size_t n = 0;
    for (; n < max; n++) {
        uint64_t pos = r->deq;
        uint64_t seq = atomic_load_explicit(&r->ring->seq[pos & (AGENT_RING_SLOTS - 1)],
                                            memory_order_acquire);
        if (seq != pos + 1)
            break;
        take_one(r, pos, fn, ctx);
        r->deq = pos + 1;
    }
    return n;
}

void ringread_finish(struct ringread *r, channel_fn fn, void *ctx)
{
    ringread_take(r, AGENT_RING_SLOTS, fn, ctx);
    /* slots claimed after a hole: at most a ring's worth (enq is the
     * program's to scribble on) */
    uint64_t enq = atomic_load_explicit(&r->ring->enq, memory_order_acquire);
    for (uint32_t left = AGENT_RING_SLOTS; left && r->deq < enq; left--) {
        uint64_t pos = r->deq;
        if (atomic_load_explicit(&r->ring->seq[pos & (AGENT_RING_SLOTS - 1)],
                                 memory_order_acquire) == pos + 1)
            take_one(r, pos, fn, ctx);
        else
            r->bad++;               /* claimed, never filled */
        r->deq = pos + 1;
    }
}

void ringread_close(struct ringread *r)
{
    if (!r)
        return;
    munmap(r->ring, AGENT_RING_BYTES);
    ringread_forget(r);
    free(r);
}
