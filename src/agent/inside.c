/*
 * inside.c -- start and stop a recording from inside the process (inside.h).
 */
#include "agent/inside.h"
#include "agent/agent.h"
#include "agent/got.h"
#include "agent/calls.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic int recording;       /* started here and not stopped */
static char error[256];

/* To stop by ourselves when stetho goes away (inside_fifo_lost): found at
 * the start, with the GIL, never from inside a hook (dlsym may allocate). */
static int (*add_pending_call)(int (*)(void *), void *);
static int (*is_finalizing)(void);
static _Atomic int stop_queued;

static int fail(const char *fmt, const char *arg)
{
    snprintf(error, sizeof error, fmt, arg);
    return -1;
}

/* PyMem_SetAllocator needs the GIL: ctypes.CDLL would have released it. */
static int have_gil(void)
{
    int (*check)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "PyGILState_Check");
    return check && check();
}

AGENT_EXPORT const char *stetho_agent_error(void)
{
    return error;
}

AGENT_EXPORT long stetho_agent_hooked(void)
{
    int guard = guard_enter();
    size_t n = got_patched();
    guard_leave(guard);
    return (long)n;
}

AGENT_EXPORT unsigned long long stetho_agent_got_digest(void)
{
    int guard = guard_enter();
    uint64_t d = got_digest();
    guard_leave(guard);
    return d;
}

/* A pending call: in the main thread, with the GIL, between bytecodes. */
static int stop_pending(void *unused)
{
    (void)unused;
    if (atomic_load(&recording))
        stetho_agent_stop();
    atomic_store(&stop_queued, 0);
    return 0;                           /* never an exception in the program */
}

/* The FIFO broke (stetho was killed, or closed it without stopping us):
 * the hooks already only forward (agent_turn_off); have the main thread
 * remove them at its next safe point.  Any thread, inside a hook:
 * Py_AddPendingCall takes no lock we could hold and allocates nothing. */
void inside_fifo_lost(void)
{
    if (!atomic_load(&recording) || !add_pending_call ||
        (is_finalizing && is_finalizing()) || atomic_exchange(&stop_queued, 1))
        return;
    if (add_pending_call(stop_pending, NULL) != 0)
        atomic_store(&stop_queued, 0);
}

static void find_pending_calls(void)
{
    add_pending_call = (int (*)(int (*)(void *), void *))dlsym(RTLD_DEFAULT,
                                                                "Py_AddPendingCall");
    is_finalizing = (int (*)(void))dlsym(RTLD_DEFAULT, "Py_IsFinalizing");    /* 3.13+ */
    if (!is_finalizing)
        is_finalizing = (int (*)(void))dlsym(RTLD_DEFAULT, "_Py_IsFinalizing");
    if (!is_finalizing)
        add_pending_call = NULL;        /* cannot tell when it is unsafe: never */
}

/* The ring for the next start (stetho_agent_use_ring), if any. */
static char ring_path[4096];

AGENT_EXPORT int stetho_agent_use_ring(const char *path)
{
    if (recording)
        return fail("a recording is already on in this process%s", "");
    if (!path || strlen(path) >= sizeof ring_path)
        return fail("bad ring path%s", "");
    strcpy(ring_path, path);
    return 0;
}

static int start(const char *fifo_path, const char *mode, int follow)
{
    static int atfork_once;
    if (recording)
        return fail("a recording is already on in this process%s", "");
    if (atomic_load(&agent_state) != AGENT_OFF)
        return fail("this process is recorded already (it runs under `stetho run`)%s", "");
    if (!have_gil())
        return fail("stetho_agent_start must be called with the GIL held%s", "");
    if (strncmp(mode, "exact", 5) != 0 && strncmp(mode, "sampled:", 8) != 0)
        return fail("bad memory mode '%s' (exact or sampled:BYTES)", mode);
    agent.pid = getpid();
    find_pending_calls();
    errno = 0;
    if (agent_setup(fifo_path, mode) < 0) {
        if (!agent.python)
            return fail("this interpreter's memory layout is not supported%s", "");
        if (agent_fifo_fd(&agent.fifo) < 0)
            return fail("cannot open the memory FIFO: %s",
                        errno ? strerror(errno) : "bad mode");
        return fail("bad memory mode '%s'", mode);
    }
    agent.follow = follow;
    if (!atfork_once) {
        atfork_once = 1;
        pthread_atfork(got_atfork_prepare, got_atfork_parent, got_atfork_child);
    }
    chunks_new_session();
    mappings_reset(0);              /* the new reader knows none of them */
    if (ring_path[0] && !agent.sampled)
        ring_attach(ring_path);     /* else the FIFO takes the chunks */
    ring_path[0] = 0;
    if (got_patch() < 0) {
        got_restore();
        ring_detach();
        agent_fifo_close(&agent.fifo);
        return fail("cannot hook the allocator functions (is the agent preloaded?)%s", "");
    }
    pyhooks_install();
    evalhook_install();
    atomic_store(&agent_state, AGENT_ON);
    recording = 1;
    return 0;
}

AGENT_EXPORT int stetho_agent_start(const char *fifo_path, const char *mode, int follow_children)
{
    int guard = guard_enter();
    int rc = start(fifo_path, mode ? mode : "exact", follow_children);
    guard_leave(guard);
    return rc;
}

AGENT_EXPORT int stetho_agent_stop(void)
{
    if (!recording)
        return fail("no recording to stop%s", "");
    if (!have_gil())
        return fail("stetho_agent_stop must be called with the GIL held%s", "");
    int guard = guard_enter();
    atomic_store(&agent_state, AGENT_OFF);
    got_restore();
    pyhooks_uninstall();
    evalhook_uninstall();
    chunks_end_session();
    ring_detach();
    agent_fifo_close(&agent.fifo);
    recording = 0;
    guard_leave(guard);
    return 0;
}

AGENT_EXPORT int stetho_agent_calls_start(const char *fifo_path)
{
    if (!have_gil())
        return fail("stetho_agent_calls_start must be called with the GIL held%s", "");
    if (calls_start_inside(fifo_path) < 0)
        return fail("cannot count calls here (counting already, or not Python 3.9+)%s", "");
    return 0;
}

AGENT_EXPORT int stetho_agent_calls_stop(void)
{
    if (!have_gil())
        return fail("stetho_agent_calls_stop must be called with the GIL held%s", "");
    if (calls_stop_inside() < 0)
        return fail("no call count to stop%s", "");
    return 0;
}
