/*
 * memtrack.h -- stetho's side of memory profiling: turn the agent's event
 * stream into per-stack memory metrics in the capture.
 *
 * Contract: memtrack_feed() takes whole agent chunks (wire/wire.h) in the
 * order they arrived, from any number of processes and threads; it maps
 * each thread's frame and stack ids into the capture's, keeps the table of
 * live blocks (per process), and maintains for every capture stack:
 * allocated bytes and count, live bytes, the bytes it held when the heap
 * (the sum of live tracked blocks) peaked, the bytes still live when its
 * process began to finalize (leaked), and temporary allocations (freed
 * before the same thread allocated anything else).  Anonymous mappings
 * count by their resident part (measured at each tick, and by the agent
 * as they go: wire.h RESIDENT, applied where it comes in the stream),
 * their whole size kept beside it ("mapped").  memtrack_tick() measures the mappings and
 * writes what changed since the last tick, so a capture cut short still
 * has memory up to its last block; memtrack_finish() writes the final
 * per-stack metrics and totals.  A malformed chunk is counted as dropped
 * and read no further than its first bad record (ids are bounded, so it
 * cannot make us allocate much).  A free may arrive before its allocation
 * (each thread sends its own chunks): it is kept a while, and the
 * allocation, when it comes, cancels.
 *
 * --native (wire.h NATIVE, MODULE): an allocation with a native stack is
 * counted under its Python and native stacks merged (memnative.h).
 *
 * Call counts (wire.h CALLS, a process's calls stream) are kept as they
 * come, the latest figures of each function and edge, and written as
 * CALLS records by memtrack_finish(); with memtrack_calls_only() (--calls
 * with memory off) nothing else is: no memory metric, totals or ticks.
 *
 * Threads: a memtrack belongs to one thread (the memory thread), except
 * memtrack_now(), which any thread may call: it reads the heap and mapping
 * figures as of the last chunk or tick (each figure atomic, not the three
 * together).
 */
#ifndef STETHO_MEMORY_MEMTRACK_H
#define STETHO_MEMORY_MEMTRACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "capture/capture.h"

struct memtrack;

struct memtrack *memtrack_new(struct capture_writer *w, uint64_t start_ns);
void memtrack_free(struct memtrack *m);

/* Record only the allocations of this thread of pid (the Python API's
 * threads="current"); frees are taken from every thread, so a block that
 * thread allocated and another freed is not a false leak. */
void memtrack_only_thread(struct memtrack *m, int32_t pid, int32_t tid);

/* Only call counts arrive: no memory is recorded (see above). */
void memtrack_calls_only(struct memtrack *m);

/* One chunk as read from the FIFO; -1 if it was malformed (dropped). */
int memtrack_feed(struct memtrack *m, const uint8_t *chunk, size_t len);

/* Measure the mappings and write what changed, at now_ns (CLOCK_MONOTONIC). */
void memtrack_tick(struct memtrack *m, uint64_t now_ns);

/* The heap, mapped and mapped-resident figures into p (thread-safe). */
void memtrack_now(struct memtrack *m, struct cap_timeline_point *p);

/* Final metrics and totals into the capture, with the run's peak RSS
 * (bytes, and when: ns since the start) measured by the caller. */
void memtrack_finish(struct memtrack *m, uint64_t now_ns, uint64_t peak_rss,
                     uint64_t peak_rss_t);

/* For the run's summary and tests. */
uint64_t memtrack_events(const struct memtrack *m);
uint64_t memtrack_dropped(const struct memtrack *m);
/* Functions with call counts so far (0: no process sent any). */
uint64_t memtrack_counted(const struct memtrack *m);
/* --native: the (Python, native) stack pairs merged, and of them the ones
 * merged partially (memnative.h). */
void memtrack_native_stats(const struct memtrack *m, uint64_t *stacks, uint64_t *partial);

#endif
