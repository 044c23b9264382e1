/*
 * sampler.c -- the sampling loop's body: processes -> threads -> samples.
 */
#include "sampler/sampler.h"
#include "sampler/timesplit.h"
#include "cpython/target.h"
#include "cpython/walker.h"
#include "cpython/gcstats.h"
#include "cpython/threadnames.h"
#include "cpython/asyncio.h"
#include "proc/freeze.h"
#include "proc/threadstat.h"
#include "proc/threads.h"
#include "native/capframe.h"
#include "native/merge.h"
#include "native/perf.h"
#include "native/unwind.h"
#include "util/array.h"
#include "util/hash.h"
#include "util/mix.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHILD_SCAN_EVERY 5      /* ticks between looks for new children */
#define EAGER_ATTEMPTS 200      /* discovery on every tick at first ... */
#define LAZY_EVERY 25           /* ... then on every 25th */
#define LATE_FACTOR 3           /* ticks are jittered to 1.25 intervals at most, */
#define LATE_SLACK_NS 50000000u /* and a loaded machine delays a wake-up a little */

struct thread_slot {
    pid_t tid;
    int seen;                   /* in the latest snapshot */
    int named;
    uint64_t name_hash;         /* of the Python name last written, 0: none */
    uint32_t last_stack;        /* its previous sample's stack ... */
    uint64_t last_tick;         /* ... taken at this tick */
    struct timesplit split;
    /* --native by perf: the thread's event, and its last native stack */
    struct perf_thread *perf;
    int perf_failed;            /* no event: not tried again */
    struct native_frame *kept;  /* its last native stack ... */
    size_t nkept, cap_kept;
    int has_kept;
    uint64_t kept_generation;   /* ... of this native_generation() */
    uint64_t kept_sp, kept_pc, kept_cpu;    /* blocked there, with this much
                                               CPU time: 0 if from a copy */
    uint64_t kept_py;           /* the Python stack it was merged with */
    uint64_t py_prev;           /* the Python stack at the previous tick */
};

/* (code object, line) -> capture frame id, so a steady-state sample does
 * not hash a function's name and file again for every frame: direct-mapped,
 * emptied whenever the process's code cache changes what its entries are. */
#define FRAME_CACHE 4096

struct frame_slot {
    const struct code_info *code;
    int32_t line;
    uint32_t frame;
};

struct process {
    pid_t pid, ppid;
    int alive;
    int open;                   /* target usable */
    int announced;              /* PROCESS record written */
    unsigned attempts;
    int walk_failures;
    struct py_target target;
    struct frame_slot *frames;      /* FRAME_CACHE slots, or NULL */
    uint64_t frames_generation;     /* the code cache's, when they were made */
    struct threadstat *stat;
    struct thread_slot *threads;
    size_t nthreads, cap;
    struct py_tasks tasks;          /* --async: asyncio's tasks at this tick */
    int tasks_ok;                   /*   1 if they were read */
    struct cap_gc_point gc;         /* the collector's counters last written */
    int gc_known;
    struct native_session *native;  /* --native, once opened */
    int native_perf;                /*   by perf events (else ptrace) */
};

#define NATIVE_MAX 512          /* native frames kept per thread and sample */

struct sampler {
    struct capture_writer *w;
    struct sampler_opts opts;
    uint64_t start_ns;
    struct process *procs;
    size_t nprocs, cap;
    struct py_snapshot snap;
    uint64_t ticks, samples;
    char last_error[512];
    uint32_t synthetic_gc;      /* frame ids, made on first use */
    uint32_t unsampled;         /* stack id of "[unsampled]", likewise */
    uint32_t event_loop;        /* frame id of "<event loop>", likewise */
    char cmdline[65536];        /* scratch for /proc/PID/cmdline */
    /* --native: the snapshot's threads' native stacks (NATIVE_MAX each) */
    struct native_frame *nat;
    size_t *nnat, cap_nat;          /* per snapshot thread; room for cap_nat */
    struct merged_frame *merged;    /* one thread's merged stack */
    struct sampler_native_stats native_stats;
};

/* A thread's perf event and kept native stack (perf), let go. */
static void thread_native_free(struct thread_slot *t)
{
    perf_thread_close(t->perf);
    free(t->kept);
    t->perf = NULL;
    t->perf_failed = 0;
    t->kept = NULL;
    t->nkept = t->cap_kept = 0;
    t->has_kept = 0;
}

/* The native session closed (the process ended, exec'd): with it go what
 * its threads' stacks pointed into. */
static void process_native_close(struct process *p)
{
    for (size_t i = 0; i < p->nthreads; i++)
        thread_native_free(&p->threads[i]);
    native_close(p->native);
    p->native = NULL;
}

struct sampler *sampler_new(struct capture_writer *w, const struct sampler_opts *o,
                            uint64_t start_ns)
{
    struct sampler *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->w = w;
    s->opts = *o;
    s->start_ns = start_ns;
    return s;
}

static void process_close(struct process *p)
{
    free(p->frames);
    p->frames = NULL;
    if (p->open)
        py_target_close(&p->target);
    p->open = 0;
    threadstat_free(p->stat);
    process_native_close(p);
    p->stat = NULL;
    free(p->threads);
    p->threads = NULL;
    p->nthreads = p->cap = 0;
    py_tasks_free(&p->tasks);
}

void sampler_free(struct sampler *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nprocs; i++)
        process_close(&s->procs[i]);
    free(s->procs);
    py_snapshot_free(&s->snap);
    free(s->nat);
    free(s->nnat);
    free(s->merged);
    free(s);
}

/* The live process with this pid (a pid may be reused after an exit). */
static struct process *find_process(struct sampler *s, pid_t pid)
{
    for (size_t i = 0; i < s->nprocs; i++)
        if (s->procs[i].pid == pid && s->procs[i].alive)
            return &s->procs[i];
    return NULL;
}

int sampler_add(struct sampler *s, pid_t pid, pid_t ppid)
{
    if (find_process(s, pid))
        return 0;
    struct process *p = NULL;
    for (size_t i = 0; i < s->nprocs && !p; i++)
        if (!s->procs[i].alive)
            p = &s->procs[i];          /* reuse an ended one's slot */
    if (p) {
        memset(p, 0, sizeof *p);
        p->pid = pid;
        p->ppid = ppid;
        p->alive = 1;
        return 0;
    }
    if (s->nprocs == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4;
        struct process *np = realloc(s->procs, ncap * sizeof *np);
        if (!np)
            return -1;
        s->procs = np;
        s->cap = ncap;
    }
    p = &s->procs[s->nprocs++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->ppid = ppid;
    p->alive = 1;
    return 0;
}

static uint64_t rel(const struct sampler *s, uint64_t now)
{
    return now > s->start_ns ? now - s->start_ns : 0;
}

/* Read /proc/PID/cmdline into an argv (for the PROCESS record). */
static int read_cmdline(pid_t pid, char *buf, size_t len, char **argv, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = 0;
    int argc = 0;
    for (size_t i = 0; i < n && argc < max; i += strlen(buf + i) + 1)
        argv[argc++] = buf + i;
    return argc;
}

static void announce(struct sampler *s, struct process *p, uint64_t now)
{
    char *argv[512];
    struct cap_process cp = {0};
    cp.pid = p->pid;
    cp.ppid = p->ppid;
    cp.start_ns = rel(s, now);
    cp.python_version = p->open ? p->target.version : NULL;
    cp.python_executable = p->open ? p->target.exe : NULL;
    cp.argc = read_cmdline(p->pid, s->cmdline, sizeof s->cmdline, argv, 512);
    cp.argv = argv;
    if (cp.argc == 0 && p->ppid == 0 && s->opts.argv) {
        while (s->opts.argv[cp.argc])
            cp.argc++;
        cp.argv = (char **)s->opts.argv;
    }
    capw_process(s->w, &cp);
    p->announced = 1;
}

/* Perf events refused here: said once, and kept for the stats. */
static void perf_refused_say(struct sampler *s, int err)
{
    struct sampler_native_stats *ns = &s->native_stats;
    if (ns->refused[0])
        return;
    snprintf(ns->refused, sizeof ns->refused, "%s", strerror(err));
    if (s->opts.quiet)
        return;
    if (s->opts.native == SAMPLER_NATIVE_PERF)
        fprintf(stderr, "stetho: --native=perf: perf events are refused here (%s: "
                "kernel.perf_event_paranoid, a seccomp filter or a container); sampling "
                "without native frames\n", ns->refused);
    else
        fprintf(stderr, "stetho: --native: perf events are refused here (%s: "
                "kernel.perf_event_paranoid, a seccomp filter or a container); pausing "
                "the threads with ptrace at each sample instead\n", ns->refused);
}

static uint64_t perf_period(const struct sampler *s)
{
    return s->opts.interval_ns ? s->opts.interval_ns : 10000000u;
}

/* The native session of p, by perf events unless told otherwise or
 * refused (tried on the main thread first, so a refusal is known before
 * the first sample); without one the process is sampled as without
 * --native. */
static void open_native(struct sampler *s, struct process *p)
{
    char why[400];
    p->native_perf = 0;
    if (s->opts.native != SAMPLER_NATIVE_PTRACE) {
        int err = 0;
        struct perf_thread *probe = perf_thread_open(p->pid, perf_period(s), &err);
        perf_thread_close(probe);
        if (probe || !perf_refused(err)) {
            p->native = native_open_copy(p->pid, why, sizeof why);
            p->native_perf = p->native != NULL;
        } else {
            perf_refused_say(s, err);
            if (s->opts.native == SAMPLER_NATIVE_PERF)
                return;
        }
    }
    if (!p->native_perf)
        p->native = native_open(p->pid, why, sizeof why);
    if (!p->native && p->ppid == 0)
        snprintf(s->last_error, sizeof s->last_error, "--native: %s", why);
}

static int try_open(struct sampler *s, struct process *p, uint64_t now)
{
    if (p->attempts >= EAGER_ATTEMPTS && s->ticks % LAZY_EVERY)
        return 0;
    p->attempts++;
    struct py_error err;
    if (py_target_open(&p->target, p->pid, &err) != PY_OK) {
        if (p->ppid == 0)
            snprintf(s->last_error, sizeof s->last_error, "%s", err.msg);
        return 0;
    }
    p->open = 1;
    p->walk_failures = 0;
    if (s->opts.native && !p->native)
        open_native(s, p);
    if (!p->stat)
        p->stat = threadstat_new(p->pid);
    if (!p->announced)
        announce(s, p, now);
    return 1;
}

static struct thread_slot *thread_slot(struct process *p, pid_t tid)
{
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i].tid == tid)
            return &p->threads[i];
    if (p->nthreads == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 8;
        struct thread_slot *nt = realloc(p->threads, ncap * sizeof *nt);
        if (!nt)
            return NULL;
        p->threads = nt;
        p->cap = ncap;
    }
    struct thread_slot *t = &p->threads[p->nthreads++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    return t;
}

/* Forget threads that were not in this snapshot (ended). */
static void drop_unseen(struct process *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i].seen) {
            p->threads[i].seen = 0;
            p->threads[k++] = p->threads[i];
        } else {
            thread_native_free(&p->threads[i]);
        }
    p->nthreads = k;
}

static uint32_t python_frame(struct sampler *s, struct process *p, const struct py_frame *f)
{
    int32_t line = f->line > 0 ? f->line : 0;          /* 0: unknown */
    uint64_t gen = codecache_generation(p->target.codes);
    if (!p->frames || p->frames_generation != gen) {
        if (!p->frames)
            p->frames = malloc(FRAME_CACHE * sizeof *p->frames);
        if (p->frames)
            memset(p->frames, 0, FRAME_CACHE * sizeof *p->frames);
        p->frames_generation = gen;
    }
    struct frame_slot *slot = NULL;
    if (p->frames) {
        uint64_t h = mix64((uint64_t)(uintptr_t)f->code ^ ((uint64_t)(uint32_t)line << 48));
        slot = &p->frames[h & (FRAME_CACHE - 1)];
        if (slot->frame && slot->code == f->code && slot->line == line)
            return slot->frame;
    }
    uint32_t frame = capw_frame(s->w, f->code->name, f->code->filename, line,
                                f->code->firstlineno, CAP_FRAME_PYTHON);
    if (slot && frame)
        *slot = (struct frame_slot){ f->code, line, frame };
    return frame;
}

/* frames[0..n), innermost first, pushed onto stack. */
static uint32_t intern_frames(struct sampler *s, struct process *p, const struct py_frame *frames,
                              size_t n, uint32_t stack)
{
    for (size_t k = n; k-- > 0;) {             /* root (outermost) first */
        const struct py_frame *f = &frames[k];
        uint32_t frame;
        if (f->code)
            frame = python_frame(s, p, f);
        else
            frame = capw_frame(s->w, py_frame_name(f), "", 0, 0, CAP_FRAME_SYNTHETIC);
        stack = capw_stack(s->w, stack, frame);
    }
    return stack;
}

/* Snapshot thread i's Python stack merged with its native one. */
static uint32_t intern_merged(struct sampler *s, struct process *p, size_t i)
{
    const struct py_thread *th = &s->snap.threads[i];
    const struct py_frame *py = s->snap.frames + th->first;
    const struct native_frame *nat = s->nat + i * NATIVE_MAX;
    if (!s->nnat[i]) {
        s->native_stats.missing++;
        return intern_frames(s, p, py, th->n, 0);
    }
    struct merge_info info;
    size_t n = native_merge(py, th->n, nat, s->nnat[i], p->target.binary, p->target.exe,
                            s->merged, &info);
    s->native_stats.samples++;
    s->native_stats.partial += !info.complete;
    uint32_t stack = 0;
    for (size_t k = n; k-- > 0;) {              /* root (outermost) first */
        const struct merged_frame *m = &s->merged[k];
        stack = m->native ? capw_stack(s->w, stack, native_capture_frame(s->w, &nat[m->index]))
                          : intern_frames(s, p, &py[m->index], 1, stack);
    }
    return stack;
}

static uint32_t intern_stack(struct sampler *s, struct process *p, const struct py_thread *th,
                             int gc)
{
    uint32_t stack = p->native && s->nnat
                         ? intern_merged(s, p, (size_t)(th - s->snap.threads))
                         : intern_frames(s, p, s->snap.frames + th->first, th->n, 0);
    if (gc) {
        if (!s->synthetic_gc)
            s->synthetic_gc = capw_frame(s->w, "[gc]", "", 0, 0, CAP_FRAME_SYNTHETIC);
        stack = capw_stack(s->w, stack, s->synthetic_gc);
    }
    return stack;
}

static const enum cap_wait AWAIT_WAIT[] = {
    [PY_AWAIT_NONE] = CAP_WAIT_OTHER, [PY_AWAIT_READY] = CAP_WAIT_OTHER,
    [PY_AWAIT_SLEEP] = CAP_WAIT_SLEEP, [PY_AWAIT_LOCK] = CAP_WAIT_LOCK,
    [PY_AWAIT_IO] = CAP_WAIT_IO, [PY_AWAIT_OTHER] = CAP_WAIT_OTHER,
};

/* --async (sampler.h): the tasks of the loop on thread th.  cs is the
 * thread's sample; its stack becomes the running task's, or the loop's
 * own; the suspended tasks' samples are written here. */
static void sample_tasks(struct sampler *s, struct process *p, const struct py_thread *th,
                         struct cap_sample *cs)
{
    const struct py_tasks *ts = &p->tasks;
    int any = 0, running = 0;
    for (size_t i = 0; i < ts->n; i++) {
        const struct py_task *task = &ts->v[i];
        if (task->thread_id != th->thread_id)
            continue;
        any = 1;
        char label[PY_TASK_NAME_MAX * 4 + 16];
        snprintf(label, sizeof label, "<task %s>", task->name ? task->name : "?");
        uint32_t root = capw_stack(s->w, 0, capw_frame(s->w, label, "", 0, 0,
                                                       CAP_FRAME_SYNTHETIC));
        uint32_t stack = intern_frames(s, p, ts->frames + task->first, task->n, root);
        if (task->running && !running) {
            running = 1;
            cs->stack = stack;
            continue;
        }
        struct cap_sample ws = *cs;
        ws.user_ns = ws.sys_ns = 0;
        memset(ws.wait_ns, 0, sizeof ws.wait_ns);
        ws.wait_ns[AWAIT_WAIT[task->await]] = cs->wall_ns;
        ws.stack = stack;
        capw_sample(s->w, &ws);
        s->samples++;
    }
    if (any && !running) {
        if (!s->event_loop)
            s->event_loop = capw_frame(s->w, "<event loop>", "", 0, 0, CAP_FRAME_SYNTHETIC);
        cs->stack = intern_frames(s, p, s->snap.frames + th->first, th->n,
                                  capw_stack(s->w, 0, s->event_loop));
    }
}

/* An interval far longer than asked for, with another stack at each end:
 * nobody saw what ran in most of it.  The stack seen now stands for the
 * last nominal interval; the time before goes to "[unsampled]", written as
 * a sample of its own that ends where the kept part begins, each component
 * split in proportion (so both samples keep wall = user + sys + waits
 * exactly).  The same stack at both ends keeps the whole interval, as any
 * sample does. */
static void split_late(struct sampler *s, struct cap_sample *cs, uint32_t prev_stack)
{
    uint64_t keep = s->opts.interval_ns, wall = cs->wall_ns;
    uint64_t late = LATE_FACTOR * keep > keep + LATE_SLACK_NS ? LATE_FACTOR * keep
                                                               : keep + LATE_SLACK_NS;
    if (!keep || wall <= late || cs->stack == prev_stack)
        return;
    if (!s->unsampled) {
        uint32_t f = capw_frame(s->w, "[unsampled]", "", 0, 0, CAP_FRAME_SYNTHETIC);
        s->unsampled = f ? capw_stack(s->w, 0, f) : 0;
        if (!s->unsampled)
            return;
    }
    struct cap_sample early = *cs;
    uint64_t *parts[2 + CAP_WAIT_KINDS] = { &cs->user_ns, &cs->sys_ns };
    uint64_t *eparts[2 + CAP_WAIT_KINDS] = { &early.user_ns, &early.sys_ns };
    for (int i = 0; i < CAP_WAIT_KINDS; i++) {
        parts[2 + i] = &cs->wait_ns[i];
        eparts[2 + i] = &early.wait_ns[i];
    }
    early.wall_ns = 0;
    for (int i = 0; i < 2 + CAP_WAIT_KINDS; i++) {
        *eparts[i] = (uint64_t)((unsigned __int128)*parts[i] * (wall - keep) / wall);
        *parts[i] -= *eparts[i];
        early.wall_ns += *eparts[i];
    }
    early.stack = s->unsampled;
    early.t_ns = cs->t_ns - (wall - early.wall_ns);
    cs->wall_ns = wall - early.wall_ns;
    capw_sample(s->w, &early);
}

/* The collector's counters, read with the walk: a record when they changed
 * (so the last one is at most a tick old when the process ends). */
static void record_gc(struct sampler *s, struct process *p, uint64_t now)
{
    struct cap_gc_point g = { .t_ns = rel(s, now), .pid = p->pid };
    if (py_gc_stats(&s->snap, &g) < 0)
        return;
    if (p->gc_known && !memcmp(g.collections, p->gc.collections, sizeof g.collections) &&
        !memcmp(g.collected, p->gc.collected, sizeof g.collected) &&
        !memcmp(g.uncollectable, p->gc.uncollectable, sizeof g.uncollectable))
        return;
    p->gc = g;
    p->gc_known = 1;
    capw_gc(s->w, &g);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Room for n snapshot threads' native stacks, none yet; s->nnat NULL
 * when out of memory (then the samples are without native frames). */
static void native_rows(struct sampler *s, size_t n)
{
    free(s->nnat);
    s->nnat = NULL;
    if (n > s->cap_nat) {
        free(s->nat);
        s->nat = malloc(n * NATIVE_MAX * sizeof *s->nat);
        s->cap_nat = s->nat ? n : 0;
    }
    if (!s->merged)
        s->merged = malloc((PY_MAX_DEPTH + NATIVE_MAX) * sizeof *s->merged);
    s->nnat = s->nat && s->merged ? calloc(n, sizeof *s->nnat) : NULL;
}

/* Keep nat[0..n) as the thread's last native stack (blocked at sp, pc
 * with cpu ns of CPU time; all 0: from a copy), under Python stack py. */
static void keep_native(struct process *p, struct thread_slot *t, const struct native_frame *nat,
                        size_t n, uint64_t sp, uint64_t pc, uint64_t cpu, uint64_t py)
{
    t->has_kept = 0;
    if (n && ARRAY_RESERVE(t->kept, n - 1, t->cap_kept) < 0)
        return;                         /* out of memory: nothing kept */
    memcpy(t->kept, nat, n * sizeof *nat);
    t->nkept = n;
    t->has_kept = 1;
    t->kept_generation = native_generation(p->native);
    t->kept_sp = sp;
    t->kept_pc = pc;
    t->kept_cpu = cpu;
    t->kept_py = py;
}

/* A Python stack's identity: its frames' code and line. */
static uint64_t python_stack_hash(const struct py_frame *f, size_t n)
{
    uint64_t h = n + 1;
    for (size_t k = 0; k < n; k++)
        h = mix64(h ^ (uint64_t)(uintptr_t)f[k].code ^ ((uint64_t)(uint32_t)f[k].line << 40));
    return h;
}

/* --native by perf (sampler.h): thread t's native stack into row i.  A
 * copy was taken up to a period of the thread's CPU time before the
 * Python stack was read: when the Python stack changed since the previous
 * tick, the copy may be of before the change, and a copy that does not
 * merge fully with it is left out (counted without native frames) rather
 * than put under Python frames it did not run in.  A kept stack is used
 * again only under the same Python stack. */
static void perf_native(struct sampler *s, struct process *p, struct thread_slot *t, size_t i,
                        const struct thread_times *tt)
{
    struct sampler_native_stats *ns = &s->native_stats;
    struct native_frame *out = s->nat + i * NATIVE_MAX;
    const struct py_thread *th = &s->snap.threads[i];
    const struct py_frame *py = s->snap.frames + th->first;
    uint64_t t0 = mono_ns();
    uint64_t h = python_stack_hash(py, th->n);
    int py_moved = t->py_prev != h;
    t->py_prev = h;
    if (!t->perf && !t->perf_failed) {
        int err = 0;
        t->perf = perf_thread_open(t->tid, perf_period(s), &err);
        t->perf_failed = !t->perf;      /* refused for this one thread: the
                                           locked-memory limit; it has the
                                           blocked unwinds only */
    }
    if (t->has_kept && (t->kept_generation != native_generation(p->native) || t->kept_py != h))
        t->has_kept = 0;                /* its strings are gone, or its Python stack */
    struct perf_sample ps;
    size_t n = 0;
    if (t->perf && perf_thread_latest(t->perf, &ps) > 0) {
        n = native_unwind_copy(p->native, t->tid, &ps.regs, ps.stack, ps.stack_len, out,
                               NATIVE_MAX);
        struct merge_info info;
        if (py_moved && n)
            native_merge(py, th->n, out, n, p->target.binary, p->target.exe, s->merged, &info);
        if (py_moved && n && !info.complete)
            n = 0;
        else
            keep_native(p, t, out, n, 0, 0, 0, h);
        ns->copies++;
    } else if (tt->state != 'R' && tt->user_pc) {
        if (t->has_kept && t->kept_sp == tt->user_sp && t->kept_pc == tt->user_pc &&
            t->kept_cpu == tt->cpu_ns) {
            n = t->nkept;               /* blocked there since, not run */
            memcpy(out, t->kept, n * sizeof *out);
            ns->reused++;
        } else {
            struct native_regs regs = { .known = 1u << NATIVE_REG_SP | 1u << NATIVE_REG_PC };
            regs.r[NATIVE_REG_SP] = tt->user_sp;
            regs.r[NATIVE_REG_PC] = tt->user_pc;
            n = native_unwind_copy(p->native, t->tid, &regs, NULL, 0, out, NATIVE_MAX);
            keep_native(p, t, out, n, tt->user_sp, tt->user_pc, tt->cpu_ns, h);
            ns->blocked++;
        }
    } else if (t->has_kept) {
        n = t->nkept;                   /* ran too little for a new copy */
        memcpy(out, t->kept, n * sizeof *out);
        ns->reused++;
    }
    s->nnat[i] = n;
    ns->unwind_ns += mono_ns() - t0;
}

/* --native: the walk with every thread of p held, and each thread's native
 * stack read in the same moment.  Without native stacks (none could be
 * held, out of memory) s->nnat is NULL and the walk is the plain one. */
static int walk_native(struct sampler *s, struct process *p)
{
    pid_t *tids = NULL;
    size_t ntids = 0, held = 0;
    free(s->nnat);
    s->nnat = NULL;
    uint64_t t0 = mono_ns();
    if (threads_list(p->pid, &tids, &ntids) == 0)
        held = freeze_threads(tids, ntids);
    int rc = py_walk(&p->target, &s->snap);
    size_t n = s->snap.nthreads;
    if (rc == 0 && held && n) {
        native_rows(s, n);
        for (size_t i = 0; s->nnat && i < n; i++)
            for (size_t k = 0; k < held; k++)
                if (tids[k] == s->snap.threads[i].tid) {
                    s->nnat[i] = native_unwind(p->native, tids[k], s->nat + i * NATIVE_MAX,
                                               NATIVE_MAX);
                    break;
                }
    }
    thaw_threads(tids, held);
    free(tids);
    s->native_stats.held_ns += mono_ns() - t0;
    s->native_stats.ticks++;
    return rc;
}

static void sample_process(struct sampler *s, struct process *p, uint64_t now)
{
    if (!p->open && !try_open(s, p, now))
        return;
    int perf = p->native && p->native_perf;
    if ((p->native && !perf ? walk_native(s, p) : py_walk(&p->target, &s->snap)) < 0) {
        /* finalised, exec'd, or gone: look for it again on later ticks */
        if (++p->walk_failures >= 3) {
            py_target_close(&p->target);
            free(p->frames);            /* its code cache is gone with it */
            p->frames = NULL;
            process_native_close(p);    /* and its modules, if it exec'd */
            p->open = 0;
            p->attempts = 0;
        }
        return;
    }
    p->walk_failures = 0;
    if (p->native) {
        s->native_stats.way = perf ? SAMPLER_WAY_PERF : SAMPLER_WAY_PTRACE;
        if (perf) {
            native_rows(s, s->snap.nthreads);
            s->native_stats.ticks++;
        }
    }
    record_gc(s, p, now);
    py_threadnames_update(&p->target, &s->snap, now);
    p->tasks_ok = s->opts.async_tasks && py_asyncio_read(&p->target, &s->snap, &p->tasks) == 0;
    const struct py_layout *l = &p->target.layout;
    for (size_t i = 0; i < s->snap.nthreads; i++) {
        const struct py_thread *th = &s->snap.threads[i];
        struct thread_times tt;
        if (th->tid <= 0 || (s->opts.only_tid > 0 && p->ppid == 0 && th->tid != s->opts.only_tid) ||
            threadstat_read(p->stat, th->tid, &tt) < 0)
            continue;
        struct thread_slot *slot = thread_slot(p, th->tid);
        if (!slot)
            continue;
        slot->seen = 1;
        /* threading's name, else the kernel's; a rename is a new record */
        const char *pyname = py_thread_name(&p->target, th);
        uint64_t h = pyname ? util_hash_str(pyname) : 0;
        if (!slot->named || (pyname && h != slot->name_hash)) {
            char name[64];
            capw_thread(s->w, p->pid, th->tid, pyname ? pyname
                        : thread_name(p->pid, th->tid, name, sizeof name) == 0 ? name : NULL);
            slot->named = 1;
            slot->name_hash = h;
        }
        if (perf && s->nnat)
            perf_native(s, p, slot, i, &tt);
        struct split sp;
        if (!timesplit_update(&slot->split, now, &tt, s->snap.gil_addr, l->gil_size, &sp))
            continue;
        struct cap_sample cs = {
            .pid = p->pid, .tid = th->tid, .t_ns = rel(s, now),
            .wall_ns = sp.wall, .user_ns = sp.user, .sys_ns = sp.sys,
        };
        memcpy(cs.wait_ns, sp.wait, sizeof cs.wait_ns);
        /* a stack that kept changing while read may mix moments: the
         * thread's previous one is the better guess for this interval */
        uint32_t prev_stack = slot->last_stack;
        if (th->torn && slot->last_stack && slot->last_tick + 1 == s->ticks) {
            cs.stack = slot->last_stack;
        } else {
            cs.stack = intern_stack(s, p, th, s->snap.gc_collecting == 1 && th->holds_gil == 1);
            slot->last_stack = cs.stack;
        }
        slot->last_tick = s->ticks;
        if (p->tasks_ok)
            sample_tasks(s, p, th, &cs);
        split_late(s, &cs, prev_stack);
        capw_sample(s->w, &cs);
        s->samples++;
    }
    drop_unseen(p);
    threadstat_sweep(p->stat);
}

/* Children of pid, from /proc/PID/task/TID/children (all its threads). */
static void scan_children(struct sampler *s, pid_t pid, uint64_t now)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char cpath[300];
        snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/children", (int)pid, de->d_name);
        FILE *f = fopen(cpath, "r");
        if (!f)
            continue;
        int child;
        while (fscanf(f, "%d", &child) == 1)
            if (!find_process(s, child))
                sampler_add(s, child, pid);
        fclose(f);
    }
    closedir(d);
    (void)now;
}

void sampler_tick(struct sampler *s, uint64_t now)
{
    s->ticks++;
    /* sampler_add may move procs: iterate by index, re-fetch each time */
    for (size_t i = 0; i < s->nprocs; i++) {
        if (!s->procs[i].alive)
            continue;
        if (s->opts.follow_children && s->ticks % CHILD_SCAN_EVERY == 1)
            scan_children(s, s->procs[i].pid, now);
        struct process *p = &s->procs[i];
        if (p->ppid != 0 && kill(p->pid, 0) < 0 && errno == ESRCH) {
            sampler_exited(s, p->pid, -1, now);    /* a descendant we can't wait for */
            continue;
        }
        sample_process(s, p, now);
    }
}

void sampler_exited(struct sampler *s, pid_t pid, int exit_code, uint64_t now)
{
    struct process *p = find_process(s, pid);
    if (!p || !p->alive)
        return;
    p->alive = 0;
    if (!p->announced && p->ppid == 0)
        announce(s, p, now);        /* the program, even if never Python */
    if (p->announced)
        capw_process_exit(s->w, pid, exit_code, rel(s, now));
    process_close(p);
}

size_t sampler_pids(const struct sampler *s, pid_t *pids, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nprocs && n < max; i++)
        if (s->procs[i].alive)
            pids[n++] = s->procs[i].pid;
    return n;
}

uint64_t sampler_samples(const struct sampler *s)
{
    return s->samples;
}

const char *sampler_last_error(const struct sampler *s)
{
    return s->last_error;
}

void sampler_native_stats(const struct sampler *s, struct sampler_native_stats *out)
{
    *out = s->native_stats;
}
