/*
 * got.h -- the agent's hooks put into the GOT of every loaded object, for an
 * agent that was dlopen'ed into a running process (no LD_PRELOAD: its own
 * malloc & co are then not what anyone calls).
 *
 * Contract: got_hooks() is the one list of hooked functions (name, the slot
 * in agent_real its wrapper forwards to, and the wrapper); everything else
 * iterates over it.  got_patch() rewrites, in every loaded object but the
 * agent itself, each JUMP_SLOT and GLOB_DAT relocation that names a hooked
 * function so that it points at the wrapper, remembering what the slot held
 * (RELRO pages are made writable for the write and read-only again);
 * called again, it patches only what is new (libraries loaded since).
 * got_restore() puts back every remembered value whose slot still holds
 * our wrapper, in the objects still loaded, and forgets them all.
 * got_patched() counts the slots that point at a wrapper now (0 after a
 * restore: what the tests read back).  All three serialize on one lock and
 * run under the dynamic linker's lock (dl_iterate_phdr), so no object is
 * loaded or unloaded under them.  Callers hold agent_guard.
 *
 * The wrappers stay in memory for the life of the process (the agent is
 * never unloaded), so a thread still inside one when the slots are restored
 * finishes its call normally.
 */
#ifndef STETHO_AGENT_GOT_H
#define STETHO_AGENT_GOT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"

struct got_hook {
    const char *name;
    void **real;                /* &agent_real.x: the definition to forward to,
                                   or NULL if another entry's sets it */
    void *wrapper;              /* the agent's own definition */
};

/* The hooked functions, with their wrappers looked up in the agent itself
 * (handle: dlopen of the agent, RTLD_NOLOAD).  NULL if one is missing. */
const struct got_hook *got_hooks(void *self_handle, size_t *n) AGENT_HIDDEN;

int got_patch(void) AGENT_HIDDEN;           /* 0, or -1: no hooks */
void got_restore(void) AGENT_HIDDEN;
size_t got_patched(void) AGENT_HIDDEN;
/* A hash of every hooked slot's address and value, for tests: the same
 * before a start and after the stop when everything was put back. */
uint64_t got_digest(void) AGENT_HIDDEN;

/* pthread_atfork handlers: the lock is never inherited held. */
void got_atfork_prepare(void) AGENT_HIDDEN;
void got_atfork_parent(void) AGENT_HIDDEN;
void got_atfork_child(void) AGENT_HIDDEN;

#endif
