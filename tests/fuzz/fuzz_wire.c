/*
 * fuzz_wire.c -- libFuzzer entry point for what stetho reads from the
 * agents' FIFO: any bytes, cut into chunks as the channel cuts them, must
 * be decoded (wire.h) and fed to memtrack or refused cleanly, without
 * reading past a chunk, leaking, or making memtrack allocate for huge ids.
 *
 * The input is a sequence of chunk bodies, each prefixed by two bytes:
 * flags (bit 0: a new stream, bit 1: the second thread) and the body's
 * length / 16 (so mutations keep whole chunks) -- the harness writes a
 * valid header around each, so mutations reach the record decoder and
 * memtrack's id checks.  Build
 * and run: see tests/fuzz/README.md.
 */
#include "memory/memtrack.h"
#include "wire/wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/stetho-fuzz-wire-%d", (int)getpid());
    struct capture_writer *w = capw_open(path, 10000000);
    if (!w)
        return 0;
    struct memtrack *m = memtrack_new(w, 0);
    uint8_t chunk[AGENT_CHUNK_MAX];
    size_t hl = sizeof(struct agent_chunk_header);
    for (size_t at = 0; at + 2 <= size;) {
        uint8_t tag = data[at];
        size_t n = (size_t)data[at + 1] * 16;
        at += 2;
        if (n > size - at)
            n = size - at;
        if (n > AGENT_CHUNK_MAX - hl)
            n = AGENT_CHUNK_MAX - hl;
        memcpy(chunk + hl, data + at, n);
        at += n;
        wire_put_header(chunk, tag & 1 ? AGENT_CHUNK_NEW_STREAM : 0, hl + n, 100,
                        100 + (tag >> 1 & 1), 1000);
        /* the decoder alone: it ends at the chunk's end, every time */
        struct agent_chunk_header h;
        struct wire_cur c;
        struct wire_record r;
        if (wire_chunk_open(chunk, hl + n, &h, &c) < 0)
            __builtin_trap();
        while (wire_next(&c, &r) > 0)
            if (c.v.p > c.v.end)
                __builtin_trap();
        if (c.v.p != c.v.end)
            __builtin_trap();
        memtrack_feed(m, chunk, hl + n);
    }
    memtrack_tick(m, 2000);
    memtrack_finish(m, 3000, 0, 0);
    memtrack_free(m);
    capw_close(w, 3000);
    unlink(path);
    return 0;
}
