/*
 * pyhooks.c -- the interpreter in our own process: find it when the agent
 * loads, wrap its RAW, MEM and OBJ allocator domains once it is
 * initialized, and notice when it starts to finalize.
 *
 * The wrappers call the allocator they replaced and record the block, with
 * the guard held around the call: what that allocator does underneath
 * (pymalloc's arena mmaps, PyMem_RawMalloc -> malloc, a large PyObject_Malloc
 * that falls through to the RAW domain) is then not recorded a second time.
 * The Python C API is called only here at set-up, never on the hot path.
 */
#include "agent/agent.h"
#include "agent/event.h"
#include "agent/fast.h"
#include "cpython/layout.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* PyMemAllocatorEx and PyMemAllocatorDomain: unchanged since 3.5. */
struct py_allocator {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t size);
    void (*free)(void *ctx, void *ptr);
};
enum { DOMAIN_RAW = 0, DOMAIN_MEM = 1, DOMAIN_OBJ = 2, DOMAINS = 3 };

struct domain {
    struct py_allocator prev;
    int allocator;              /* AGENT_ALLOC_PYMEM_RAW ... */
    int domain;
};

static struct domain domains[DOMAINS] = {
    { .allocator = AGENT_ALLOC_PYMEM_RAW, .domain = DOMAIN_RAW },
    { .allocator = AGENT_ALLOC_PYMEM, .domain = DOMAIN_MEM },
    { .allocator = AGENT_ALLOC_PYOBJECT, .domain = DOMAIN_OBJ },
};

static int (*py_is_initialized)(void);
static void (*py_get_allocator)(int domain, struct py_allocator *a);
static void (*py_set_allocator)(int domain, struct py_allocator *a);
static uintptr_t code_type;         /* &PyCode_Type */
static uintptr_t main_thread_at;    /* &_PyRuntime.main_thread */
static uint64_t ts_interp;          /* offsetof(PyThreadState, interp) */

/* ---- recording from the wrappers ---- */

/* Python-domain events are recorded until the interpreter finalizes: from
 * then on its thread states and frames are being torn down.  Inline: it
 * runs on every event (the call was ~6 of its ~15 instructions). */
static inline __attribute__((always_inline)) int py_recording(void)
{
    if (UNLIKELY(atomic_load_explicit(&agent_state, memory_order_relaxed) != AGENT_ON))
        return 0;
    if (UNLIKELY(atomic_load_explicit(&agent_finalizing, memory_order_relaxed)))
        return 0;
    if (UNLIKELY(agent.finalizing_at &&
                 __atomic_load_n((void **)agent.finalizing_at, __ATOMIC_RELAXED))) {
        record_finalizing();
        return 0;
    }
    return 1;
}

/* A sub-interpreter's thread state (interp: its interp field), or the
 * interpreter itself (3.11-3.13 keep its first thread state inside it, and
 * allocate it on its own: the block is the interpreter), is the block at
 * p, about to be freed.  An interpreter freed leaves the table. */
static __attribute__((noinline)) int sub_interp_free(uint64_t interp, uintptr_t p)
{
    int hit = 0;
    for (int i = 0; i < AGENT_SUB_INTERPS; i++) {
        uint64_t known = atomic_load_explicit(&agent_sub_interps[i], memory_order_relaxed);
        if (!known)
            continue;
        if (known == interp)
            hit = 1;
        if (known == p) {
            atomic_compare_exchange_strong(&agent_sub_interps[i], &known, 0);
            hit = 1;
        }
    }
    return hit;
}

/* A block is about to be freed: if it is a code object or a thread state,
 * the stack caches that may hold its address must be dropped.  A code
 * object is not GC-tracked, so the block starts with the object and its
 * type is at +8; a thread state's interp pointer is at ts_interp (the
 * main interpreter's, or a sub-interpreter's where a thread of ours ran:
 * sub_interp_free).  A false positive only costs a cache refill. */
static inline __attribute__((always_inline)) void note_free(int domain, const void *p)
{
    if (domain == DOMAIN_OBJ) {
        if (((const uintptr_t *)p)[1] == code_type && code_type)
            atomic_fetch_add_explicit(&agent_code_epoch, 1, memory_order_relaxed);
    } else if (domain == DOMAIN_RAW && agent.main_interp) {
        uint64_t interp;
        memcpy(&interp, (const char *)p + ts_interp, sizeof interp);
        if (interp == agent.main_interp ||
            (UNLIKELY(atomic_load_explicit(&agent_sub_interps_any, memory_order_relaxed)) &&
             sub_interp_free(interp, (uintptr_t)p)))
            atomic_fetch_add_explicit(&agent_tstate_epoch, 1, memory_order_relaxed);
    }
}

/* Each wrapper first tries sampled mode's common case (fast.h), then the
 * full path.  The fast path sets the guard around the call all the same
 * (it knows it was clear), so what the allocator does underneath (a large
 * PyObject_Malloc falling through to the RAW domain, then malloc) is
 * neither counted against the countdown a second time nor recorded. */
#define FULL_PATH __attribute__((noinline))

/* Once FINALIZING was sent nothing is recorded: the rest of the exit's
 * calls (every object the program still held is freed then, a quarter
 * of alloc_objects' frees in a one-loop run) only forward, inline, where
 * they went through the full path's call and checks (~25 instructions
 * each, callgrind).  Tested after the fast path, so it costs that
 * nothing. */
static inline int forward_only(void)
{
    return atomic_load_explicit(&agent_finalizing, memory_order_relaxed);
}

static FULL_PATH void *w_malloc_full(struct domain *d, size_t n)
{
    if (guard_held() || !py_recording())
        return d->prev.malloc(d->prev.ctx, n);
    int guard = guard_enter();
    void *p = d->prev.malloc(d->prev.ctx, n);
    if (p)
        event_alloc(d->allocator, p, n);
    guard_leave(guard);
    return p;
}

static inline void *w_malloc(struct domain *d, size_t n)
{
    if (LIKELY(fast_alloc_skips(n))) {
        agent_guard = 1;
        void *p = d->prev.malloc(d->prev.ctx, n);
        agent_guard = 0;
        return p;
    }
    if (UNLIKELY(forward_only()))
        return d->prev.malloc(d->prev.ctx, n);
    return w_malloc_full(d, n);
}

static FULL_PATH void *w_calloc_full(struct domain *d, size_t n, size_t size)
{
    if (guard_held() || !py_recording())
        return d->prev.calloc(d->prev.ctx, n, size);
    int guard = guard_enter();
    void *p = d->prev.calloc(d->prev.ctx, n, size);
    if (p)
        event_alloc(d->allocator, p, n * size);
    guard_leave(guard);
    return p;
}

static inline void *w_calloc(struct domain *d, size_t n, size_t size)
{
    size_t total;
    if (LIKELY(!__builtin_mul_overflow(n, size, &total) && fast_alloc_skips(total))) {
        agent_guard = 1;
        void *p = d->prev.calloc(d->prev.ctx, n, size);
        agent_guard = 0;
        return p;
    }
    if (UNLIKELY(forward_only()))
        return d->prev.calloc(d->prev.ctx, n, size);
    return w_calloc_full(d, n, size);
}

static FULL_PATH void *w_realloc_full(struct domain *d, void *p, size_t n)
{
    if (guard_held() || !py_recording())
        return d->prev.realloc(d->prev.ctx, p, n);
    int guard = guard_enter();
    int claim = record_realloc_claim(p);
    uint64_t t = p && claim ? record_time(thread_get()) : 0;     /* claim 0: no free to time */
    void *q = d->prev.realloc(d->prev.ctx, p, n);
    if (q)
        record_realloc(d->allocator, p, q, n, t, claim);
    else
        record_realloc_failed(p, claim);
    guard_leave(guard);
    return q;
}

/* Neither the old block nor the new one is sampled: a realloc is a free
 * and an allocation of its new size, as record_realloc counts it. */
static inline void *w_realloc(struct domain *d, void *p, size_t n)
{
    if (LIKELY((!p || fast_free_skips(p)) && fast_alloc_skips(n))) {
        agent_guard = 1;
        void *q = d->prev.realloc(d->prev.ctx, p, n);
        agent_guard = 0;
        return q;
    }
    if (UNLIKELY(forward_only()))
        return d->prev.realloc(d->prev.ctx, p, n);
    return w_realloc_full(d, p, n);
}

static FULL_PATH void w_free_full(struct domain *d, void *p)
{
    if (!p || guard_held() || !py_recording()) {
        d->prev.free(d->prev.ctx, p);
        return;
    }
    int guard = guard_enter();
    note_free(d->domain, p);
    event_free(d->allocator, p);
    d->prev.free(d->prev.ctx, p);
    guard_leave(guard);
}

/* domain: d's, as a constant (each wrapper passes its own) */
static inline void w_free(struct domain *d, int domain, void *p)
{
    if (LIKELY(p && !guard_held() && fast_free_skips(p))) {
        /* Without the guard (a tail call: ~6 instructions a free less,
         * json_dumps' sampled mode 1.5 M of them): whatever the allocator
         * frees underneath -- a large block going back to the RAW domain,
         * then libc; an emptied arena unmapped -- is the same address, so
         * its wrapper finds the same filter counter at 0 and forwards too,
         * or, if another thread sampled a block there meanwhile, takes the
         * full path, where sample_remove() knows p was never sampled.  The
         * arena's munmap only looks up a mapping it does not have. */
        note_free(domain, p);
        d->prev.free(d->prev.ctx, p);
        return;
    }
    if (UNLIKELY(p && forward_only())) {
        d->prev.free(d->prev.ctx, p);
        return;
    }
    w_free_full(d, p);
}

/* The allocator Python calls holds these, one set per domain, which find
 * their domain without the ctx pointer: PyMem_SetAllocator copies the
 * struct field by field while other threads may call PyMem_RawMalloc (no
 * GIL needed), so a caller may see our function with the ctx we replaced,
 * or the reverse, while a recording starts or stops in a running
 * interpreter.  (The reverse is harmless for Python's own allocators,
 * which ignore ctx.) */
#define DOMAIN_WRAPPERS(i)                                                              \
    static void *w##i##_malloc(void *ctx, size_t n)                                     \
    {                                                                                   \
        (void)ctx;                                                                      \
        return w_malloc(&domains[i], n);                                                \
    }                                                                                   \
    static void *w##i##_calloc(void *ctx, size_t n, size_t size)                        \
    {                                                                                   \
        (void)ctx;                                                                      \
        return w_calloc(&domains[i], n, size);                                          \
    }                                                                                   \
    static void *w##i##_realloc(void *ctx, void *p, size_t n)                           \
    {                                                                                   \
        (void)ctx;                                                                      \
        return w_realloc(&domains[i], p, n);                                            \
    }                                                                                   \
    static void w##i##_free(void *ctx, void *p)                                         \
    {                                                                                   \
        (void)ctx;                                                                      \
        w_free(&domains[i], i, p);                                                      \
    }
DOMAIN_WRAPPERS(0)
DOMAIN_WRAPPERS(1)
DOMAIN_WRAPPERS(2)
_Static_assert(DOMAIN_RAW == 0 && DOMAIN_MEM == 1 && DOMAIN_OBJ == 2, "wrappers by index");

static const struct py_allocator wrappers[DOMAINS] = {
    { &domains[0], w0_malloc, w0_calloc, w0_realloc, w0_free },
    { &domains[1], w1_malloc, w1_calloc, w1_realloc, w1_free },
    { &domains[2], w2_malloc, w2_calloc, w2_realloc, w2_free },
};

/* ---- set-up ---- */

static int version_of(int *major, int *minor, int *micro)
{
    const unsigned long *hex = dlsym(RTLD_DEFAULT, "Py_Version");       /* 3.11+ */
    if (hex) {
        *major = (int)((*hex >> 24) & 0xff);
        *minor = (int)((*hex >> 16) & 0xff);
        *micro = (int)((*hex >> 8) & 0xff);
        return 0;
    }
    const char *(*get_version)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT,
                                                                    "Py_GetVersion");
    if (!get_version)
        return -1;
    const char *v = get_version();      /* "3.9.18 (main, ...": no init needed */
    if (!v || sscanf(v, "%d.%d.%d", major, minor, micro) < 2)
        return -1;
    return 0;
}

/* process_vm_readv on ourselves: a read that cannot fault, for the walk of
 * the interpreter's thread list, which other threads change under us.
 * Seccomp may forbid it; stack.c then falls back to plain reads. */
static int safe_reads_work(void)
{
    uint64_t probe = 0x5354, out = 0;
    struct iovec l = { &out, sizeof out }, r = { &probe, sizeof probe };
    return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)sizeof out && out == probe;
}

int pyhooks_init(void)
{
    void *runtime = dlsym(RTLD_DEFAULT, "_PyRuntime");
    *(void **)&py_is_initialized = dlsym(RTLD_DEFAULT, "Py_IsInitialized");
    *(void **)&py_get_allocator = dlsym(RTLD_DEFAULT, "PyMem_GetAllocator");
    *(void **)&py_set_allocator = dlsym(RTLD_DEFAULT, "PyMem_SetAllocator");
    if (!runtime || !py_is_initialized || !py_get_allocator || !py_set_allocator)
        return -1;
    int major = 0, minor = 0, micro = -1;
    if (version_of(&major, &minor, &micro) < 0)
        return -1;
    code_type = (uintptr_t)dlsym(RTLD_DEFAULT, "PyCode_Type");

    struct py_error err;
    if (py_target_init(&agent.target, getpid(), reader_local(), major, minor, micro,
                       (uintptr_t)runtime, code_type, &err) != PY_OK)
        return -1;
    const struct py_layout *l = &agent.target.layout;
    if (l->rt_main_thread == PY_NOFIELD || l->ts_interp == PY_NOFIELD)
        return -1;
    agent.runtime = (uintptr_t)runtime;
    main_thread_at = agent.runtime + l->rt_main_thread;
    agent.finalizing_at = l->rt_finalizing == PY_NOFIELD ? 0 : agent.runtime + l->rt_finalizing;
    ts_interp = l->ts_interp;
    agent.safe_reads = safe_reads_work();
    agent.python = 1;
    return 0;
}

/* Initialized, and we are on the thread that initialized it (so no other
 * thread runs Python code yet while we swap the allocators). */
int pyhooks_ready(void)
{
    if (!py_is_initialized())
        return 0;
    pthread_t main_thread;
    memcpy(&main_thread, (const void *)main_thread_at, sizeof main_thread);
    return pthread_equal(main_thread, pthread_self());
}

void pyhooks_install(void)
{
    const struct py_layout *l = &agent.target.layout;
    memcpy(&agent.main_interp, (const void *)(agent.runtime + l->rt_interpreters_head),
           sizeof agent.main_interp);
    for (int i = 0; i < DOMAINS; i++) {
        struct domain *d = &domains[i];
        struct py_allocator cur;
        py_get_allocator(d->domain, &cur);
        /* ours already (someone wrapped us and gave us back): d->prev is
         * still what we replaced; never make ourselves our own prev */
        if (cur.malloc == wrappers[i].malloc)
            continue;
        d->prev = cur;
        struct py_allocator w = wrappers[i];
        py_set_allocator(d->domain, &w);
    }
}

/* Only where ours is still the allocator: if something wrapped it since
 * (tracemalloc started in the window), that keeps calling ours, which
 * forwards.  d->prev stays as it is: a thread still inside a wrapper
 * forwards to it. */
void pyhooks_uninstall(void)
{
    for (int i = 0; i < DOMAINS; i++) {
        struct py_allocator cur;
        py_get_allocator(domains[i].domain, &cur);
        if (cur.malloc == wrappers[i].malloc)
            py_set_allocator(domains[i].domain, &domains[i].prev);
    }
}
