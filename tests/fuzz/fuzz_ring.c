/*
 * fuzz_ring.c -- libFuzzer entry point for stetho's end of the agents'
 * ring (src/memory/ringread.c): the program can write anything anywhere
 * in the shared file -- slot contents, every slot's seq, enq -- and
 * ringread_take()/ringread_finish() must hand over only whole chunks that
 * check, each a private copy within one slot, in bounded time.
 *
 * The harness makes a real ring (ringread_create) and maps it a second
 * time by its path, as an agent does.  The input:
 * byte 0, how many slots the first take may take; bytes 1-8, a value for
 * enq (used if byte 9 is odd; otherwise enq is where the filling ended);
 * then slot fillings, each three bytes -- tag, length / 16, and a byte
 * mixed into seq -- and its body.  Tag bit 0: the harness writes a valid
 * chunk header before the body (else the body is the slot's raw bytes);
 * bits 1-2: the slot's seq, published (pos + 1), claimed and unfilled
 * (pos), a ring late (pos + 1 + SLOTS) or scribbled; bit 3: the filling
 * comes after the first take (later positions); bit 4: the header's
 * length is the mixed byte x 257 instead (a length the slot cannot hold,
 * or less than a header).  Each chunk handed over
 * goes through the wire decoder, which must end at its end.  Build and
 * run: see tests/fuzz/README.md.
 */
#include "agent/protocol.h"
#include "memory/ringread.h"
#include "wire/wire.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    const uint8_t *map;             /* the harness's mapping of the ring */
    size_t chunks;
};

/* What stetho's channel would be given: checked here. */
static void take(void *ctx, const uint8_t *chunk, size_t len)
{
    struct seen *s = ctx;
    /* a private copy, never the shared slot the program may still change */
    if (chunk + len > s->map && chunk < s->map + AGENT_RING_BYTES)
        __builtin_trap();
    struct agent_chunk_header h;
    struct wire_cur c;
    struct wire_record r;
    if (len < sizeof h || len > AGENT_RING_SLOT)
        __builtin_trap();
    if (wire_chunk_open(chunk, len, &h, &c) == 0) {
        while (wire_next(&c, &r) > 0)
            if (c.v.p > c.v.end)
                __builtin_trap();
    }
    s->chunks++;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Fill the slot of position pos as the input says; returns bytes used. */
static size_t fill(struct agent_ring *ring, uint64_t pos, const uint8_t *in, size_t left)
{
    uint8_t tag = in[0], mix = in[2];
    size_t n = (size_t)in[1] * 16, hl = sizeof(struct agent_chunk_header);
    if (n > left - 3)
        n = left - 3;
    uint8_t *slot = (uint8_t *)ring + AGENT_RING_DATA +
                    (size_t)(pos & (AGENT_RING_SLOTS - 1)) * AGENT_RING_SLOT;
    if (tag & 1) {
        if (n > AGENT_RING_SLOT - hl)
            n = AGENT_RING_SLOT - hl;
        wire_put_header(slot, 0, tag & 16 ? (size_t)mix * 257 : hl + n, 100, 100, 1000);
        memcpy(slot + hl, in + 3, n);
    } else {
        if (n > AGENT_RING_SLOT)
            n = AGENT_RING_SLOT;
        memcpy(slot, in + 3, n);
    }
    uint64_t seq;
    switch (tag >> 1 & 3) {
    case 0: seq = pos + 1; break;
    case 1: seq = pos; break;
    case 2: seq = pos + 1 + AGENT_RING_SLOTS; break;
    default: seq = pos + 1 + ((uint64_t)mix << 56) + mix; break;
    }
    atomic_store(&ring->seq[pos & (AGENT_RING_SLOTS - 1)], seq);
    return 3 + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 10)
        return 0;
    struct ringread *rr = ringread_create("/tmp");
    if (!rr)
        return 0;
    int fd = open(ringread_path(rr), O_RDWR | O_CLOEXEC);
    void *m = fd >= 0 ? mmap(NULL, AGENT_RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                      : MAP_FAILED;
    if (fd >= 0)
        close(fd);
    if (m == MAP_FAILED) {
        ringread_close(rr);
        return 0;
    }
    struct agent_ring *ring = m;
    struct seen s = { m, 0 };
    size_t first = data[0], at = 10;
    uint64_t pos = 0;
    int phase = 0;
    while (at + 3 <= size) {
        if (!phase && (data[at] & 8)) {
            phase = 1;
            ringread_take(rr, first, take, &s);
        }
        at += fill(ring, pos++, data + at, size - at);
    }
    if (!phase)
        ringread_take(rr, first, take, &s);
    atomic_store(&ring->enq, data[9] & 1 ? get64(data + 1) : pos);
    ringread_finish(rr, take, &s);
    /* bounded, whatever the seqs and enq say: the first take, then the
     * finish's take and its walk past holes, a ring each */
    if (s.chunks > first + 2 * (size_t)AGENT_RING_SLOTS)
        __builtin_trap();
    munmap(m, AGENT_RING_BYTES);
    ringread_close(rr);
    return 0;
}
