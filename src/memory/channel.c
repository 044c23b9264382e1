/*
 * channel.c -- a FIFO between the agents and stetho, and in exact mode
 * the ring beside it (ringread.h).
 *
 * Agents write whole chunks of at most PIPE_BUF bytes, which the kernel
 * never interleaves; a read may still return several chunks or end inside
 * one, so bytes are buffered and cut by each chunk's length field.
 */
#include "memory/channel.h"
#include "memory/ringread.h"
#include "agent/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (1u << 20)
#define WAIT_READ_MAX (128u << 10)   /* about 10k events: a few ms to decode */
#define PIPE_SIZE (1 << 20)
/* After a read that emptied the pipe, the reader sleeps this long per byte
 * the pipe holds before it looks again (1 ms for 1 MiB): so the agents'
 * chunks are read dozens at a time rather than each waking us as it comes
 * (alloc_objects in exact mode: 18k polls and 18k reads for 140 MB before,
 * 5k and 2.8k now; the writers also find a reader that is not waiting, so
 * they wake nobody).  The agents fill at most ~300 MB/s (a thread's events
 * at full speed, on each of the cores), so a quarter of the pipe at most
 * fills meanwhile: nobody blocks on a sleeping reader. */
#define LINGER_NS_PER_BYTE 1
/* The ring (ringread.h) has no way to wake us: while agents use it, it is
 * looked at every RING_LOOK_NS, every RING_QUIET_NS after RING_QUIET empty
 * looks in a row (the ring holds ~7 ms of a thread's events at full speed,
 * so a burst after a quiet spell still finds room), and taken
 * RING_TAKE_MAX slots (128 KiB) between two looks at the clock.  Each
 * look stores the clock in the ring, where the agents take their coarse
 * time stamps from (ringread_clock). */
#define RING_LOOK_NS 1000000u
#define RING_QUIET_NS 4000000u
#define RING_QUIET 16u
#define RING_TAKE_MAX 32u

struct channel {
    int rfd, wfd;
    int wake;                   /* eventfd: channel_wake() */
    uint64_t linger_ns;         /* see LINGER_NS_PER_BYTE */
    char dir[64], path[96];
    uint8_t *buf;
    size_t have;
    struct ringread *ring;      /* NULL until channel_ring() */
    unsigned ring_quiet;        /* empty looks in a row */
};

struct channel *channel_open(void)
{
    struct channel *ch = calloc(1, sizeof *ch);
    if (!ch)
        return NULL;
    ch->rfd = ch->wfd = -1;
    ch->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    const char *tmp = getenv("TMPDIR");
    snprintf(ch->dir, sizeof ch->dir, "%s/stetho-XXXXXX",
             tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    ch->buf = malloc(BUF_SIZE);
    if (ch->wake < 0 || !ch->buf || !mkdtemp(ch->dir))
        goto fail;
    snprintf(ch->path, sizeof ch->path, "%s/agent.fifo", ch->dir);
    if (mkfifo(ch->path, 0600) < 0)
        goto fail;
    ch->rfd = open(ch->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    ch->wfd = open(ch->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (ch->rfd < 0 || ch->wfd < 0)
        goto fail;
    fcntl(ch->rfd, F_SETPIPE_SZ, PIPE_SIZE);   /* best effort */
    int size = fcntl(ch->rfd, F_GETPIPE_SZ);
    ch->linger_ns = size > 0 ? (uint64_t)size * LINGER_NS_PER_BYTE : 0;
    return ch;
fail:
    channel_close(ch);
    return NULL;
}

const char *channel_path(const struct channel *ch)
{
    return ch->path;
}

const char *channel_ring(struct channel *ch)
{
    if (!ch->ring)
        ch->ring = ringread_create(ch->dir);
    return ch->ring ? ringread_path(ch->ring) : NULL;
}

/* Hand over every whole chunk in the buffer; keep a partial one. */
static void cut(struct channel *ch, channel_fn fn, void *ctx)
{
    size_t off = 0;
    while (ch->have - off >= sizeof(struct agent_chunk_header)) {
        struct agent_chunk_header h;
        memcpy(&h, ch->buf + off, sizeof h);
        if (h.magic != AGENT_MAGIC || h.len < sizeof h || h.len > AGENT_CHUNK_MAX) {
            off++;                      /* lost sync (cannot happen with whole
                                           writes): look for the next header */
            continue;
        }
        if (ch->have - off < h.len)
            break;
        fn(ctx, ch->buf + off, h.len);
        off += h.len;
    }
    memmove(ch->buf, ch->buf + off, ch->have - off);
    ch->have -= off;
}

/* One read of at most `max` bytes, its whole chunks handed over; the read's
 * result (0 or less: nothing there). */
static ssize_t read_once(struct channel *ch, size_t max, channel_fn fn, void *ctx)
{
    size_t room = BUF_SIZE - ch->have;
    ssize_t n = read(ch->rfd, ch->buf + ch->have, room < max ? room : max);
    if (n > 0) {
        ch->have += (size_t)n;
        cut(ch, fn, ctx);
    }
    return n;
}

void channel_drain(struct channel *ch, channel_fn fn, void *ctx)
{
    while (read_once(ch, BUF_SIZE, fn, ctx) > 0)
        ;
    if (ch->ring)
        ringread_finish(ch->ring, fn, ctx);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleeps until `until` or a wake, whichever first; 1 on a wake. */
static int sleep_until(struct channel *ch, uint64_t now, uint64_t until, int with_fifo,
                       short *fifo_ready)
{
    struct pollfd p[2] = { { ch->wake, POLLIN, 0 }, { ch->rfd, POLLIN, 0 } };
    uint64_t d = until - now;
    struct timespec ts = { (time_t)(d / 1000000000u), (long)(d % 1000000000u) };
    int r = ppoll(p, with_fifo ? 2 : 1, &ts, NULL);
    *fifo_ready = r > 0 && with_fifo ? p[1].revents : 0;
    if (r < 0)
        return 1;                       /* a signal: let the caller look */
    if (p[0].revents) {
        uint64_t n;
        if (read(ch->wake, &n, sizeof n) < 0) {
            /* another wait took it: it returned, and so do we */
        }
        return 1;
    }
    return 0;
}

void channel_wait(struct channel *ch, uint64_t deadline, channel_fn fn, void *ctx)
{
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline)
            return;
        uint64_t until = deadline;
        if (ch->ring) {
            /* only once it is used: from then on we look every few ms */
            if (ringread_used(ch->ring))
                ringread_clock(ch->ring, now);
            size_t n = ringread_take(ch->ring, RING_TAKE_MAX, fn, ctx);
            if (n == RING_TAKE_MAX)
                continue;               /* more there: the clock, then again */
            ch->ring_quiet = n ? 0 : ch->ring_quiet + (ch->ring_quiet < RING_QUIET);
            if (ringread_used(ch->ring)) {
                uint64_t step = ch->ring_quiet < RING_QUIET ? RING_LOOK_NS : RING_QUIET_NS;
                if (deadline - now > step)
                    until = now + step;
            }
        }
        short ready;
        if (sleep_until(ch, now, until, 1, &ready))
            return;
        if (!ready)
            continue;
        /* one bounded read per look at the clock: a writer that never
         * lets the pipe run dry must not keep us past the deadline */
        ssize_t n = read_once(ch, WAIT_READ_MAX, fn, ctx);
        if (n >= 0 && (size_t)n < WAIT_READ_MAX && ch->linger_ns) {
            /* the pipe is empty now: let it fill a while (see LINGER_NS_PER_BYTE) */
            now = now_ns();
            uint64_t until = now + ch->linger_ns < deadline ? now + ch->linger_ns : deadline;
            if (now < until && sleep_until(ch, now, until, 0, &ready))
                return;
        }
    }
}

void channel_wake(struct channel *ch)
{
    uint64_t one = 1;
    if (write(ch->wake, &one, sizeof one) < 0) {
        /* the counter is full: a wake is pending already */
    }
}

void channel_close(struct channel *ch)
{
    if (!ch)
        return;
    if (ch->rfd >= 0)
        close(ch->rfd);
    if (ch->wfd >= 0)
        close(ch->wfd);
    if (ch->wake >= 0)
        close(ch->wake);
    ringread_close(ch->ring);
    if (ch->path[0])
        unlink(ch->path);
    if (ch->dir[0] && strstr(ch->dir, "stetho-"))
        rmdir(ch->dir);
    free(ch->buf);
    free(ch);
}
