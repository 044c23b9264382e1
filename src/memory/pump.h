/*
 * pump.h -- the memory thread: the agents' events decoded apart from the
 * time sampler.
 *
 * Contract: mempump_start() starts a thread that owns a new memtrack
 * writing into w: it hands every chunk arriving on ch to memtrack_feed()
 * and calls memtrack_tick() every interval_ns (absolute deadlines).  So
 * decoding, however slow, never delays the sampler's ticks or the timeline:
 * when it cannot keep up, the FIFO fills and the program waits in write(2);
 * no event is dropped.  mempump_now() gives the latest heap and mapping
 * figures, from any thread.  mempump_finish() stops the thread, decodes
 * what the agents left in the FIFO, writes the final metrics with the
 * caller's peak RSS (memtrack_finish) and frees everything; *out gets the
 * number of events decoded, the number of functions with call counts
 * (memtrack_counted) and --native's merges (memtrack_native_stats).  memory 0: only call counts come
 * (memtrack_calls_only).  mempump_start() returns NULL when out of memory
 * or threads.  A test hook, STETHO_TEST_MEMORY_LAG_MS (pump.c), holds the
 * decoding a given time behind the agents.
 */
#ifndef STETHO_MEMORY_PUMP_H
#define STETHO_MEMORY_PUMP_H

#include <stdint.h>
#include "capture/capture.h"

struct channel;
struct mempump;

/* only_tid > 0: of process only_pid, that thread's allocations alone
 * (memtrack_only_thread). */
struct mempump *mempump_start(struct channel *ch, struct capture_writer *w,
                              uint64_t start_ns, uint64_t interval_ns, int32_t only_pid,
                              int32_t only_tid, int memory);
void mempump_now(struct mempump *p, struct cap_timeline_point *out);
struct mempump_result {
    uint64_t events;            /* decoded */
    uint64_t counted;           /* functions with call counts */
    uint64_t native_stacks, native_partial;    /* memtrack_native_stats */
};
void mempump_finish(struct mempump *p, uint64_t end_ns, uint64_t peak_rss,
                    uint64_t peak_rss_t, struct mempump_result *out);

#endif
