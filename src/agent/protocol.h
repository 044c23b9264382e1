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
 */
#ifndef STETHO_AGENT_PROTOCOL_H
#define STETHO_AGENT_PROTOCOL_H

#include "wire/wire.h"

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
#define AGENT_ENV_FOLLOW "STETHO_AGENT_FOLLOW"    /* "1": children load it too */
#define AGENT_ENV_PRELOAD_ORIG "STETHO_AGENT_PRELOAD_ORIG" /* LD_PRELOAD before stetho */
#define AGENT_ENV_CALLS "STETHO_AGENT_CALLS"      /* --calls: the FIFO for calls.h's counts */
/* A measuring aid (bench/, docs/cli.md): "1" with --calls installs the same
 * events with callbacks that return at once and count nothing -- CPython's
 * own cost of delivering them, the floor of --calls.  Read once at load. */
#define AGENT_ENV_CALLS_FLOOR "STETHO_CALLS_FLOOR"

#endif
