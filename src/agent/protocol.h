/*
 * protocol.h -- what the in-process agent tells stetho about allocations.
 *
 * Transport: a FIFO whose path is in STETHO_AGENT_FIFO (stetho creates it
 * and keeps it open for reading).  Every process that loads the agent
 * (the program, and forked or exec'd children when followed) opens it for
 * writing and sends whole *chunks* of at most AGENT_CHUNK_MAX bytes with one
 * write(2) each: the kernel keeps writes of up to PIPE_BUF (4096) bytes
 * whole, so chunks from many threads and processes never interleave.
 *
 * A chunk: struct agent_chunk_header, then records until `len` bytes.
 * Each thread has its own chunks and its own id spaces: frame and stack ids
 * are per (pid, tid), dense from 1, defined (FRAME, STACK records) before
 * their first use in that thread's stream.  Records start with a type byte;
 * integers are unsigned LEB128 varints ("v" below), signed ones zigzag.
 *
 *   AGENT_REC_FRAME   v id, v line, v first_line, v kind, v name_len, name,
 *                     v file_len, file               (UTF-8, no NUL)
 *   AGENT_REC_STACK   v id, v parent (0 = root), v frame
 *   AGENT_REC_ALLOC   v allocator, v addr, v size, v stack (0 = no Python
 *                     frames: a [native] root of the thread), v dt_ns
 *   AGENT_REC_FREE    v allocator, v addr, v dt_ns
 *   AGENT_REC_FINALIZING  v dt_ns: the interpreter began to finalize (the
 *                     program's own code is over: what is live now leaked)
 *   AGENT_REC_SAMPLED v mean_bytes: from now on ALLOC records of this
 *                     thread are Poisson samples by bytes with this mean;
 *                     one of `size` bytes stands for
 *                     size / (1 - exp(-size / mean)) bytes (docs/memory.md);
 *                     FREE records then come only for sampled blocks
 *
 * FRAME kind: enum agent_frame_kind.  line and first_line are 0 if unknown.
 *
 * Chunk flags: AGENT_CHUNK_NEW_STREAM is set on the first chunk of a thread's
 * stream: its (pid, tid) is new, or reused (a kernel tid of an exited thread,
 * a forked child's, an exec'd image's): forget the ids defined under it before.
 *
 * dt_ns: nanoseconds since the chunk header's t_ns (CLOCK_MONOTONIC), so
 * stetho can order events in time.  Addresses are sent as they are (the
 * varint keeps small ones small); a FREE of an address stetho never saw
 * allocated (made before the agent's hooks, or in another thread whose
 * chunk has not arrived yet) is for stetho to reconcile.
 */
#ifndef STETHO_AGENT_PROTOCOL_H
#define STETHO_AGENT_PROTOCOL_H

#include <stdint.h>

#define AGENT_CHUNK_MAX 4096
#define AGENT_MAGIC 0x5354u         /* "ST" */
#define AGENT_VERSION 1

struct agent_chunk_header {
    uint16_t magic;                 /* AGENT_MAGIC */
    uint8_t version;                /* AGENT_VERSION */
    uint8_t flags;
    uint16_t len;                   /* whole chunk, header included */
    uint16_t reserved;
    int32_t pid, tid;
    uint64_t t_ns;                  /* CLOCK_MONOTONIC at the chunk's start */
};

enum agent_record {
    AGENT_REC_FRAME = 1,
    AGENT_REC_STACK = 2,
    AGENT_REC_ALLOC = 3,
    AGENT_REC_FREE = 4,
    AGENT_REC_FINALIZING = 5,
    AGENT_REC_SAMPLED = 6,
};

#define AGENT_CHUNK_NEW_STREAM 0x01u

/* As capture.h's cap_frame_kind. */
enum agent_frame_kind {
    AGENT_FRAME_PYTHON = 0,         /* a Python function */
    AGENT_FRAME_NATIVE = 1,         /* (not sent yet) */
    AGENT_FRAME_SYNTHETIC = 2,      /* a marker: "[truncated]" (deeper than the
                                       agent reads) or "[unreadable]" */
};

/* Which allocator an event came through (for `stetho stats`).  A FREE names
 * the family: MALLOC for free() whatever allocated the block, MMAP for
 * munmap (of any mapping: stetho drops frees of unknown addresses), the
 * domain for Python's. */
enum agent_allocator {
    AGENT_ALLOC_MALLOC = 0,
    AGENT_ALLOC_CALLOC = 1,
    AGENT_ALLOC_REALLOC = 2,        /* the new block; the old one is a FREE */
    AGENT_ALLOC_MEMALIGN = 3,       /* posix_memalign, aligned_alloc, memalign,
                                       valloc, pvalloc */
    AGENT_ALLOC_MMAP = 4,           /* anonymous mmap / mremap */
    AGENT_ALLOC_PYMEM_RAW = 5,
    AGENT_ALLOC_PYMEM = 6,
    AGENT_ALLOC_PYOBJECT = 7,
    AGENT_ALLOCATORS = 8,
};

/* Environment the agent reads (stetho sets them; in a Python process the
 * agent removes them and itself from LD_PRELOAD at start unless children
 * are followed, so the program sees the environment it would have had; a
 * process that is not Python, a wrapper, passes them on). */
#define AGENT_ENV_FIFO "STETHO_AGENT_FIFO"
#define AGENT_ENV_MODE "STETHO_AGENT_MODE"        /* "exact" or "sampled:<mean bytes>" */
#define AGENT_ENV_FOLLOW "STETHO_AGENT_FOLLOW"    /* "1": children load it too */
#define AGENT_ENV_PRELOAD_ORIG "STETHO_AGENT_PRELOAD_ORIG" /* LD_PRELOAD before stetho */

#endif
