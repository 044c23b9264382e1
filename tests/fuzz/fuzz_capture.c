/*
 * fuzz_capture.c -- libFuzzer entry point for the capture reader: any bytes
 * must load (possibly truncated) or fail cleanly, and free without leaks.
 *
 * Each input is read twice: as a whole capture file, and as the records of
 * one block wrapped in a valid header and zstd frame -- so mutations reach
 * the record parser directly instead of mostly breaking the compressed
 * stream.  Build and run: see tests/fuzz/README.md.
 */
#include "capture/capture.h"
#include "capture/format.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load(const uint8_t *data, size_t size)
{
    struct capture c;
    char err[128];

    if (capture_load_mem(data, size, &c, err, sizeof err) == 0) {
        /* Walk what a report would, so bad ids show up under ASan. */
        for (size_t i = 0; i < c.nsamples; i++) {
            uint32_t depth = 0;
            for (uint32_t k = c.samples[i].stack; k && depth < 100000; k = c.stacks[k].parent) {
                const struct cap_frame *f = &c.frames[c.stacks[k].frame];
                if (c.strings[f->function])
                    depth += strlen(c.strings[f->function]) > 0;
                if (c.strings[f->file])
                    depth += strlen(c.strings[f->file]) > 0;
                depth++;
            }
        }
        if (c.truncated && !c.truncation)
            __builtin_trap();
    } else if (err[0] == '\0' || strchr(err, '\n')) {
        __builtin_trap();
    }
    capture_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load(data, size);

    if (size == 0 || size > (1u << 20))
        return 0;
    size_t bound = ZSTD_compressBound(size);
    uint8_t *file = malloc(CAPF_HEADER_LEN + CAPF_BLOCK_HEADER_LEN + bound);
    if (!file)
        return 0;
    uint8_t *h = file + CAPF_HEADER_LEN, *z = h + CAPF_BLOCK_HEADER_LEN;
    size_t n = ZSTD_compress(z, bound, data, size, 1);
    if (!ZSTD_isError(n)) {
        memcpy(file, CAPF_MAGIC, CAPF_MAGIC_LEN);
        capf_put32(file + 8, CAPF_VERSION);
        capf_put32(file + 12, 0);
        capf_put32(h, CAPF_BLOCK_MAGIC);
        capf_put32(h + 4, (uint32_t)size);
        capf_put32(h + 8, (uint32_t)n);
        capf_put32(h + 12, capf_crc32(z, n));
        load(file, CAPF_HEADER_LEN + CAPF_BLOCK_HEADER_LEN + n);
    }
    free(file);
    return 0;
}
