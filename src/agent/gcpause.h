/*
 * gcpause.h -- the garbage collector's pauses, timed inside the process:
 * a C function appended to gc.callbacks, called by CPython with "start"
 * before and "stop" after each collection (every version 3.9-3.13).
 *
 * Contract: gcpause_init() looks the Python C API up (dlsym, as calls.c:
 * the agent has no Python headers) and returns 1 if it is all there.
 * gcpause_schedule() is called once, on the interpreter's main thread,
 * when it is initialized (agent_try_start): it only queues a pending call,
 * which appends the callback.  The callback runs under the GIL, never on
 * the allocation hot path; at "stop" it reads the info dict's generation,
 * collected and uncollectable and sends one GC_PAUSE record (wire.h) in the
 * collecting thread's stream.  The pending call's own errors are cleared:
 * without it, stetho falls back to the sampled [gc] frames.
 */
#ifndef STETHO_AGENT_GCPAUSE_H
#define STETHO_AGENT_GCPAUSE_H

int gcpause_init(void) __attribute__((visibility("hidden")));
void gcpause_schedule(void) __attribute__((visibility("hidden")));

#endif
