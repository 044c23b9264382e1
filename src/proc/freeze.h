/*
 * freeze.h -- hold threads still for a moment, with ptrace.
 *
 * Contract: freeze_threads() seizes and interrupts each tid (PTRACE_SEIZE +
 * PTRACE_INTERRUPT: the process is not signalled, its parent sees nothing,
 * the threads just pause) and waits until each is stopped; thaw_threads()
 * detaches them, and they go on as if nothing happened.  Threads that
 * cannot be seized (already traced, gone, not permitted) are skipped:
 * freeze_threads returns how many it holds.  A thread that exits while
 * being seized is handed back to its parent (a traced zombie would wait
 * for us, its tracer, for ever: `attach --native` would never see its
 * process end); only the main thread of our own child is left unreaped,
 * for the session to collect its exit status.  Used by `stetho dump`, for
 * a thread whose stack changed every time it was read, and by --native
 * (dump and the sampler), to read a thread's two stacks in one moment.
 */
#ifndef STETHO_PROC_FREEZE_H
#define STETHO_PROC_FREEZE_H

#include <stddef.h>
#include <sys/types.h>

size_t freeze_threads(pid_t *tids, size_t n);
void thaw_threads(const pid_t *tids, size_t n);

#endif
