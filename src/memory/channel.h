/*
 * channel.h -- the FIFO the agents write their chunks into.
 *
 * Contract: channel_open() makes a private FIFO (in a fresh mkdtemp
 * directory) and opens it for reading, non-blocking, with a large pipe
 * buffer; it also holds a write end itself so the FIFO never reads as
 * closed while no agent has it open.  channel_wait() sleeps until the
 * deadline (CLOCK_MONOTONIC ns) or until a signal, handing every whole
 * chunk that arrives meanwhile to the callback; it returns soon after the
 * deadline even while data keeps coming (reads are bounded, the clock is
 * checked between them).  Chunks are read in batches: after a read that
 * emptied the pipe it sleeps about 1 ms (in proportion to the pipe's size)
 * before it reads again, so a chunk may be handed over that much after it
 * was written.  channel_wake(), from any thread, makes the
 * channel_wait() in progress (or else the next one) return at once: a
 * reader being stopped does not sleep out its deadline first.
 * channel_drain() hands what is buffered now, until the pipe is empty.
 * channel_ring() makes the ring (ringread.h) the agents of exact mode use
 * instead of the FIFO, and returns its path (NULL: it could not be made;
 * the FIFO serves); from then on channel_wait() also takes what the ring
 * holds, looking at it every millisecond or so while agents use it, and
 * channel_drain() takes the rest of it, as the last call of a run
 * (ringread_finish).  channel_close() removes the FIFO, the ring and the
 * directory.
 */
#ifndef STETHO_MEMORY_CHANNEL_H
#define STETHO_MEMORY_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

typedef void (*channel_fn)(void *ctx, const uint8_t *chunk, size_t len);

struct channel;

struct channel *channel_open(void);
const char *channel_path(const struct channel *ch);
const char *channel_ring(struct channel *ch);
void channel_wait(struct channel *ch, uint64_t deadline_ns, channel_fn fn, void *ctx);
void channel_wake(struct channel *ch);
void channel_drain(struct channel *ch, channel_fn fn, void *ctx);
void channel_close(struct channel *ch);

#endif
