/*
 * fuzz_capture.c -- libFuzzer entry point for the capture reader: any bytes
 * must load (possibly truncated) or fail cleanly, and free without leaks.
 * Build and run: see tests/fuzz/README.md.
 */
#include "capture/capture.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct capture c;
    char err[128];

    if (capture_load_mem(data, size, &c, err, sizeof err) == 0) {
        /* Touch what a report would, so bad ids show up under ASan. */
        for (size_t i = 0; i < c.nsamples; i++) {
            uint32_t depth = 0;
            for (uint32_t k = c.samples[i].stack; k && depth < 100000; k = c.stacks[k].parent) {
                const struct cap_frame *f = &c.frames[c.stacks[k].frame];
                if (c.strings[f->function])
                    depth += (uint32_t)strlen(c.strings[f->function]) > 0;
                if (c.strings[f->file])
                    depth += (uint32_t)strlen(c.strings[f->file]) > 0;
                depth++;
            }
        }
        if (c.truncated && !c.truncation)
            __builtin_trap();
    } else if (err[0] == '\0' || strchr(err, '\n')) {
        __builtin_trap();
    }
    capture_free(&c);
    return 0;
}
