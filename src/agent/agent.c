/*
 * agent.c -- the agent's life: set-up when the library loads (environment,
 * FIFO, mode, finding Python), the start of recording once the interpreter
 * is initialized, fork, and the last flush at exit.
 *
 * Set-up happens in a constructor, before the program's main(): that is
 * where the agent takes itself out of LD_PRELOAD and removes its STETHO_AGENT*
 * variables (unless children are followed), so the program and whatever it
 * runs see the environment they would have had without stetho.  Only a
 * Python process does that: a wrapper that is not Python (a shell script,
 * env, pyenv's shim) passes the agent on to the Python it runs.
 */
#include "agent/agent.h"
#include "agent/calls.h"
#include "agent/gcpause.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct agent agent = { .fifo.state = AGENT_FIFO_NONE };
_Atomic int agent_state = AGENT_OFF;
_Atomic int agent_finalizing;
_Atomic uint64_t agent_code_epoch;
_Atomic uint64_t agent_tstate_epoch;
_Atomic uint64_t agent_sub_interps[AGENT_SUB_INTERPS];
_Atomic int agent_sub_interps_any;
AGENT_TLS int agent_guard;

static _Atomic int installing;
static int counting_calls;             /* --calls: calls.h */
static int timing_gc;                  /* the API gcpause.h needs is there */

/* ---- time ----
 *
 * Every event is stamped, and clock_gettime costs about 20 ns, a third of
 * an event.  Where the kernel itself keeps time with the TSC (so it runs
 * at a constant rate, in step on every CPU), each thread reads the clock
 * once per ANCHOR_NS and extrapolates in between with rdtsc, at a rate
 * measured against the clock since the agent loaded. */

#define ANCHOR_NS 10000000ull           /* 10 ms */
#define CALIBRATE_NS 100000000ull       /* the rate is trusted after 100 ms */

int agent_tsc_usable;
static uint64_t cal_ns, cal_tsc;        /* clock and TSC when the agent loaded */
static _Atomic uint64_t tick_scale;     /* ns per tick, 32.32 fixed point; 0: none */
static _Atomic uint64_t tick_limit;     /* ticks in ANCHOR_NS */
static AGENT_TLS uint64_t anchor_ns, anchor_tsc;

uint64_t agent_clock_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

#if defined(__x86_64__)
#include <x86intrin.h>
static uint64_t ticks(void)
{
    return __rdtsc();
}
#else
static uint64_t ticks(void)
{
    return 0;
}
#endif

static void tsc_init(void)
{
    char src[32] = "";
    int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                  O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, src, sizeof src - 1);
        src[n > 0 ? n : 0] = 0;
        close(fd);
    }
#if defined(__x86_64__)
    agent_tsc_usable = strcmp(src, "tsc\n") == 0;
#endif
    cal_ns = agent_clock_ns();
    cal_tsc = ticks();
}

static void calibrate(uint64_t ns, uint64_t tsc)
{
    if (ns - cal_ns < CALIBRATE_NS || tsc <= cal_tsc)
        return;
    uint64_t scale = (uint64_t)(((unsigned __int128)(ns - cal_ns) << 32) / (tsc - cal_tsc));
    if (!scale)
        return;
    atomic_store_explicit(&tick_limit,
                          (uint64_t)(((unsigned __int128)ANCHOR_NS << 32) / scale),
                          memory_order_relaxed);
    atomic_store_explicit(&tick_scale, scale, memory_order_relaxed);
}

uint64_t agent_now(void)
{
    uint64_t scale = atomic_load_explicit(&tick_scale, memory_order_relaxed);
    if (LIKELY(scale && anchor_ns)) {
        uint64_t dt = ticks() - anchor_tsc;
        if (dt < atomic_load_explicit(&tick_limit, memory_order_relaxed))
            return anchor_ns + (uint64_t)(((unsigned __int128)dt * scale) >> 32);
    }
    uint64_t ns = agent_clock_ns();
    if (agent_tsc_usable) {
        anchor_tsc = ticks();
        anchor_ns = ns;
        calibrate(ns, anchor_tsc);
    }
    return ns;
}

/* CLOCK_MONOTONIC as of the kernel's last tick (1-4 ms behind at most),
 * from the vDSO without reading the TSC: a quarter of agent_now()'s cost
 * (record.c's record_time() says when that is precise enough). */
uint64_t agent_now_coarse(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

uint64_t agent_tick_scale(void)
{
    if (!agent_tsc_usable)
        return 1ull << 32;
    /* over everything since the agent loaded: the longest baseline there is */
    uint64_t ns = agent_clock_ns(), tsc = ticks();
    if (ns <= cal_ns || tsc <= cal_tsc)
        return 1ull << 32;
    return (uint64_t)(((unsigned __int128)(ns - cal_ns) << 32) / (tsc - cal_tsc));
}

void agent_turn_off(void)
{
    atomic_store(&agent_state, AGENT_OFF);
    inside_fifo_lost();
}

/* Called by a hook while waiting for Python: once the interpreter is
 * initialized, its main thread wraps the allocator domains and recording
 * starts.  Nothing is recorded before: pymalloc's arenas mapped then would
 * be counted once as mmap and again object by object. */
int agent_try_start(void)
{
    int guard = guard_enter();
    int started = 0;
    if (pyhooks_ready() && atomic_exchange(&installing, 1) == 0) {
        if (counting_calls)
            calls_schedule();
        if (agent_fifo_fd(&agent.fifo) >= 0) {
            if (timing_gc)
                gcpause_schedule();     /* queued: runs once we are out of the hook */
            pyhooks_install();
            evalhook_install();
            atomic_store(&agent_state, AGENT_ON);
            started = 1;
        } else {
            atomic_store(&agent_state, AGENT_OFF);     /* calls only: no memory */
        }
    }
    guard_leave(guard);
    return started;
}

/* ---- environment ---- */

static int is_agent_path(const char *s, size_t n)
{
    const char *base = s;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/')
            base = s + i + 1;
    return (size_t)(s + n - base) >= 15 && strncmp(base, "libstetho_agent", 15) == 0;
}

/* LD_PRELOAD without us: what stetho saved, or the list minus our entries. */
static void restore_preload(void)
{
    const char *orig = getenv(AGENT_ENV_PRELOAD_ORIG);
    if (orig) {
        if (*orig)
            setenv("LD_PRELOAD", orig, 1);
        else
            unsetenv("LD_PRELOAD");
        return;
    }
    const char *cur = getenv("LD_PRELOAD");
    if (!cur)
        return;
    size_t len = strlen(cur), o = 0;
    char *kept = malloc(len + 1);
    if (!kept)
        return;
    for (const char *p = cur; *p;) {
        size_t n = strcspn(p, ": ");
        if (n && !is_agent_path(p, n)) {
            if (o)
                kept[o++] = ':';
            memcpy(kept + o, p, n);
            o += n;
        }
        p += n;
        if (*p)
            p++;
    }
    kept[o] = 0;
    if (o)
        setenv("LD_PRELOAD", kept, 1);
    else
        unsetenv("LD_PRELOAD");
    free(kept);
}

/* envp: the array the constructor was given.  Not `environ`: in a program
 * that copy-relocates it, that copy is only filled in after constructors
 * run; libc's getenv/unsetenv already work on this array, in place. */
static void clean_env(char **envp)
{
    restore_preload();
    for (int again = 1; again;) {          /* unsetenv shifts the array */
        again = 0;
        for (char **e = envp; e && *e; e++) {
            if (strncmp(*e, "STETHO_AGENT", 12) != 0)
                continue;
            char name[256];
            size_t n = strcspn(*e, "=");
            if (n >= sizeof name)
                continue;
            memcpy(name, *e, n);
            name[n] = 0;
            unsetenv(name);
            again = 1;
            break;
        }
    }
}

static int parse_mode(const char *mode)
{
    size_t len = mode ? strlen(mode) : 0, nl = strlen(AGENT_MODE_NATIVE);
    agent.native = len >= nl && !strcmp(mode + len - nl, AGENT_MODE_NATIVE);
    if (agent.native)
        len -= nl;
    if (!len || (len == 5 && !strncmp(mode, "exact", 5))) {
        agent.sampled = 0;
        return 0;
    }
    if (strncmp(mode, "sampled:", 8) != 0)
        return -1;
    char *end;
    errno = 0;
    unsigned long long mean = strtoull(mode + 8, &end, 10);
    if (errno || end == mode + 8 || end != mode + len || mean == 0)
        return -1;
    agent.sampled = 1;
    agent.mean = mean;
    return 0;
}

/* ---- fork ---- */

static void atfork_prepare(void)
{
    chunks_atfork_prepare();
}

static void atfork_parent(void)
{
    chunks_atfork_parent();
}

static void atfork_child(void)
{
    int st = atomic_load(&agent_state);
    int keep = agent.follow && (st == AGENT_ON || st == AGENT_WAIT_PY);
    agent.pid = getpid();
    sample_atfork_child();
    native_atfork_child();
    mappings_reset(1);
    chunks_atfork_child(keep);
    evalhook_atfork_child(keep);
    atomic_fetch_add(&agent_tstate_epoch, 1);       /* thread ids changed */
    if (!keep) {
        atomic_store(&agent_state, AGENT_OFF);
        agent_fifo_close(&agent.fifo);  /* so stetho sees EOF when the parent is done */
    }
}

/* ---- load and exit ---- */

/* Everything a recording needs, once the FIFO path and mode are known:
 * from the constructor (preloaded) or from inside_start (dlopen'ed into a
 * running interpreter, which may record several times). */
int agent_setup(const char *fifo_path, const char *mode)
{
    static int once;
    if (parse_mode(mode) < 0 || (!agent.python && pyhooks_init() < 0))
        return -1;
    /* without libunwind, the blocks are recorded with their Python stacks
     * only (stetho checked it is there before asking) */
    if (agent.native && native_init() < 0)
        agent.native = 0;
    if (agent_fifo_open(&agent.fifo, fifo_path) < 0)
        return -1;
    agent.nursery = !agent.sampled && !agent.native;   /* nursery.h */
    if (!once) {
        once = 1;
        chunks_init();
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    }
    sample_init();
    return 0;
}

/* glibc passes (argc, argv, envp) to constructors. */
__attribute__((constructor)) static void agent_load(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    int guard = guard_enter();
    agent_resolve();
    tsc_init();
    agent.pid = getpid();
    const char *no_mb = getenv(AGENT_ENV_NO_MEMBARRIER);
    agent.asym_off = no_mb && strcmp(no_mb, "1") == 0;
    /* dlopen'ed into an interpreter that is running already (the Python
     * API, src/agent/inside.c): the environment is the program's own, and
     * nothing records until it is asked to */
    int (*initialized)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    if (initialized && initialized()) {
        guard_leave(guard);
        return;
    }
    char path[4096] = "", mode[64] = "";
    const char *v = getenv(AGENT_ENV_FIFO);
    int have_path = v && *v && strlen(v) < sizeof path;
    if (have_path)
        strcpy(path, v);
    v = getenv(AGENT_ENV_MODE);
    int mode_ok = !v || strlen(v) < sizeof mode;
    if (v && mode_ok)
        strcpy(mode, v);
    char ring_path[4096] = "";
    v = getenv(AGENT_ENV_RING);
    if (v && strlen(v) < sizeof ring_path)
        strcpy(ring_path, v);
    v = getenv(AGENT_ENV_FOLLOW);
    agent.follow = v && strcmp(v, "1") == 0;
    counting_calls = calls_init(getenv(AGENT_ENV_CALLS));
    timing_gc = gcpause_init();
    /* Only a Python process takes the agent out of the environment: a
     * wrapper (pyenv's shim is a shell script, a launcher, env) must pass
     * it on to the Python it execs. */
    if (!agent.follow && initialized)
        clean_env(envp);

    /* memory needs the FIFO; counting calls (calls.h) needs only Python */
    if (!mode_ok || (have_path ? agent_setup(path, mode) < 0
                               : !counting_calls || pyhooks_init() < 0)) {
        guard_leave(guard);
        return;                             /* inert: only forward */
    }
    /* else the FIFO takes the chunks; mapped for good: its clock can be read
     * with no care for an unmapping */
    if (have_path && !agent.sampled && ring_attach(ring_path) == 0)
        agent.clock = ring_clock();
    atomic_store(&agent_state, AGENT_WAIT_PY);
    guard_leave(guard);
}

/* Before exec: send every thread's chunk (the image and its buffers are
 * about to go); recording goes on in case exec fails.  Not in a vfork
 * child (see below), nor while inside the agent. */
void agent_flush_before_exec(void)
{
    if (getpid() != agent.pid || guard_held() ||
        atomic_load(&agent_state) != AGENT_ON)
        return;
    int guard = guard_enter();
    /* the image's mappings go with it: what they held counts until now */
    if (!atomic_load(&agent_finalizing))
        mappings_send_all(0);
    chunks_flush_all();
    guard_leave(guard);
}

/* The last flush: at exit (destructor) and at _exit (interpose.c), which
 * forked children use.  Not in a vfork child (it shares our memory but is
 * another process: agent.pid is still its parent's). */
void agent_flush_at_exit(void)
{
    if (getpid() != agent.pid)
        return;
    int st = AGENT_ON;
    if (!atomic_compare_exchange_strong(&agent_state, &st, AGENT_CLOSED)) {
        st = AGENT_WAIT_PY;
        atomic_compare_exchange_strong(&agent_state, &st, AGENT_OFF);
        return;
    }
    int guard = guard_enter();
    /* what the mappings hold as the process goes (os._exit, a C exit: no
     * FINALIZING sent them); never waiting for the table's lock, as below,
     * and not from a signal handler that interrupted the agent (this
     * thread may be inside its own event) */
    if (!guard && !atomic_load(&agent_finalizing))
        mappings_send_all(0);
    chunks_flush_all();
    guard_leave(guard);
}

__attribute__((destructor)) static void agent_unload(void)
{
    agent_flush_at_exit();
}
