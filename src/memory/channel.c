/*
 * channel.c -- a FIFO between the agents and stetho.
 *
 * Agents write whole chunks of at most PIPE_BUF bytes, which the kernel
 * never interleaves; a read may still return several chunks or end inside
 * one, so bytes are buffered and cut by each chunk's length field.
 */
#include "memory/channel.h"
#include "agent/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

struct channel {
    int rfd, wfd;
    int wake;                   /* eventfd: channel_wake() */
    char dir[64], path[96];
    uint8_t *buf;
    size_t have;
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
    fcntl(ch->rfd, F_SETPIPE_SZ, 1 << 20);     /* best effort */
    return ch;
fail:
    channel_close(ch);
    return NULL;
}

const char *channel_path(const struct channel *ch)
{
    return ch->path;
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
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void channel_wait(struct channel *ch, uint64_t deadline, channel_fn fn, void *ctx)
{
    for (;;) {
        uint64_t now = now_ns();
        if (now >= deadline)
            return;
        struct pollfd p[2] = { { ch->rfd, POLLIN, 0 }, { ch->wake, POLLIN, 0 } };
        uint64_t wait_ms = (deadline - now + 999999) / 1000000;
        int r = poll(p, 2, (int)(wait_ms > INT_MAX ? INT_MAX : wait_ms));
        if (r < 0)
            return;                     /* a signal: let the caller look */
        if (p[1].revents) {
            uint64_t n;
            if (read(ch->wake, &n, sizeof n) < 0) {
                /* another wait took it: it returned, and so do we */
            }
            return;
        }
        /* one bounded read per look at the clock: a writer that never
         * lets the pipe run dry must not keep us past the deadline */
        if (r > 0)
            read_once(ch, WAIT_READ_MAX, fn, ctx);
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
    if (ch->path[0])
        unlink(ch->path);
    if (ch->dir[0] && strstr(ch->dir, "stetho-"))
        rmdir(ch->dir);
    free(ch->buf);
    free(ch);
}
