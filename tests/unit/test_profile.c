/*
 * test_profile.c -- the report aggregates (report/profile.h) on captures
 * made by hand in memory, where every number is known: self and total per
 * tree node, recursion counted once in function totals, threads apart and
 * merged, processes, the time range, library-frame collapsing, the text
 * tree, and the JSON export adding up.  Then, through the capture writer
 * and reader, the same tree from a real file.
 */
#include "check.h"
#include "fixture.h"
#include "lookup.h"
#include "capture/capture.h"
#include "export/export.h"
#include "model/profile.h"
#include "report/tree_print.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The run of app.py (pid 100) over a second. */
static void fx_program(struct fixture *f)
{
    fx_init(f, 1000);
    f->argv[0] = "python3";
    f->argv[1] = "app.py";
    f->procs[0] = (struct cap_process){ .pid = 100, .python_version = "3.11.7",
                                        .python_executable = "/usr/bin/python3",
                                        .argc = 2, .argv = f->argv, .has_exit = 1 };
    f->c.nprocesses = 1;
}

/* Times in ms: user, sys, then io, sleep, lock, gil, other waits. */
static void fx_sample(struct fixture *f, int32_t pid, int32_t tid, uint32_t stack, uint64_t t,
                      uint64_t user, uint64_t sys, uint64_t io, uint64_t sleep, uint64_t lock,
                      uint64_t gil, uint64_t other)
{
    fx_add_sample(f, (struct cap_sample){
        .pid = pid, .tid = tid, .stack = stack, .t_ns = t * MS, .user_ns = user * MS,
        .sys_ns = sys * MS, .wait_ns = { io * MS, sleep * MS, lock * MS, gil * MS, other * MS } });
}

/*
 * <module> -> main -> compute (lines 13 and 14)
 *                  -> fib -> fib
 * thread 1 of pid 100, plus one sample with no Python stack.
 */
static void app_capture(struct fixture *f)
{
    fx_program(f);
    uint32_t mod = fx_frame(f, "<module>", "/home/u/app.py", 1, 30, CAP_FRAME_PYTHON);
    uint32_t mainf = fx_frame(f, "main", "/home/u/app.py", 5, 6, CAP_FRAME_PYTHON);
    uint32_t comp13 = fx_frame(f, "compute", "/home/u/app.py", 12, 13, CAP_FRAME_PYTHON);
    uint32_t comp14 = fx_frame(f, "compute", "/home/u/app.py", 12, 14, CAP_FRAME_PYTHON);
    uint32_t fib = fx_frame(f, "fib", "/home/u/app.py", 20, 21, CAP_FRAME_PYTHON);
    uint32_t s1 = fx_stack(f, 0, mod);
    uint32_t s2 = fx_stack(f, s1, mainf);
    uint32_t s3 = fx_stack(f, s2, comp13);
    uint32_t s4 = fx_stack(f, s2, comp14);
    uint32_t s5 = fx_stack(f, s2, fib);
    uint32_t s6 = fx_stack(f, s5, fib);
    fx_sample(f, 100, 1, s3, 10, 10, 0, 0, 0, 0, 0, 0);
    fx_sample(f, 100, 1, s4, 20, 15, 5, 0, 0, 0, 0, 0);
    fx_sample(f, 100, 1, s6, 30, 0, 0, 30, 0, 0, 0, 0);
    fx_sample(f, 100, 1, s2, 40, 0, 0, 0, 40, 0, 0, 0);
    fx_sample(f, 100, 1, 0, 50, 0, 0, 0, 0, 0, 0, 5);
    f->threads[f->c.nthreads++] = (struct cap_thread){ 100, 1, "MainThread" };
}

static void test_tree_and_flat(void)
{
    struct fixture f;
    app_capture(&f);
    struct profile p;
    CHECK_EQ_INT(profile_build(&p, &f.c, NULL), 0);
    CHECK_EQ_INT(p.total.samples, 5);
    CHECK_EQ_INT(p.total.wall_ns, 105 * MS);
    CHECK_EQ_INT(p.nodes[0].total.wall_ns, 105 * MS);

    const struct prof_node *th = thread_node(&p, &p.nodes[0], 1);
    CHECK(th != NULL);
    if (!th)
        return;
    CHECK_EQ_INT(th->total.wall_ns, 105 * MS);
    CHECK_EQ_INT(th->self.wall_ns, 5 * MS);        /* the sample without Python */
    CHECK_EQ_INT(th->self.wait_ns[CAP_WAIT_OTHER], 5 * MS);
    const struct prof_node *mod = child(&p, th, "<module>");
    const struct prof_node *mainn = mod ? child(&p, mod, "main") : NULL;
    CHECK(mainn != NULL);
    if (!mainn)
        return;
    CHECK_EQ_INT(mod->self.samples, 0);
    CHECK_EQ_INT(mod->total.wall_ns, 100 * MS);
    CHECK_EQ_INT(mainn->self.wall_ns, 40 * MS);
    CHECK_EQ_INT(mainn->total.wall_ns, 100 * MS);
    CHECK_EQ_INT(mainn->nchildren, 2);             /* compute's two lines are one node */
    const struct prof_node *comp = child(&p, mainn, "compute");
    CHECK(comp && comp->self.wall_ns == 30 * MS && comp->total.wall_ns == 30 * MS);
    CHECK(comp && comp->total.user_ns == 25 * MS && comp->total.sys_ns == 5 * MS);
    const struct prof_node *fib = child(&p, mainn, "fib");
    const struct prof_node *fib2 = fib ? child(&p, fib, "fib") : NULL;
    CHECK(fib && fib->self.wall_ns == 0 && fib->total.wall_ns == 30 * MS);
    CHECK(fib2 && fib2->self.wall_ns == 30 * MS && fib2->total.wait_ns[CAP_WAIT_IO] == 30 * MS);

    /* flat: fib recursing is counted once in its total */
    const struct prof_site *ffib = func(&p, "fib"), *fmain = func(&p, "main");
    CHECK(ffib && ffib->total.wall_ns == 30 * MS && ffib->total.samples == 1);
    CHECK(ffib && ffib->self.wall_ns == 30 * MS);
    CHECK(fmain && fmain->self.wall_ns == 40 * MS && fmain->total.wall_ns == 100 * MS);
    CHECK(fmain && fmain->first_line == 5);
    const struct prof_site *fcomp = func(&p, "compute");
    CHECK(fcomp && fcomp->self.samples == 2 && fcomp->total.wall_ns == 30 * MS);
    const struct prof_site *l13 = line_of(&p, "compute", 13), *l14 = line_of(&p, "compute", 14);
    CHECK(l13 && l13->self.wall_ns == 10 * MS && l13->total.wall_ns == 10 * MS);
    CHECK(l14 && l14->self.wall_ns == 20 * MS && l14->self.user_ns == 15 * MS);
    const struct prof_site *lfib = line_of(&p, "fib", 21);
    CHECK(lfib && lfib->total.samples == 1 && lfib->self.samples == 1);
    profile_free(&p);

    /* per line, compute splits in two nodes */
    struct profile_opts lo = { .by_line = 1 };
    CHECK_EQ_INT(profile_build(&p, &f.c, &lo), 0);
    th = thread_node(&p, &p.nodes[0], 1);
    mod = th ? child(&p, th, "<module>") : NULL;
    mainn = mod ? child(&p, mod, "main") : NULL;
    CHECK(mainn && mainn->nchildren == 3);
    profile_free(&p);
}

/* fold_recursion: fib -> fib is one node holding both levels' time; the
 * flat tables and the whole do not change; the model's threads and rows
 * list what the samples had. */
static void test_fold_threads_rows(void)
{
    struct fixture f;
    app_capture(&f);
    struct profile p;
    struct profile_opts fo = { .fold_recursion = 1 };
    CHECK_EQ_INT(profile_build(&p, &f.c, &fo), 0);
    const struct prof_node *th = thread_node(&p, &p.nodes[0], 1);
    const struct prof_node *mod = th ? child(&p, th, "<module>") : NULL;
    const struct prof_node *mainn = mod ? child(&p, mod, "main") : NULL;
    const struct prof_node *fib = mainn ? child(&p, mainn, "fib") : NULL;
    CHECK(fib && fib->nchildren == 0);
    CHECK(fib && fib->self.wall_ns == 30 * MS && fib->total.wall_ns == 30 * MS);
    CHECK_EQ_INT(p.nodes[0].total.wall_ns, 105 * MS);
    const struct prof_site *ffib = func(&p, "fib");
    CHECK(ffib && ffib->total.samples == 1);

    /* one thread, its five samples in time order; a row per stack */
    CHECK_EQ_INT(p.nthreads, 1);
    CHECK(p.threads[0].pid == 100 && p.threads[0].tid == 1 && p.threads[0].nsamples == 5);
    CHECK(p.threads[0].name && !strcmp(p.threads[0].name, "MainThread"));
    for (size_t k = 1; k < 5; k++)
        CHECK(f.samples[p.sample_order[k - 1]].t_ns < f.samples[p.sample_order[k]].t_ns);
    CHECK_EQ_INT(p.nrows, 5);
    /* the empty stack is the one function "[no Python frames]", last */
    uint32_t buf[8];
    CHECK_EQ_INT(prof_stack_funcs(&p, 0, buf), 1);
    CHECK_EQ_INT(buf[0], p.none_func);
    CHECK(!strcmp(p.funcs[p.none_func].function, PROF_NO_FRAMES));
    CHECK_EQ_INT(p.none_func, p.nfuncs - 1);
    const struct prof_row *r = prof_row_of(&p, 100, 1, f.samples[2].stack);
    CHECK(r && r->leaf == (uint32_t)(fib - p.nodes) && r->thread == 0 && r->m.samples == 1);
    CHECK(prof_row_of(&p, 100, 2, f.samples[2].stack) == NULL);
    profile_free(&p);
}

static void test_threads_processes_range(void)
{
    struct fixture f;
    app_capture(&f);
    /* thread 2 runs compute too; then a child process */
    uint32_t s3 = 3;
    fx_sample(&f, 100, 2, s3, 60, 50, 0, 0, 0, 0, 0, 0);
    f.threads[f.c.nthreads++] = (struct cap_thread){ 100, 2, "worker" };

    struct profile p;
    CHECK_EQ_INT(profile_build(&p, &f.c, NULL), 0);
    CHECK_EQ_INT(p.nprocesses, 1);
    CHECK_EQ_INT(p.nodes[0].nchildren, 2);
    const struct prof_node *t2 = thread_node(&p, &p.nodes[0], 2);
    CHECK(t2 && t2->total.wall_ns == 50 * MS);
    const struct prof_node *t1 = thread_node(&p, &p.nodes[0], 1);
    CHECK(t1 && t1->total.wall_ns == 105 * MS);
    profile_free(&p);

    struct profile_opts merged = { .merge_threads = 1 };
    CHECK_EQ_INT(profile_build(&p, &f.c, &merged), 0);
    const struct prof_node *mod = child(&p, &p.nodes[0], "<module>");
    const struct prof_node *mainn = mod ? child(&p, mod, "main") : NULL;
    const struct prof_node *comp = mainn ? child(&p, mainn, "compute") : NULL;
    CHECK(comp && comp->total.wall_ns == 80 * MS && comp->total.samples == 3);
    CHECK_EQ_INT(p.nodes[0].self.wall_ns, 5 * MS);
    profile_free(&p);

    /* [15 ms, 45 ms): the samples at 20, 30 and 40 */
    struct profile_opts range = { .has_range = 1, .t0_ns = 15 * MS, .t1_ns = 45 * MS };
    CHECK_EQ_INT(profile_build(&p, &f.c, &range), 0);
    CHECK_EQ_INT(p.total.samples, 3);
    CHECK_EQ_INT(p.total.wall_ns, 90 * MS);
    CHECK_EQ_INT(p.t_first_ns, 20 * MS);
    CHECK_EQ_INT(p.t_last_ns, 40 * MS);
    const struct prof_site *fcomp = func(&p, "compute");
    CHECK(fcomp && fcomp->total.wall_ns == 20 * MS);
    profile_free(&p);

    /* only thread 2 */
    struct profile_opts one = { .tid = 2 };
    CHECK_EQ_INT(profile_build(&p, &f.c, &one), 0);
    CHECK_EQ_INT(p.total.wall_ns, 50 * MS);
    profile_free(&p);

    /* a second process: a root per process above its threads */
    fx_sample(&f, 200, 200, s3, 70, 7, 0, 0, 0, 0, 0, 0);
    f.procs[f.c.nprocesses++] = (struct cap_process){ .pid = 200, .ppid = 100 };
    CHECK_EQ_INT(profile_build(&p, &f.c, NULL), 0);
    CHECK_EQ_INT(p.nprocesses, 2);
    CHECK_EQ_INT(p.nodes[0].nchildren, 2);
    int procs = 0;
    for (uint32_t i = 0; i < p.nodes[0].nchildren; i++) {
        const struct prof_node *n = &p.nodes[p.children[i]];
        procs += n->kind == PROF_NODE_PROCESS;
        if (n->pid == 200)
            CHECK(n->total.wall_ns == 7 * MS && thread_node(&p, n, 200) != NULL);
        if (n->pid == 100)
            CHECK(n->total.wall_ns == 155 * MS && n->nchildren == 2);
    }
    CHECK_EQ_INT(procs, 2);
    profile_free(&p);
}

/*
 * threading._bootstrap -> threading.run -> worker
 *     [-> requests.get -> selectors.select]     (folded into worker)
 *     [-> requests.get -> callback]             (a group, then callback)
 * and a stack of only threading frames.
 */
static void lib_capture(struct fixture *f)
{
    fx_program(f);
    uint32_t boot = fx_frame(f, "_bootstrap", "/usr/lib/python3.11/threading.py", 990, 995, CAP_FRAME_PYTHON);
    uint32_t run = fx_frame(f, "run", "/usr/lib/python3.11/threading.py", 1000, 1010, CAP_FRAME_PYTHON);
    uint32_t worker = fx_frame(f, "worker", "/home/u/app.py", 30, 31, CAP_FRAME_PYTHON);
    uint32_t get = fx_frame(f, "get", "/usr/lib/python3/dist-packages/requests/api.py", 60, 73, CAP_FRAME_PYTHON);
    uint32_t sel = fx_frame(f, "select", "/usr/lib/python3.11/selectors.py", 400, 415, CAP_FRAME_PYTHON);
    uint32_t cb = fx_frame(f, "callback", "/home/u/app.py", 40, 41, CAP_FRAME_PYTHON);
    uint32_t s1 = fx_stack(f, 0, boot);
    uint32_t s2 = fx_stack(f, s1, run);
    uint32_t s3 = fx_stack(f, s2, worker);
    uint32_t s4 = fx_stack(f, s3, get);
    uint32_t s5 = fx_stack(f, s4, sel);
    uint32_t s6 = fx_stack(f, s4, cb);
    fx_sample(f, 100, 7, s3, 10, 100, 0, 0, 0, 0, 0, 0);
    fx_sample(f, 100, 7, s5, 20, 0, 10, 200, 0, 0, 0, 0);
    fx_sample(f, 100, 7, s6, 30, 300, 0, 0, 0, 0, 0, 0);
    fx_sample(f, 100, 7, s2, 40, 0, 0, 0, 0, 400, 0, 0);
}

static void test_collapse(void)
{
    struct fixture f;
    lib_capture(&f);
    struct profile_opts o = { .collapse_libs = 1 };
    struct profile p;
    CHECK_EQ_INT(profile_build(&p, &f.c, &o), 0);
    const struct prof_node *th = thread_node(&p, &p.nodes[0], 7);
    CHECK(th && th->nchildren == 1);
    if (!th || th->nchildren != 1)
        return;
    /* the threading run: one group of 2 hidden frames, keyed by _bootstrap */
    const struct prof_node *g = &p.nodes[p.children[th->first_child]];
    CHECK_EQ_INT(g->kind, PROF_NODE_GROUP);
    CHECK_EQ_INT(g->nhidden, 2);
    CHECK_EQ_STR(prof_node_site(&p, g)->function, "_bootstrap");
    CHECK_EQ_INT(g->total.wall_ns, 1010 * MS);
    /* the threading-only stack stays visible as the group's own time */
    CHECK_EQ_INT(g->self.wall_ns, 400 * MS);
    const struct prof_node *w = child(&p, g, "worker");
    CHECK(w && w->total.wall_ns == 610 * MS);
    /* requests -> selectors led nowhere shown: worker's own time */
    CHECK(w && w->self.wall_ns == 310 * MS && w->self.wait_ns[CAP_WAIT_IO] == 200 * MS);
    const struct prof_node *g2 = w && w->nchildren == 1 ? &p.nodes[p.children[w->first_child]]
                                                        : NULL;
    CHECK(g2 && g2->kind == PROF_NODE_GROUP && g2->nhidden == 1 && g2->total.wall_ns == 300 * MS);
    const struct prof_node *cb = g2 ? child(&p, g2, "callback") : NULL;
    CHECK(cb && cb->self.wall_ns == 300 * MS);
    /* flat tables are not collapsed */
    const struct prof_site *sel = func(&p, "select");
    CHECK(sel && sel->self.wall_ns == 210 * MS);
    profile_free(&p);

    /* shown in full: no groups */
    CHECK_EQ_INT(profile_build(&p, &f.c, NULL), 0);
    int groups = 0;
    for (size_t i = 0; i < p.nnodes; i++)
        groups += p.nodes[i].kind == PROF_NODE_GROUP;
    CHECK_EQ_INT(groups, 0);
    CHECK_EQ_INT(p.nnodes, 8);      /* root, thread, 6 frames */
    profile_free(&p);

    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    struct tree_opts to;
    tree_opts_init(&to);
    CHECK_EQ_INT(report_tree_print(&f.c, &to, mem), 0);
    fclose(mem);
    CHECK(strstr(text, "[2 frames hidden]  threading") != NULL);
    CHECK(strstr(text, "[1 frame hidden]  requests") != NULL);
    CHECK(strstr(text, "worker  /home/u/app.py:30") != NULL ||
          strstr(text, "worker  app.py:30") != NULL);
    CHECK(strstr(text, "   └─ 0.400s 39.6%  [self]  [user 0.00 sys 0.00 wait 0.40 (lock 0.40)]"));
    CHECK(strstr(text, "wall 1.010 s = user 0.400 + sys 0.010 + waiting 0.600") != NULL);
    CHECK(strstr(text, "\033[") == NULL);          /* no colour unless asked */
    free(text);
}

static char *tree_text(const struct capture *c, const struct tree_opts *o)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return NULL;
    int rc = report_tree_print(c, o, mem);
    fclose(mem);
    if (rc < 0) {
        free(text);
        return NULL;
    }
    return text;
}

static void test_tree_text(void)
{
    struct fixture f;
    app_capture(&f);
    struct tree_opts o;
    tree_opts_init(&o);
    char *text = tree_text(&f.c, &o);
    CHECK(text != NULL);
    if (!text)
        return;
    printf("# ---- tree ----\n");
    for (char *l = text, *e; *l; l = e + 1) {
        e = strchr(l, '\n');
        if (!e)
            break;
        printf("# %.*s\n", (int)(e - l), l);
    }
    CHECK(strstr(text, "Program:  python3 app.py  (exit 0)") != NULL);
    CHECK(strstr(text, "Python:   3.11.7  /usr/bin/python3") != NULL);
    CHECK(strstr(text, "0.105s 100.0%  Thread 1 (MainThread)") != NULL);
    CHECK(strstr(text, "├─ 0.100s 95.2%  <module>") != NULL);
    CHECK(strstr(text, "│  └─ 0.100s 95.2%  main") != NULL);
    CHECK(strstr(text, "│     ├─ 0.040s 38.1%  [self]") != NULL);
    CHECK(strstr(text, "│        └─ 0.030s 28.6%  fib") != NULL);
    CHECK(strstr(text, "└─ 0.005s  4.8%  [no Python frames]") != NULL);
    CHECK(strstr(text, "[user 0.00 sys 0.00 wait 0.03 (io 0.03)]") != NULL);
    CHECK(strstr(text, "[user 0.03 sys 0.01 wait 0.00]") != NULL);
    free(text);

    /* --min-percent 50 keeps <module> and main only */
    o.min_percent = 50;
    text = tree_text(&f.c, &o);
    CHECK(text && strstr(text, "main") && !strstr(text, "compute"));
    free(text);

    /* by cpu: the io-bound fib is 0% of it and cut */
    o.min_percent = 1;
    o.metric = PROF_CPU;
    text = tree_text(&f.c, &o);
    CHECK(text && strstr(text, "compute") && !strstr(text, "fib"));
    CHECK(text && strstr(text, "0.030s 100.0%  Thread 1"));
    free(text);

    o.metric = PROF_WALL;
    o.color = 1;
    text = tree_text(&f.c, &o);
    CHECK(text && strstr(text, "\033[31m0.105s 100.0%"));
    free(text);
}

/* The numbers of every "key": in the part of s from `from` to `to`. */
static double sum_of(const char *s, const char *from, const char *to, const char *key, int *n)
{
    const char *p = strstr(s, from), *end = strstr(s, to);
    double sum = 0;
    *n = 0;
    while (p && (p = strstr(p, key)) && p < end) {
        p += strlen(key);
        sum += strtod(p, NULL);
        (*n)++;
    }
    return sum;
}

static void test_json(void)
{
    struct fixture f;
    app_capture(&f);
    /* a name with a quote and a control character */
    f.frames[5].function = fx_str(&f, "we\"ird\x01\n");
    fx_sample(&f, 100, 1, 3, 60, 0, 0, 1, 0, 0, 0, 0);     /* same stack as the first */
    f.samples[f.c.nsamples - 1].user_ns = 123456789;
    f.samples[f.c.nsamples - 1].wall_ns += 123456789;

    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    CHECK_EQ_INT(export_json(&f.c, &(struct export_opts){0}, mem), 0);
    fclose(mem);
    CHECK(strstr(text, "{\"schema\": \"stetho-profile/1\",") == text);
    CHECK(strstr(text, "\"argv\": [\"python3\", \"app.py\"], \"python_version\": \"3.11.7\"") != NULL);
    CHECK(strstr(text, "\"pid\": 100, \"exit_code\": 0, \"duration_s\": 1, \"interval_s\": 0.01}") != NULL);
    CHECK(strstr(text, "{\"pid\": 100, \"tid\": 1, \"name\": \"MainThread\"}") != NULL);
    CHECK(strstr(text, "\"function\": \"we\\\"ird\\u0001\\n\"") != NULL);
    CHECK(strstr(text, "{\"function\": \"compute\", \"file\": \"/home/u/app.py\", \"line\": 13, "
                       "\"first_line\": 12, \"kind\": \"python\"}") != NULL);
    /* fib -> fib, root first: frames 0 (module), 1 (main), 4, 4 */
    CHECK(strstr(text, "\"frames\": [0, 1, 4, 4], \"samples\": 1, \"wall_s\": 0.03,") != NULL);
    CHECK(strstr(text, "\"frames\": [], \"samples\": 1, \"wall_s\": 0.005") != NULL);
    /* the two samples of stack 3 are one entry */
    CHECK(strstr(text, "\"frames\": [0, 1, 2], \"samples\": 2, \"wall_s\": 0.134456789, "
                       "\"cpu_user_s\": 0.133456789") != NULL);
    CHECK(strstr(text, "\"totals\": {\"samples\": 6, \"wall_s\": 0.229456789, "
                       "\"cpu_user_s\": 0.148456789, \"cpu_sys_s\": 0.005, \"wait_io_s\": 0.031, "
                       "\"wait_sleep_s\": 0.04, \"wait_lock_s\": 0, \"wait_gil_s\": 0, "
                       "\"wait_other_s\": 0.005, \"alloc_bytes\": 0,") != NULL);
    /* no memory recorded: its totals say so, the timeline is empty */
    CHECK(strstr(text, "\"memory_mode\": \"off\", \"sample_mean_bytes\": 0},\n"
                       " \"timeline\": []}\n") != NULL);
    const char *keys[] = { "\"wall_s\": ", "\"cpu_user_s\": ", "\"wait_io_s\": ", "\"samples\": " };
    for (int k = 0; k < 4; k++) {
        int n, m;
        double stacks = sum_of(text, "\"stacks\"", "\"totals\"", keys[k], &n);
        double total = sum_of(text, "\"totals\"", "\"timeline\"", keys[k], &m);
        CHECK(n == 5 && m == 1 && stacks - total < 1e-12 && total - stacks < 1e-12);
    }
    free(text);
}

/* The same capture through the writer and reader gives the same tree. */
static void test_round_trip(void)
{
    struct fixture f;
    lib_capture(&f);
    char path[] = "/tmp/stetho-test-profile-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    struct capture_writer *w = capw_open(path, f.c.interval_ns);
    CHECK(w != NULL);
    if (!w)
        return;
    uint32_t fmap[32] = {0}, smap[32] = {0};
    capw_process(w, &f.procs[0]);
    for (size_t i = 1; i < f.c.nframes; i++)
        fmap[i] = capw_frame(w, f.strings[f.frames[i].function], f.strings[f.frames[i].file],
                             f.frames[i].line, f.frames[i].first_line, f.frames[i].kind);
    for (size_t i = 1; i < f.c.nstacks; i++)
        smap[i] = capw_stack(w, smap[f.stacks[i].parent], fmap[f.stacks[i].frame]);
    for (size_t i = 0; i < f.c.nsamples; i++) {
        struct cap_sample s = f.samples[i];
        s.stack = smap[s.stack];
        capw_sample(w, &s);
    }
    capw_process_exit(w, 100, 0, f.c.duration_ns);
    CHECK_EQ_INT(capw_close(w, f.c.duration_ns), 0);

    struct capture c;
    char err[256] = "";
    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    if (err[0])
        printf("# %s\n", err);
    unlink(path);
    struct tree_opts o;
    tree_opts_init(&o);
    char *want = tree_text(&f.c, &o), *got = tree_text(&c, &o);
    CHECK(want && got && !strcmp(want, got));
    if (want && got && strcmp(want, got))
        printf("# want:\n%s\n# got:\n%s\n", want, got);
    free(want);
    free(got);
    capture_free(&c);
}

/*
 * --async roots: <task Task-1> and <task Task-2> run `handler`, <task
 * Task-3> runs `other`; pid 200's own <task Task-1> runs `other` (one
 * task name, two coroutines); <task lost> has no readable chain.
 */
static void test_merge_tasks(void)
{
    struct fixture f;
    fx_program(&f);
    f.procs[1] = f.procs[0];
    f.procs[1].pid = 200;
    f.c.nprocesses = 2;
    uint32_t t1 = fx_frame(&f, "<task Task-1>", "", 0, 0, CAP_FRAME_SYNTHETIC);
    uint32_t t2 = fx_frame(&f, "<task Task-2>", "", 0, 0, CAP_FRAME_SYNTHETIC);
    uint32_t t3 = fx_frame(&f, "<task Task-3>", "", 0, 0, CAP_FRAME_SYNTHETIC);
    uint32_t lost = fx_frame(&f, "<task lost>", "", 0, 0, CAP_FRAME_SYNTHETIC);
    uint32_t h = fx_frame(&f, "handler", "/home/u/app.py", 5, 7, CAP_FRAME_PYTHON);
    uint32_t o = fx_frame(&f, "other", "/home/u/app.py", 9, 10, CAP_FRAME_PYTHON);
    uint32_t s1 = fx_stack(&f, fx_stack(&f, 0, t1), h);
    uint32_t s2 = fx_stack(&f, fx_stack(&f, 0, t2), h);
    uint32_t s3 = fx_stack(&f, fx_stack(&f, 0, t3), o);
    uint32_t s4 = fx_stack(&f, fx_stack(&f, 0, t1), o);
    uint32_t s5 = fx_stack(&f, 0, lost);
    fx_sample(&f, 100, 1, s1, 10, 0, 0, 10, 0, 0, 0, 0);
    fx_sample(&f, 100, 1, s2, 10, 0, 0, 0, 20, 0, 0, 0);
    fx_sample(&f, 100, 1, s3, 10, 5, 0, 0, 0, 0, 0, 0);
    fx_sample(&f, 200, 1, s4, 10, 0, 0, 0, 0, 40, 0, 0);
    fx_sample(&f, 100, 1, s5, 10, 0, 0, 0, 0, 0, 0, 3);

    for (int by_line = 0; by_line < 2; by_line++) {
        struct profile p;
        struct profile_opts po = { .merge_threads = 1, .merge_tasks = 1, .by_line = by_line };
        CHECK_EQ_INT(profile_build(&p, &f.c, &po), 0);
        const struct prof_node *root = &p.nodes[0];
        const struct prof_node *mh = child(&p, root, "<task handler>");
        const struct prof_node *mo = child(&p, root, "<task other>");
        CHECK(mh && mh->total.wall_ns == 30 * MS && mh->total.samples == 2);
        CHECK(mh && mh->total.wait_ns[CAP_WAIT_IO] == 10 * MS);
        CHECK(mh && child(&p, mh, "handler") && child(&p, mh, "handler")->total.wall_ns == 30 * MS);
        /* Task-1 of pid 200 runs `other`: with Task-3, not with handler */
        CHECK(mo && mo->total.wall_ns == 45 * MS && mo->total.samples == 2);
        CHECK(child(&p, root, "<task lost>") && !child(&p, root, "<task Task-1>"));
        CHECK_EQ_INT(root->nchildren, 3);
        if (!by_line) {
            CHECK(func(&p, "<task handler>")->total.wall_ns == 30 * MS);
            CHECK(func(&p, "<task other>")->self.wall_ns == 0);
            CHECK(func(&p, "<task Task-1>")->total.wall_ns == 0);
            CHECK(!strcmp(p.funcs[p.none_func].function, PROF_NO_FRAMES));
            CHECK_EQ_INT(p.none_func, p.nfuncs - 1);
            uint32_t buf[8];
            CHECK_EQ_INT(prof_stack_funcs(&p, s4, buf), 2);
            CHECK(!strcmp(p.funcs[buf[0]].function, "<task other>"));
            CHECK(!strcmp(p.funcs[buf[1]].function, "other"));
        } else {
            CHECK(line_of(&p, "<task handler>", 0)->total.wall_ns == 30 * MS);
        }
        profile_free(&p);
    }
    /* without the option, nothing is merged */
    struct profile p;
    CHECK_EQ_INT(profile_build(&p, &f.c, &(struct profile_opts){ .merge_threads = 1 }), 0);
    CHECK(child(&p, &p.nodes[0], "<task Task-1>") && !func(&p, "<task handler>"));
    CHECK(child(&p, &p.nodes[0], "<task Task-1>")->total.wall_ns == 50 * MS);
    profile_free(&p);
}

int main(void)
{
    test_tree_and_flat();
    test_fold_threads_rows();
    test_threads_processes_range();
    test_collapse();
    test_tree_text();
    test_json();
    test_round_trip();
    test_merge_tasks();
    return CHECK_DONE();
}
