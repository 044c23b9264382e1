/*
 * memtrack_replay.c -- stetho's cost per event, apart from the agent's and
 * from the machine's load: the bytes an agent wrote to its FIFO (saved by
 * a plain reader, e.g. `cat FIFO > FILE`) are fed to memtrack as the
 * memory thread would, and the time of that alone is measured.
 *
 *   memtrack_replay FILE [ROUNDS [TICK_MS]]
 *       one line: events, chunks, dropped, bytes per event, and the best
 *       CPU time per event (ns) over ROUNDS (default 3) fresh memtracks;
 *       with TICK_MS, memtrack_tick() also runs as the memory thread's
 *       would, every TICK_MS of the stream's own time (its chunks' time
 *       stamps), so what a tick writes to the capture is in the figure too
 *       (its census finds the process gone: it reads nothing)
 *
 * The capture it writes goes to a temporary file, deleted.  A file that
 * cannot be read: one line "memtrack_replay: ..." on stderr, exit status 2.
 */
#include "capture/capture.h"
#include "memory/memtrack.h"
#include "wire/wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "memtrack_replay: usage: memtrack_replay FILE [ROUNDS [TICK_MS]]\n");
        return 2;
    }
    int rounds = argc >= 3 ? atoi(argv[2]) : 3;
    uint64_t tick_ns = argc == 4 ? strtoull(argv[3], NULL, 10) * 1000000u : 0;
    size_t len;
    uint8_t *b = slurp(argv[1], &len);
    if (!b) {
        fprintf(stderr, "memtrack_replay: cannot read %s\n", argv[1]);
        return 2;
    }
    char path[] = "/tmp/memtrack_replay-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "memtrack_replay: no temporary file\n");
        return 2;
    }
    close(fd);
    uint64_t best = UINT64_MAX, events = 0, dropped = 0, chunks = 0;
    for (int r = 0; r < (rounds > 0 ? rounds : 1); r++) {
        struct capture_writer *w = capw_open(path, 10000000);
        struct memtrack *m = w ? memtrack_new(w, 0) : NULL;
        if (!m) {
            fprintf(stderr, "memtrack_replay: out of memory\n");
            return 2;
        }
        chunks = 0;
        uint64_t t0 = cpu_ns(), next_tick = 0;
        for (size_t off = 0; len - off >= sizeof(struct agent_chunk_header);) {
            struct agent_chunk_header h;
            memcpy(&h, b + off, sizeof h);
            if (h.len < sizeof h || h.len > len - off)
                break;
            if (tick_ns && h.t_ns >= next_tick) {
                if (next_tick)
                    memtrack_tick(m, h.t_ns);
                next_tick = h.t_ns + tick_ns;
            }
            memtrack_feed(m, b + off, h.len);
            off += h.len;
            chunks++;
        }
        uint64_t t = cpu_ns() - t0;
        best = t < best ? t : best;
        events = memtrack_events(m);
        dropped = memtrack_dropped(m);
        memtrack_finish(m, 1, 0, 0);
        memtrack_free(m);
        capw_close(w, 1);
    }
    unlink(path);
    free(b);
    printf("events %" PRIu64 " chunks %" PRIu64 " dropped %" PRIu64
           " bytes/event %.2f ns/event %.1f\n",
           events, chunks, dropped, events ? (double)len / (double)events : 0.0,
           events ? (double)best / (double)events : 0.0);
    return 0;
}
