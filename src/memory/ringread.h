/*
 * ringread.h -- stetho's end of the agents' ring (agent/protocol.h,
 * struct agent_ring): the one consumer.
 *
 * Contract: ringread_create() makes the ring (a memfd, named by its path
 * in /proc, so nothing is left behind if stetho is killed; else a file,
 * 0600, in /dev/shm or beside `fallback_dir`), sized and initialized, and
 * maps it; ringread_path() is what STETHO_AGENT_RING is set to: the agents
 * open it, a process of the same user.  ringread_take()
 * hands over, in ring order, up to `max` published chunks, each copied out
 * of the shared slot before it is looked at (the program can write
 * anywhere in the ring) and checked like a chunk read from the FIFO: its
 * header's magic and a length within the slot, else it is counted bad and
 * skipped.  It returns how many slots it took.  ringread_used() is 1 once
 * any agent claimed a slot.  ringread_clock() stores `now_ns` (stetho's
 * CLOCK_MONOTONIC) where the agents read their coarse time stamps (the
 * channel does it at every look at the ring).  ringread_finish(), once no agent writes any
 * more, takes what is left, past slots claimed but never filled (an agent
 * killed half-way through its copy).  ringread_close() unmaps it and
 * closes the memfd or removes the file.  Never blocks; no thread of its own.
 */
#ifndef STETHO_MEMORY_RINGREAD_H
#define STETHO_MEMORY_RINGREAD_H

#include <stddef.h>
#include <stdint.h>

#include "memory/channel.h"

struct ringread;

struct ringread *ringread_create(const char *fallback_dir);
const char *ringread_path(const struct ringread *r);
size_t ringread_take(struct ringread *r, size_t max, channel_fn fn, void *ctx);
int ringread_used(const struct ringread *r);
void ringread_clock(struct ringread *r, uint64_t now_ns);
void ringread_finish(struct ringread *r, channel_fn fn, void *ctx);
uint64_t ringread_bad(const struct ringread *r);
void ringread_close(struct ringread *r);

#endif
