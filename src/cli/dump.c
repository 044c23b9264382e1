/*
 * dump.c -- `stetho dump [--json] PID`: every thread's Python stack, now.
 *
 * The process is not stopped: the stacks are read while it runs.  A stack
 * that changed while it was read is read again (walker.h), up to 200 times;
 * a thread so busy that it never held still that long is then paused for
 * the moment of one more read (ptrace, as py-spy's dump always does), so
 * every stack printed is one the thread really had.  With --async, each
 * asyncio task follows with its await chain (asyncio.h), innermost first,
 * ending in a `<task NAME>` line.
 *
 * With --native every thread is held still (freeze.h) for the moment of
 * reading both its Python stack and its native one (native/unwind.h), so the
 * two are of the same instant; they are then merged (native/merge.h).
 */
#include "cli/cli.h"
#include "cpython/target.h"
#include "cpython/walker.h"
#include "cpython/threadnames.h"
#include "cpython/asyncio.h"
#include "proc/freeze.h"
#include "proc/reader_image.h"
#include "proc/threads.h"
#include "native/merge.h"
#include "native/unwind.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

static void dump_usage(FILE *f)
{
    fputs("usage: stetho dump [--json] [--async] [--native] PID\n"
          "  Print the current Python stack of every thread of process PID,\n"
          "  innermost frame first.\n"
          "  --json         one JSON object: {pid, python_version, threads: [{tid, name,\n"
          "                 holds_gil, frames: [{function, file, line}]}]}\n"
          "  --async        also every asyncio task's await chain, innermost first\n"
          "                 (JSON: tasks: [{name, tid, state, frames}]); state is\n"
          "                 running, or what it awaits: sleep, lock, io, ready, other\n"
          "  --native       also the C/C++ frames, merged with the Python ones; the\n"
          "                 threads are paused (ptrace) while their stacks are read\n", f);
}

/* threading's name of the thread, else the kernel's */
static void thread_label(const struct py_target *t, const struct py_thread *th, char *name,
                         size_t len)
{
    const char *py = py_thread_name(t, th);
    name[0] = 0;
    if (py)
        snprintf(name, len, "%s", py);
    else if (th->tid > 0 && thread_name(t->pid, th->tid, name, len) < 0)
        name[0] = 0;
}

#define NATIVE_MAX 1024        /* frames per thread */

/* The native stacks of a snapshot's threads, read with the Python ones. */
struct native_stacks {
    struct native_session *session;     /* owns the frames' strings */
    struct native_frame *frames;    /* NATIVE_MAX per snapshot thread */
    size_t *n;                      /* per snapshot thread */
    struct merged_frame *merged;    /* scratch: one thread's merged stack */
    const char *interpreter;        /* the module holding the interpreter */
    const char *exe;                /* the process's executable */
    size_t partial;                 /* threads merged partially */
};

static void print_py_text(const struct py_frame *f)
{
    if (f->code)
        printf("    %s (%s:%d)\n", f->code->name, f->code->filename, f->line);
    else
        printf("    %s\n", py_frame_name(f));
}

static void print_native_text(const struct native_frame *f)
{
    const char *name = f->symbol;
    const char *mod = f->module ? strrchr(f->module, '/') : NULL;
    mod = mod ? mod + 1 : f->module;
    if (name && f->file)
        printf("    [native] %s (%s:%d, %s)\n", name, f->file, f->line, mod ? mod : "?");
    else if (name)
        printf("    [native] %s (%s)\n", name, mod ? mod : "?");
    else if (mod)
        printf("    [native] %s+0x%llx\n", mod, (unsigned long long)f->addr);
    else
        printf("    [native] 0x%llx\n", (unsigned long long)f->pc);
}

/* Thread i's stack merged with its native one: how many frames. */
static size_t merge_thread(const struct py_snapshot *s, struct native_stacks *ns, size_t i,
                           struct merge_info *info)
{
    const struct py_thread *th = &s->threads[i];
    size_t n = native_merge(&s->frames[th->first], th->n, &ns->frames[i * NATIVE_MAX], ns->n[i],
                            ns->interpreter, ns->exe, ns->merged, info);
    ns->partial += !info->complete;
    return n;
}

static void print_merge_info(const struct merge_info *info)
{
    if (!info->complete)
        printf(" (native merge partial: %zu interpreter calls in the native stack, "
               "%zu in the Python one)", info->eval_calls, info->entries);
}

static void print_text(const struct py_target *t, const struct py_snapshot *s,
                       struct native_stacks *ns)
{
    printf("Process %d: Python %s (%s)\n", (int)t->pid, t->version, t->binary);
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct py_thread *th = &s->threads[i];
        char name[1024];    /* a Python name: up to 255 characters (1021 bytes) */
        thread_label(t, th, name, sizeof name);
        printf("\nThread %d", (int)th->tid);
        if (name[0])
            printf(" \"%s\"", name);
        if (th->holds_gil == 1)
            printf(" (holds the GIL)");
        if (th->n == 0)
            printf(" (no Python frames)");
        if (!ns) {
            putchar('\n');
            for (size_t k = 0; k < th->n; k++)
                print_py_text(&s->frames[th->first + k]);
            continue;
        }
        struct merge_info info;
        size_t n = merge_thread(s, ns, i, &info);
        print_merge_info(&info);
        putchar('\n');
        for (size_t k = 0; k < n; k++) {
            const struct merged_frame *m = &ns->merged[k];
            if (m->native)
                print_native_text(&ns->frames[i * NATIVE_MAX + m->index]);
            else
                print_py_text(&s->frames[th->first + m->index]);
        }
    }
    if (ns && ns->partial)
        printf("\n%zu of %zu threads: native and Python frames merged partially "
               "(every Python frame kept, in order)\n", ns->partial, s->nthreads);
}

/* The kernel tid of the snapshot's thread with this pthread ident, or 0. */
static int tid_of(const struct py_snapshot *s, uint64_t ident)
{
    for (size_t i = 0; ident && i < s->nthreads; i++)
        if (s->threads[i].thread_id == ident)
            return (int)s->threads[i].tid;
    return 0;
}

static void print_tasks_text(const struct py_snapshot *s, const struct py_tasks *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        const struct py_task *task = &ts->v[i];
        const char *name = task->name ? task->name : "?";
        printf("\nTask \"%s\" (%s", name, py_await_name(task->await));
        int tid = tid_of(s, task->thread_id);
        if (tid)
            printf(", thread %d", tid);
        fputs(")\n", stdout);
        for (size_t k = 0; k < task->n; k++)
            print_py_text(&ts->frames[task->first + k]);
        printf("    <task %s>\n", name);
    }
}

/* A Python frame as JSON: {"function", "file", "line"}. */
static void print_frame_json(const struct py_frame *f)
{
    fputs("{\"function\": ", stdout);
    json_string(stdout, py_frame_name(f));
    fputs(", \"file\": ", stdout);
    json_string(stdout, py_frame_file(f));
    printf(", \"line\": %d}", f->line);
}

/* A stack as JSON: [{"function", "file", "line"}, ...], innermost first. */
static void print_frames_json(const struct py_frame *frames, size_t n)
{
    fputs("[", stdout);
    for (size_t k = 0; k < n; k++) {
        fputs(k ? ", " : "", stdout);
        print_frame_json(&frames[k]);
    }
    fputs("]", stdout);
}

static void print_native_json(const struct native_frame *f)
{
    fputs("{\"kind\": \"native\", \"function\": ", stdout);
    json_string(stdout, f->symbol);
    fputs(", \"file\": ", stdout);
    json_string(stdout, f->file);
    printf(", \"line\": %d, \"module\": ", f->line);
    json_string(stdout, f->module);
    fputs(", \"build_id\": ", stdout);
    json_string(stdout, f->build_id[0] ? f->build_id : NULL);
    printf(", \"address\": %llu}", (unsigned long long)f->addr);
}

/* Thread i's merged stack as JSON, Python frames as print_frames_json's. */
static void print_merged_json(const struct py_snapshot *s, struct native_stacks *ns, size_t i)
{
    struct merge_info info;
    size_t n = merge_thread(s, ns, i, &info);
    const struct py_frame *py = &s->frames[s->threads[i].first];
    fputs("[", stdout);
    for (size_t k = 0; k < n; k++) {
        const struct merged_frame *m = &ns->merged[k];
        if (k)
            fputs(", ", stdout);
        if (m->native)
            print_native_json(&ns->frames[i * NATIVE_MAX + m->index]);
        else
            print_frame_json(&py[m->index]);
    }
    printf("], \"native_merge\": {\"complete\": %s, \"eval_calls\": %zu, "
           "\"python_calls\": %zu}", info.complete ? "true" : "false", info.eval_calls,
           info.entries);
}

static void print_tasks_json(const struct py_snapshot *s, const struct py_tasks *ts)
{
    fputs(", \"tasks\": [", stdout);
    for (size_t i = 0; i < ts->n; i++) {
        const struct py_task *task = &ts->v[i];
        fputs(i ? ", {\"name\": " : "{\"name\": ", stdout);
        json_string(stdout, task->name);
        int tid = tid_of(s, task->thread_id);
        if (tid)
            printf(", \"tid\": %d, \"state\": ", tid);
        else
            fputs(", \"tid\": null, \"state\": ", stdout);
        json_string(stdout, py_await_name(task->await));
        fputs(", \"frames\": ", stdout);
        print_frames_json(&ts->frames[task->first], task->n);
        fputs("}", stdout);
    }
    fputs("]", stdout);
}

static void print_json(const struct py_target *t, const struct py_snapshot *s,
                       const struct py_tasks *ts, struct native_stacks *ns)
{
    printf("{\"pid\": %d, \"python_version\": ", (int)t->pid);
    json_string(stdout, t->version);
    fputs(", \"threads\": [", stdout);
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct py_thread *th = &s->threads[i];
        char name[1024];    /* a Python name: up to 255 characters (1021 bytes) */
        thread_label(t, th, name, sizeof name);
        printf("%s{\"tid\": %d, \"name\": ", i ? ", " : "", (int)th->tid);
        json_string(stdout, name[0] ? name : NULL);
        printf(", \"holds_gil\": %s, \"frames\": ",
               th->holds_gil < 0 ? "null" : th->holds_gil ? "true" : "false");
        if (ns)
            print_merged_json(s, ns, i);
        else
            print_frames_json(&s->frames[th->first], th->n);
        fputs("}", stdout);
    }
    fputs("]", stdout);
    if (ns)
        printf(", \"native_partial\": %zu", ns->partial);
    if (ts)
        print_tasks_json(s, ts);
    fputs("}\n", stdout);
}

/* Walk again with the threads whose stacks never held still paused. */
static int rewalk_torn(struct py_target *t, struct py_snapshot *snap)
{
    pid_t tids[256];
    size_t n = 0;
    for (size_t i = 0; i < snap->nthreads && n < 256; i++)
        if (snap->threads[i].torn && snap->threads[i].tid > 0)
            tids[n++] = snap->threads[i].tid;
    if (!n)
        return 0;
    size_t held = freeze_threads(tids, n);
    if (!held)
        return 0;                       /* keep the best effort */
    int rc = py_walk(t, snap);
    thaw_threads(tids, held);
    return rc;
}

static void native_stacks_free(struct native_stacks *ns)
{
    native_close(ns->session);
    free(ns->frames);
    free(ns->n);
    free(ns->merged);
}

/* Walk the Python stacks with every thread held, and unwind each thread's
 * native stack in the same moment.  0; -1 if the Python threads could not
 * be read; else an exit status (the message given). */
static int walk_native(struct py_target *t, struct py_snapshot *snap, struct native_stacks *ns)
{
    char why[512];
    struct native_session *nsess = ns->session = native_open(t->pid, why, sizeof why);
    if (!nsess)
        return cli_error("--native: %s", why);
    pid_t *tids = NULL;
    size_t ntids = 0, held = 0;
    int rc = 0;
    if (threads_list(t->pid, &tids, &ntids) < 0 || !(held = freeze_threads(tids, ntids))) {
        rc = cli_error("--native: cannot pause the threads of process %d (ptrace: "
                       "already traced, or not permitted?)", (int)t->pid);
        goto out;
    }
    if (py_walk(t, snap) < 0) {
        rc = -1;
        goto out;
    }
    ns->frames = malloc(snap->nthreads * NATIVE_MAX * sizeof *ns->frames + 1);
    ns->n = calloc(snap->nthreads + 1, sizeof *ns->n);
    ns->merged = malloc((PY_MAX_DEPTH + NATIVE_MAX) * sizeof *ns->merged);
    if (!ns->frames || !ns->n || !ns->merged) {
        rc = cli_error("out of memory reading the native stacks of process %d", (int)t->pid);
        goto out;
    }
    for (size_t i = 0; i < snap->nthreads; i++)
        for (size_t k = 0; k < held; k++)
            if (tids[k] == snap->threads[i].tid) {
                ns->n[i] = native_unwind(nsess, tids[k], &ns->frames[i * NATIVE_MAX],
                                         NATIVE_MAX);
                break;
            }
    ns->interpreter = t->binary;
    ns->exe = t->exe;
out:
    thaw_threads(tids, held);
    free(tids);
    return rc;
}

int cmd_dump(int argc, char **argv)
{
    int json = 0, async = 0, native = 0;
    const char *record = NULL, *pidarg = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--async")) {
            async = 1;
        } else if (!strcmp(a, "--native")) {
            native = 1;
        } else if (!strcmp(a, "--record")) {         /* test aid, see docs/cli.md */
            if (++i == argc)
                return cli_error("--record needs a file name");
            record = argv[i];
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            dump_usage(stdout);
            return 0;
        } else if (a[0] == '-' && a[1]) {
            return cli_error("dump: unknown option '%s' (see 'stetho dump --help')", a);
        } else if (pidarg) {
            return cli_error("dump: one PID only (got '%s' and '%s')", pidarg, a);
        } else {
            pidarg = a;
        }
    }
    if (!pidarg)
        return cli_error("dump: missing PID (usage: stetho dump [--json] PID)");
    pid_t pid = cli_parse_pid(pidarg);
    if (pid < 0)
        return cli_error("dump: '%s' is not a process id", pidarg);

    struct py_target t;
    struct py_error err;
    if (py_target_open(&t, pid, &err) != PY_OK)
        return cli_error("%s", err.msg);
    int rc0;
    const char *why = async ? py_asyncio_unsupported(&t) : NULL;
    if (why) {
        rc0 = cli_error("%s (process %d runs Python %s)", why, (int)pid, t.version);
        py_target_close(&t);
        return rc0;
    }

    t.walk_retries = 200;               /* a dump is worth a consistent stack */
    struct image *img = NULL;
    struct reader remote = t.rd;
    if (record) {
        img = image_new();
        t.rd = reader_recording(img, &remote);
        /* discovery read the start of _PyRuntime (3.13+: the debug offsets)
         * before recording began; read it again so the image has it */
        uint8_t head[1024];
        reader_read(&t.rd, t.runtime, head, sizeof head);
    }
    struct py_snapshot snap = {0};
    struct native_stacks ns = {0};
    int rc = native ? walk_native(&t, &snap, &ns) : py_walk(&t, &snap);
    if (rc == 0 && !native)
        rc = rewalk_torn(&t, &snap);
    if (rc == 0)
        py_threadnames_update(&t, &snap, 0);
    struct py_tasks tasks = {0};
    if (rc == 0 && async && py_asyncio_read(&t, &snap, &tasks) < 0) {
        rc = cli_error("out of memory reading the asyncio tasks of process %d", (int)pid);
    } else if (rc < 0) {
        rc = cli_error("could not read the Python threads of process %d (it exited?)",
                       (int)pid);
    } else if (rc == 0) {
        if (json) {
            print_json(&t, &snap, async ? &tasks : NULL, native ? &ns : NULL);
        } else {
            print_text(&t, &snap, native ? &ns : NULL);
            if (async)
                print_tasks_text(&snap, &tasks);
        }
        rc = 0;
    }
    if (img) {
        struct image_meta m = { pid, t.major, t.minor, t.micro, t.runtime, t.code_type };
        if (rc == 0 && image_save(img, &m, record) < 0)
            rc = cli_error("cannot write %s", record);
        image_free(img);
    }
    py_tasks_free(&tasks);
    native_stacks_free(&ns);
    py_snapshot_free(&snap);
    py_target_close(&t);
    return rc;
}
