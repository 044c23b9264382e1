/*
 * test_ringread.c -- stetho's end of the agents' ring (memory/ringread.h),
 * against a producer written here from agent/protocol.h's description: in
 * order, across the wrap, a bad chunk skipped, a slot claimed and never
 * filled waited for during the run and passed over at the end, and an
 * `enq` the program scribbled on does not keep the end waiting.
 */
#include "check.h"
#include "agent/protocol.h"
#include "memory/ringread.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static struct agent_ring *map_ring(const char *path)
{
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return NULL;
    void *m = mmap(NULL, AGENT_RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return m == MAP_FAILED ? NULL : m;
}

static uint8_t *slot_at(struct agent_ring *r, uint64_t pos)
{
    return (uint8_t *)r + AGENT_RING_DATA + (pos & (AGENT_RING_SLOTS - 1)) * AGENT_RING_SLOT;
}

/* Claim the next position (the slot must be free): its number. */
static uint64_t claim(struct agent_ring *r)
{
    uint64_t pos = atomic_load(&r->enq);
    if (atomic_load(&r->seq[pos & (AGENT_RING_SLOTS - 1)]) != pos)
        return UINT64_MAX;
    atomic_store(&r->enq, pos + 1);
    return pos;
}

/* A chunk at pos with `tag` in its pid, len bytes long, magic or not. */
static void fill(struct agent_ring *r, uint64_t pos, int32_t tag, uint32_t len, int good)
{
    struct agent_chunk_header h = { .magic = good ? AGENT_MAGIC : 0x1234, .version = AGENT_VERSION,
                                    .len = len, .pid = tag, .tid = tag };
    memcpy(slot_at(r, pos), &h, sizeof h);
    atomic_store(&r->seq[pos & (AGENT_RING_SLOTS - 1)], pos + 1);
}

static int put(struct agent_ring *r, int32_t tag, uint32_t len, int good)
{
    uint64_t pos = claim(r);
    if (pos == UINT64_MAX)
        return -1;
    fill(r, pos, tag, len, good);
    return 0;
}

struct seen {
    int n;
    int32_t tags[1024];
    size_t lens[1024];
};

static void got(void *ctx, const uint8_t *chunk, size_t len)
{
    struct seen *s = ctx;
    struct agent_chunk_header h;
    memcpy(&h, chunk, sizeof h);
    if (s->n < 1024) {
        s->tags[s->n] = h.pid;
        s->lens[s->n] = len;
    }
    s->n++;
}

int main(void)
{
    char dir[] = "/tmp/stetho-ringtest-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct ringread *rr = ringread_create(dir);
    CHECK(rr != NULL);
    if (!rr)
        return CHECK_DONE();
    struct agent_ring *r = map_ring(ringread_path(rr));
    CHECK(r != NULL);
    if (!r)
        return CHECK_DONE();
    CHECK(r->magic == AGENT_RING_MAGIC);
    CHECK_EQ_INT(r->slots, AGENT_RING_SLOTS);
    CHECK_EQ_INT(ringread_used(rr), 0);

    struct seen s = { 0 };
    CHECK_EQ_INT(ringread_take(rr, 100, got, &s), 0);

    /* three chunks, in order, each its own length */
    CHECK_EQ_INT(put(r, 1, 100, 1), 0);
    CHECK_EQ_INT(put(r, 2, AGENT_RING_SLOT, 1), 0);
    CHECK_EQ_INT(put(r, 3, 24, 1), 0);
    CHECK_EQ_INT(ringread_used(rr), 1);
    CHECK_EQ_INT(ringread_take(rr, 2, got, &s), 2);     /* at most max */
    CHECK_EQ_INT(ringread_take(rr, 100, got, &s), 1);
    CHECK_EQ_INT(s.n, 3);
    CHECK(s.tags[0] == 1 && s.tags[1] == 2 && s.tags[2] == 3);
    CHECK(s.lens[0] == 100 && s.lens[1] == AGENT_RING_SLOT && s.lens[2] == 24);

    /* a bad magic, a length past the slot, one shorter than a header:
     * taken (the slot freed) and skipped */
    CHECK_EQ_INT(put(r, 4, 100, 0), 0);
    CHECK_EQ_INT(put(r, 5, AGENT_RING_SLOT + 1, 1), 0);
    CHECK_EQ_INT(put(r, 6, 8, 1), 0);
    CHECK_EQ_INT(put(r, 7, 64, 1), 0);
    CHECK_EQ_INT(ringread_take(rr, 100, got, &s), 4);
    CHECK_EQ_INT(s.n, 4);
    CHECK_EQ_INT(s.tags[3], 7);
    CHECK_EQ_INT(ringread_bad(rr), 3);

    /* around the ring twice and more: every slot freed for its next turn */
    s.n = 0;
    int order_ok = 1, put_ok = 1;
    for (int i = 0; i < 600; i++) {
        put_ok &= put(r, 1000 + i, 200, 1) == 0;
        if (i % 3 == 2)
            ringread_take(rr, 100, got, &s);
    }
    ringread_take(rr, 1000, got, &s);
    for (int i = 0; i < 600; i++)
        order_ok &= s.tags[i] == 1000 + i;
    CHECK(put_ok);
    CHECK_EQ_INT(s.n, 600);
    CHECK(order_ok);

    /* a full ring: the producer finds no free slot until stetho takes one */
    s.n = 0;
    for (unsigned i = 0; i < AGENT_RING_SLOTS; i++)
        put(r, 2000, 64, 1);
    CHECK_EQ_INT(put(r, 2001, 64, 1), -1);
    CHECK_EQ_INT(ringread_take(rr, 1, got, &s), 1);
    CHECK_EQ_INT(put(r, 2001, 64, 1), 0);
    CHECK_EQ_INT(ringread_take(rr, 1000, got, &s), AGENT_RING_SLOTS);
    CHECK_EQ_INT(s.tags[s.n - 1], 2001);

    /* a slot claimed and never filled: waited for while the run goes on,
     * passed over at the end; what comes after it is not lost */
    s.n = 0;
    uint64_t hole = claim(r);
    CHECK_EQ_INT(put(r, 3001, 64, 1), 0);
    CHECK_EQ_INT(ringread_take(rr, 100, got, &s), 0);
    uint64_t bad = ringread_bad(rr);
    ringread_finish(rr, got, &s);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.tags[0], 3001);
    CHECK_EQ_INT(ringread_bad(rr), bad + 1);
    (void)hole;

    /* enq scribbled far ahead: the end looks at one ring's worth at most */
    atomic_store(&r->enq, UINT64_MAX / 2);
    s.n = 0;
    ringread_finish(rr, got, &s);
    CHECK_EQ_INT(s.n, 0);
    CHECK(ringread_bad(rr) <= bad + 1 + AGENT_RING_SLOTS);

    munmap(r, AGENT_RING_BYTES);
    char path[128];
    snprintf(path, sizeof path, "%s", ringread_path(rr));
    ringread_close(rr);
    CHECK(access(path, F_OK) != 0);
    rmdir(dir);
    return CHECK_DONE();
}
