/*
 * evalhook.c -- exact mode: a PEP 523 frame-evaluation hook that keeps
 * each thread's shadow of its frame evaluations in progress (agent.h,
 * struct agent_shadow), so that an allocation's stack walk can stop at the
 * newest evaluation it saw before instead of going down to the root
 * (stack.c).  On json_dumps the walk and its comparison were ~55 % of the
 * agent's instructions per event (callgrind, 3.11).
 *
 * The hook pushes (frame) and calls the function it replaced, then pops
 * back to its own index: an entry in the shadow is an evaluation still
 * running, whatever happened above it (an exception, a greenlet switching
 * C stacks, a thread state swapped): nothing in it is trusted beyond that,
 * stack.c checks the frame is on the chain it walks.
 *
 * What it costs (3.11+): with a hook set the interpreter no longer inlines
 * Python-to-Python calls; each call goes through C, ~200 instructions more
 * on 3.11 (richards, callgrind), where a frame walked costs ~45.  So the
 * hook weighs itself: every EVAL_WINDOW calls in a thread, the frames its
 * walks were spared against the calls; when the calls cost more, it is
 * paused (the interpreter's own evaluation put back), and tried again
 * after a number of stacks taken that doubles at each pause (a program
 * that allocates little and calls much keeps it paused; one whose phase
 * changes gets it back).  The trial is put back by a pending call
 * (Py_AddPendingCall needs neither the GIL nor a thread state; the setter
 * needs the GIL, which a pending call has).
 *
 * What keeps it safe (3.11+): each call now recurses on the C stack and,
 * from 3.12, counts twice against the C recursion limit (1500 on 3.12).  A
 * program that recurses deeply must not crash nor raise RecursionError
 * because of us: past EVAL_DEEP evaluations in one thread, or with less
 * than EVAL_STACK_MARGIN of its C stack left, the hook steps aside, and
 * goes back in when every thread that made it step aside is back at half
 * that depth.  3.9/3.10 recurse on the C stack for every call anyway: no
 * stepping aside there, and the hook costs little.
 *
 * Where the state changes without the GIL -- a thread that stepped aside
 * ends (a thread with a small stack never steps back), a forked child
 * keeps only the forking thread -- putting ours in or out is owed
 * (agent_eval_owed): the next stack taken asks a pending call for it, or,
 * where nothing records any more (a child not followed), the hook itself
 * does it at its next call.
 *
 * Another hook already set (a debugger's, another tool's) is chained: ours
 * calls it.  Ours is put in or taken out only where the one set is the one
 * we expect (settle()); removal leaves ours chained, forwarding, where
 * another was set over it.  The setter is the Python C API, called with
 * the GIL, at install and removal and when the state changes (rare),
 * never per call.
 */
#include "agent/agent.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#define EVAL_DEEP 200                       /* 3.12: 400 of 1500 C units */
#define EVAL_STACK_MARGIN (256u * 1024u)
#define EVAL_WINDOW (1u << 14)              /* calls between two weighings */
#define RESUME_FIRST (1 << 12)              /* stacks taken paused before a trial */
#define RESUME_MAX (1 << 22)
#define SHADOW_FIRST 256
#define SHADOW_MAX (1u << 20)               /* 16 MiB: deeper is not pushed */

typedef void *(*eval_fn)(void *tstate, void *frame, int throwflag);

static void (*set_eval)(void *interp, eval_fn f);
static eval_fn (*get_eval)(void *interp);
static int (*add_pending)(int (*)(void *), void *);
static eval_fn eval_next;                   /* what ours calls */
static void *eval_interp;
static int eval_inline;                     /* 3.11+: steps aside when deep */
static unsigned eval_call_cost;             /* a call's cost, in eighths of a frame walked */
static _Atomic int eval_on;                 /* recording: ours may be set */
static _Atomic int eval_aside;              /* threads that made it step aside */
_Atomic int agent_eval_paused;              /* it cost more than it saved */
_Atomic int agent_eval_owed;                /* a settle() is owed (the head comment) */
static _Atomic int64_t eval_resume_in;      /* stacks taken before a new trial */
static _Atomic int eval_resume_queued;
static _Atomic uint32_t eval_epoch;         /* bumped at each trial: windows start anew */
static int64_t eval_backoff = RESUME_FIRST; /* with the GIL */

static void *evalhook(void *tstate, void *frame, int throwflag);

/* Ours set or not, as the state says.  With the GIL. */
static void settle(void)
{
    int want = atomic_load(&eval_on) && !atomic_load(&agent_eval_paused) &&
               !atomic_load(&eval_aside);
    eval_fn cur = get_eval(eval_interp);
    if (want && cur == eval_next)
        set_eval(eval_interp, evalhook);
    else if (!want && cur == evalhook)
        set_eval(eval_interp, eval_next);
}

static int grow(struct agent_shadow *sh)
{
    if (sh->cap >= SHADOW_MAX)
        return -1;
    uint32_t ncap = sh->cap ? sh->cap * 2 : SHADOW_FIRST;
    int guard = guard_enter();
    struct shadow_entry *ne = agent_real.realloc(sh->entries, ncap * sizeof *ne);
    if (ne && !sh->cap) {
        /* first push of this thread: how deep it may go */
        sh->gen = 1;
        sh->deep_at = eval_inline ? EVAL_DEEP : UINT32_MAX;
        sh->window = EVAL_WINDOW;
        sh->epoch = atomic_load(&eval_epoch);
        pthread_attr_t a;
        void *low;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &low, &size) == 0)
                sh->stack_low = (uintptr_t)low;
            pthread_attr_destroy(&a);
        }
    }
    if (ne) {
        /* before the guard goes: a signal handler's allocation reads them */
        sh->entries = ne;
        sh->cap = ncap;
    }
    guard_leave(guard);
    return ne ? 0 : -1;
}

/* Were the frames the walks were spared worth this window's calls? */
static __attribute__((noinline)) void weigh(struct agent_shadow *sh)
{
    uint64_t saved = sh->levels - sh->walked;
    uint32_t epoch = atomic_load(&eval_epoch);
    int current = sh->epoch == epoch;
    sh->levels = sh->walked = 0;
    sh->window = EVAL_WINDOW;
    sh->epoch = epoch;
    if (!current) {
        sh->trial = 1;          /* began before the last trial: not a fair window */
        return;
    }
    if ((uint64_t)EVAL_WINDOW * eval_call_cost <= saved * 8) {
        sh->bad = sh->trial = 0;
        eval_backoff = RESUME_FIRST;
        return;
    }
    /* a trial decides at once; else a bad window or two is a phase
     * (alloc_objects' sums, 2 in 40), three in a row a trend */
    if (++sh->bad < (sh->trial ? 1u : 3u))
        return;
    sh->bad = sh->trial = 0;
    if (!add_pending || atomic_exchange(&agent_eval_paused, 1))
        return;                 /* no way to come back: stay */
    atomic_store(&eval_resume_in, eval_backoff);
    eval_backoff = eval_backoff * 2 > RESUME_MAX ? RESUME_MAX : eval_backoff * 2;
    settle();
}

/* A pending call: with the GIL, in the main thread.  A new trial if
 * paused; and ours put in or out as the state says, which pays what is
 * owed (settle() changes nothing where nothing changed). */
static int resume(void *unused)
{
    (void)unused;
    atomic_store(&eval_resume_queued, 0);
    atomic_store(&agent_eval_owed, 0);
    if (atomic_load(&eval_on) && atomic_exchange(&agent_eval_paused, 0))
        atomic_fetch_add(&eval_epoch, 1);
    settle();
    return 0;
}

void evalhook_capture(void)
{
    int owed = atomic_load_explicit(&agent_eval_owed, memory_order_relaxed);
    if (!owed && (!atomic_load_explicit(&agent_eval_paused, memory_order_relaxed) ||
                  atomic_fetch_sub_explicit(&eval_resume_in, 1, memory_order_relaxed) != 1))
        return;
    /* not once the interpreter finalizes: its pending calls go away */
    if (!add_pending ||
        (agent.finalizing_at && __atomic_load_n((void **)agent.finalizing_at, __ATOMIC_RELAXED)))
        return;
    if (!atomic_exchange(&eval_resume_queued, 1) && add_pending(resume, NULL) != 0) {
        atomic_store(&eval_resume_queued, 0);
        atomic_store(&eval_resume_in, 1024);        /* the queue was full: later */
    }
}

static __attribute__((noinline)) void step_aside(struct agent_shadow *sh)
{
    sh->aside = 1;
    atomic_fetch_add(&eval_aside, 1);
    settle();
}

static __attribute__((noinline)) void step_back(struct agent_shadow *sh)
{
    sh->aside = 0;
    atomic_fetch_sub(&eval_aside, 1);
    settle();
}

static void *evalhook(void *tstate, void *frame, int throwflag)
{
    struct agent_thread *th = agent_self;
    if (!th || !atomic_load_explicit(&eval_on, memory_order_relaxed)) {
        /* recording ended where ours could not be taken out (a forked
         * child not followed): we hold the GIL here */
        if (UNLIKELY(atomic_load_explicit(&agent_eval_owed, memory_order_relaxed)) &&
            atomic_exchange(&agent_eval_owed, 0))
            settle();
        return eval_next(tstate, frame, throwflag);
    }
    struct agent_shadow *sh = &th->shadow;
    uint32_t d = sh->depth;
    if (UNLIKELY(d >= sh->cap) && grow(sh) < 0)
        return eval_next(tstate, frame, throwflag);
    if (UNLIKELY(d >= sh->deep_at ||
                 (uintptr_t)__builtin_frame_address(0) - sh->stack_low < EVAL_STACK_MARGIN) &&
        !sh->aside && eval_inline)
        step_aside(sh);
    if (UNLIKELY(--sh->window == 0))
        weigh(sh);
    sh->entries[d] = (struct shadow_entry){ (uint64_t)(uintptr_t)frame, 0, 0 };
    atomic_signal_fence(memory_order_release);      /* the entry, then the depth */
    sh->depth = d + 1;
    void *r = eval_next(tstate, frame, throwflag);
    /* the same thread, so the same state (it is freed only at the thread's
     * exit, after its last evaluation) */
    if (sh->depth > d)
        sh->depth = d;
    if (UNLIKELY(sh->aside) && d <= sh->deep_at / 2 &&
        (uintptr_t)__builtin_frame_address(0) - sh->stack_low >= 2 * EVAL_STACK_MARGIN)
        step_back(sh);
    return r;
}

void evalhook_install(void)
{
    if (agent.sampled || atomic_load(&eval_on))
        return;
    *(void **)&set_eval = dlsym(RTLD_DEFAULT, "_PyInterpreterState_SetEvalFrameFunc");
    *(void **)&get_eval = dlsym(RTLD_DEFAULT, "_PyInterpreterState_GetEvalFrameFunc");
    *(void **)&add_pending = dlsym(RTLD_DEFAULT, "Py_AddPendingCall");
    if (!set_eval || !get_eval || !agent.main_interp)
        return;
    eval_interp = (void *)(uintptr_t)agent.main_interp;
    eval_fn cur = get_eval(eval_interp);
    if (!cur)
        return;
    if (cur != evalhook)            /* ours still set from an earlier recording: keep its next */
        eval_next = cur;
    eval_inline = agent.target.major == 3 && agent.target.minor >= 11;
    /* measured with callgrind against a level a walk was spared (~29
     * instructions on 3.11, go; from 3.12 a hooked call adds a C shim
     * frame to the chain, so ~2 frames a level): a call through the hook
     * ~210 on 3.11 (richards), ~365 on 3.13, ~45 on 3.9 (richards) */
    eval_call_cost = !eval_inline ? 10 : agent.target.minor == 11 ? 56 : 52;
    atomic_store(&agent_eval_paused, 0);
    atomic_store(&eval_on, 1);
    settle();
}

void evalhook_uninstall(void)
{
    if (!atomic_exchange(&eval_on, 0))
        return;
    settle();
}

void evalhook_thread_free(struct agent_thread *th)
{
    /* the last thread that made ours step aside: ours may go back in, but
     * not from here (no GIL) */
    if (th->shadow.aside && atomic_fetch_sub(&eval_aside, 1) == 1)
        atomic_store(&agent_eval_owed, 1);
    agent_real.free(th->shadow.entries);
    memset(&th->shadow, 0, sizeof th->shadow);
}

/* Only this thread goes on: the others' steps aside went with them; a
 * trial queued by the parent is the parent's (its pending call may never
 * run here).  Not followed, the child records nothing: ours comes out.
 * Either way only with the GIL, later (agent_eval_owed). */
void evalhook_atfork_child(int keep)
{
    if (!eval_interp)
        return;
    struct agent_thread *self = agent_self;
    atomic_store(&eval_aside, self && self->shadow.aside ? 1 : 0);
    atomic_store(&eval_resume_queued, 0);
    if (!keep)
        atomic_store(&eval_on, 0);
    atomic_store(&agent_eval_owed, 1);
}
