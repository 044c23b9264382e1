/*
 * fixture.h -- a capture built in memory, where every number is known,
 * for the report and export unit tests.
 *
 * Contract: fx_init gives an empty capture (one process-less run of
 * duration_ms, sampled every 10 ms) whose arrays are the fixture's own;
 * fx_str, fx_frame, fx_stack and fx_add_sample append and return ids as
 * the capture reader would give them (strings are interned by text).
 * Nothing is allocated: a fixture is dropped by going out of scope.  A
 * test that needs more fields defines FIXTURE_EXTRA (members) before
 * including this.
 */
#ifndef STETHO_TESTS_FIXTURE_H
#define STETHO_TESTS_FIXTURE_H

#include "capture/capture.h"

#include <assert.h>
#include <string.h>

#define MS 1000000ull

struct fixture {
    struct capture c;
    char text[4096];            /* the strings' bytes */
    size_t ntext;
    char *strings[64];
    struct cap_frame frames[32];
    struct cap_stack stacks[32];
    struct cap_sample samples[64];
    struct cap_process procs[4];
    struct cap_thread threads[8];
    struct cap_mem_stack mem[8];
    struct cap_mem_interval allocs[8];
    struct cap_timeline_point timeline[4];
    char *argv[3];
#ifdef FIXTURE_EXTRA
    FIXTURE_EXTRA
#endif
};

static inline void fx_init(struct fixture *f, uint64_t duration_ms)
{
    memset(f, 0, sizeof *f);
    f->c.format_version = 1;
    f->c.interval_ns = 10 * MS;
    f->c.has_duration = 1;
    f->c.duration_ns = duration_ms * MS;
    f->c.strings = f->strings;
    f->c.nstrings = 1;
    f->c.frames = f->frames;
    f->c.nframes = 1;
    f->c.stacks = f->stacks;
    f->c.nstacks = 1;
    f->c.samples = f->samples;
    f->c.processes = f->procs;
    f->c.threads = f->threads;
    f->c.mem = f->mem;
    f->c.mem_allocs = f->allocs;
    f->c.timeline = f->timeline;
}

static inline uint32_t fx_str(struct fixture *f, const char *s)
{
    for (size_t i = 1; i < f->c.nstrings; i++)
        if (!strcmp(f->strings[i], s))
            return (uint32_t)i;
    size_t n = strlen(s) + 1;
    assert(f->ntext + n <= sizeof f->text && f->c.nstrings < 64);
    f->strings[f->c.nstrings] = memcpy(f->text + f->ntext, s, n);
    f->ntext += n;
    return (uint32_t)f->c.nstrings++;
}

static inline uint32_t fx_frame(struct fixture *f, const char *fn, const char *file, int first,
                                int line, enum cap_frame_kind kind)
{
    assert(f->c.nframes < 32);
    f->frames[f->c.nframes] = (struct cap_frame){ .function = fx_str(f, fn),
                                                  .file = fx_str(f, file), .line = line,
                                                  .first_line = first, .kind = (uint8_t)kind };
    return (uint32_t)f->c.nframes++;
}

static inline uint32_t fx_stack(struct fixture *f, uint32_t parent, uint32_t frame)
{
    assert(f->c.nstacks < 32);
    uint32_t depth = parent ? f->stacks[parent].depth + 1 : 1;
    f->stacks[f->c.nstacks] = (struct cap_stack){ parent, frame, depth };
    return (uint32_t)f->c.nstacks++;
}

/* s as given; a zero wall_ns becomes user + sys + the waits. */
static inline void fx_add_sample(struct fixture *f, struct cap_sample s)
{
    assert(f->c.nsamples < 64);
    if (!s.wall_ns) {
        s.wall_ns = s.user_ns + s.sys_ns;
        for (int k = 0; k < CAP_WAIT_KINDS; k++)
            s.wall_ns += s.wait_ns[k];
    }
    f->samples[f->c.nsamples++] = s;
}

#endif
