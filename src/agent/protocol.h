/*
 * protocol.h -- how the in-process agent and stetho meet: the FIFO and the
 * environment.  What travels over the FIFO (chunks, records, allocators,
 * frame kinds) is wire/wire.h.
 *
 * Contract: stetho creates a FIFO, keeps it open for reading, and puts its
 * path in STETHO_AGENT_FIFO.  Every process that loads the agent (the
 * program, and forked or exec'd children when followed) opens it for
 * writing and sends whole chunks of at most AGENT_CHUNK_MAX bytes with one
 * write(2) each: the kernel keeps writes of up to PIPE_BUF (4096) bytes
 * whole, so chunks from many threads and processes never interleave.
 *
 * In exact mode under `stetho run`, stetho also makes a ring of chunk
 * slots in a shared file (struct agent_ring) and puts its path in
 * STETHO_AGENT_RING; a process that maps it sends every memory chunk
 * there instead of the FIFO, for its whole life (its forked children
 * too: the mapping is shared), so each stream still arrives in order.
 * Why: on json_dumps (3.11) the FIFO's write(2) with its fstat and the
 * SIGPIPE mask around it were 0.25 s of the program's 1.5 s in exact
 * mode (one chunk of 4 KiB each ~30 us of events); a slot is a copy.
 * The FIFO stays: for the calls stream, for every other mode, and as the
 * sign stetho is alive (a producer waiting for a free slot polls it: no
 * reader left is POLLERR).
 *
 * The ring is Vyukov's bounded queue: slot i's `seq` is the position it
 * waits for (i at first).  A producer claims position p, whose slot has
 * seq == p, by moving `enq` from p to p + 1, copies its chunk in (header
 * first: the chunk's len says how much), then sets seq = p + 1.  stetho,
 * the one consumer, takes position p when its seq is p + 1, copies the
 * slot out, then frees it for p + SLOTS.  Nothing in the ring is trusted
 * by stetho beyond that: the program can write anywhere in it.
 */
#ifndef STETHO_AGENT_PROTOCOL_H
#define STETHO_AGENT_PROTOCOL_H

#include "wire/wire.h"

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

/* Environment the agent reads (stetho sets them; in a Python process the
 * agent removes them and itself from LD_PRELOAD at start unless children
 * are followed, so the program sees the environment it would have had; a
 * process that is not Python, a wrapper, passes them on). */
#define AGENT_ENV_FIFO "STETHO_AGENT_FIFO"
#define AGENT_ENV_MODE "STETHO_AGENT_MODE"        /* "exact" or "sampled:<mean bytes>",
                                                     then ",native" for --native */
#define AGENT_MODE_NATIVE ",native"
/* --native's unwinder (agent/native.c), loaded by the agent at run time:
 * stetho checks it can be before asking for native stacks. */
#define AGENT_LIBUNWIND "libunwind.so.8"
#define AGENT_ENV_RING "STETHO_AGENT_RING"        /* exact mode: the ring's file */
#define AGENT_ENV_FOLLOW "STETHO_AGENT_FOLLOW"    /* "1": children load it too */
#define AGENT_ENV_PRELOAD_ORIG "STETHO_AGENT_PRELOAD_ORIG" /* LD_PRELOAD before stetho */
#define AGENT_ENV_CALLS "STETHO_AGENT_CALLS"      /* --calls: the FIFO for calls.h's counts */
/* A measuring aid (bench/, docs/cli.md): "1" with --calls installs the same
 * events with callbacks that return at once and count nothing -- CPython's
 * own cost of delivering them, the floor of --calls.  Read once at load. */
#define AGENT_ENV_CALLS_FLOOR "STETHO_CALLS_FLOOR"
/* A testing aid: "1" makes each thread take its chunk's lock word the
 * plain way (agent.h, thread_enter), as where membarrier(2) is missing, so
 * the tests cover that way too.  Read once at load. */
#define AGENT_ENV_NO_MEMBARRIER "STETHO_AGENT_NO_MEMBARRIER"

#define AGENT_RING_MAGIC 0x31474e4952485453ull    /* "STHRING1" */
#define AGENT_RING_SLOTS 256u                     /* 1 MiB of slots, as deep as the pipe */
#define AGENT_RING_SLOT AGENT_CHUNK_MAX
#define AGENT_RING_DATA 4096u                     /* the slots' offset in the file */
#define AGENT_RING_BYTES (AGENT_RING_DATA + (size_t)AGENT_RING_SLOTS * AGENT_RING_SLOT)

struct agent_ring {
    uint64_t magic;                 /* AGENT_RING_MAGIC */
    uint32_t slots, slot_size;      /* AGENT_RING_SLOTS, AGENT_RING_SLOT */
    /* stetho's CLOCK_MONOTONIC, stored each time it looks at the ring
     * (every 1-4 ms while agents use it; 0 until then): a time stamp for
     * the agents that costs them a load (agent.h, struct agent's clock) */
    _Atomic uint64_t clock_ns;
    uint8_t pad0[40];
    _Atomic uint64_t enq;           /* the next position to claim */
    uint8_t pad1[56];
    _Atomic uint64_t seq[AGENT_RING_SLOTS];
};

_Static_assert((AGENT_RING_SLOTS & (AGENT_RING_SLOTS - 1)) == 0, "slots: a power of two");
_Static_assert(sizeof(struct agent_ring) <= AGENT_RING_DATA, "the head fits its page");
_Static_assert(offsetof(struct agent_ring, enq) == 64, "clock_ns shares the read-mostly line, not enq's");
_Static_assert(AGENT_RING_SLOT >= AGENT_CHUNK_MAX, "a slot holds a whole chunk");

#endif
