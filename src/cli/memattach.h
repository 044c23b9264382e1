/*
 * memattach.h -- `stetho attach --memory`: start and stop the agent's
 * recording inside a process that was started without stetho.
 *
 * Contract: memattach_open() finds the agent and makes the FIFO
 * (memory/channel.h); memattach_channel() is that FIFO, for session_record,
 * which must be reading it before memattach_start(): the agent's first
 * events would otherwise fill it and block the program before it answers.
 * memattach_start() has the program's main thread run, through CPython's pending calls
 * (cpython/remote_exec.h), the same as the Python API does itself:
 * ctypes.PyDLL(agent).stetho_agent_start(fifo, mode, 0) (agent/inside.h).
 * The injected code answers in a file beside the FIFO ("ok" or the
 * agent's one-line error) and it waits for that answer (at most
 * timeout_s).  Both return 0, or print one line "stetho: ..." and return
 * STETHO_EXIT_USAGE.  If no answer came in time the code stays queued in
 * the program, harmlessly: once the FIFO is gone it does nothing.
 * memattach_stop()
 * (after a start that succeeded, the program still running) has it run stetho_agent_stop() the same way
 * and waits until the agent answers: it has then sent its last events and
 * closed the FIFO, every hook removed.  If the program does not answer in
 * time, the FIFO closes when stetho goes and the agent, finding its reader
 * gone, stops itself (inside.c).  memattach_free() removes the FIFO.
 * memattach_session_start/stop are session_opts.after_start/before_finish
 * (cli/session.h), ctx the memattach: `attach --memory` and `top
 * --memory` record memory the same way.  memattach_mode() is the agent's
 * mode for a --memory option (cli/options.h), with --native's suffix;
 * memattach_native_check() says (one line, exit status 2) when --native
 * memory cannot be had here: 0, or the status.  memattach_is_mode() says
 * whether an argument is one (a bare --memory is followed by none).
 */
#ifndef STETHO_CLI_MEMATTACH_H
#define STETHO_CLI_MEMATTACH_H

#include <stdint.h>
#include <stddef.h>
#include "cli/options.h"
#include "cpython/target.h"

/* How long the program's main thread may take to come back to Python code
 * and run the start or the stop (a blocking read, a long sleep...). */
#define MEMATTACH_TIMEOUT_S 10.0

struct memattach;
struct channel;

/* mode: "exact" or "sampled:BYTES" (the agent's). */
int memattach_open(const struct py_target *t, const char *mode, int quiet,
                   struct memattach **out);
int memattach_start(struct memattach *m, double timeout_s);
struct channel *memattach_channel(const struct memattach *m);
void memattach_stop(struct memattach *m, double timeout_s);
void memattach_free(struct memattach *m);

int memattach_session_start(void *m);
void memattach_session_stop(void *m);
void memattach_mode(const struct common_opts *o, char *out, size_t len);
int memattach_native_check(const struct common_opts *o);
int memattach_is_mode(const char *arg);

#endif
