/*
 * inside.h -- recording memory in a process that is already running: the
 * agent dlopen'ed into it (the Python API loads it with ctypes; `stetho
 * attach --memory` will call the same entry points after injecting it).
 *
 * Contract: these are the agent's only exported functions besides the
 * allocator family it wraps.  stetho_agent_start() opens the FIFO a stetho
 * reads (protocol.h), sets the mode ("exact" or "sampled:<mean bytes>"),
 * wraps Python's RAW, MEM and OBJ allocator domains and rewrites the GOT
 * entries of the C allocator family in every loaded object and in those
 * dlopen'ed later (got.h); from then on every thread's allocations are
 * recorded, each thread as a new stream.  stetho_agent_stop() stops
 * recording, puts every GOT entry and allocator domain back as it found
 * them, sends every thread's buffered events and closes the FIFO; a thread
 * that was inside a wrapper meanwhile finishes its call safely.  Both must
 * be called with the GIL held (ctypes.PyDLL, not CDLL) and return 0, or -1
 * with stetho_agent_error() saying why in one line.  Blocks allocated
 * before the start and freed in the window are sent as frees of addresses
 * stetho never saw, which it ignores (memtrack.h).  A process that runs
 * under `stetho run` (the agent preloaded) cannot start: it records already.
 * With follow_children, a process forked in the window records on (as with
 * `stetho run --subprocesses`); otherwise it stops recording at the fork.
 * stetho_agent_use_ring(), before a start in exact mode, names the ring
 * (protocol.h) that `stetho attach --memory-ring` made: that recording's
 * chunks go there instead of the FIFO (if it cannot be mapped, the FIFO
 * serves), and its stop unmaps it.
 * stetho_agent_hooked() counts the GOT entries that point into the agent
 * now: 0 after a stop; stetho_agent_got_digest() hashes every hooked GOT
 * entry's address and value: after a stop, what it was before the start.
 */
#ifndef STETHO_AGENT_INSIDE_H
#define STETHO_AGENT_INSIDE_H

int stetho_agent_start(const char *fifo_path, const char *mode, int follow_children);
int stetho_agent_stop(void);
int stetho_agent_use_ring(const char *ring_path);
/* Exact call counts from inside (calls.h, calls_start_inside): sent to
 * the FIFO of `stetho attach --handshake --calls` (the memory recording's,
 * if there is one too).  GIL held; 0, or -1 with
 * stetho_agent_error() saying why. */
int stetho_agent_calls_start(const char *fifo_path);
int stetho_agent_calls_stop(void);
long stetho_agent_hooked(void);
unsigned long long stetho_agent_got_digest(void);
const char *stetho_agent_error(void);

#endif
