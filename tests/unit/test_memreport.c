/*
 * test_memreport.c -- memory in the reports, on a capture made by hand
 * where every number is known: the metric names, units and formats; the
 * memory aggregates per tree node, function and line (a stack that only
 * allocated gets its nodes, recursion counts once); the time range (only
 * allocation intervals in it, no peak or leak); thread filtering; the tree
 * by peak and the memory headline; `stetho stats` as JSON; and the JSON
 * export's memory adding up.  Then the same through a real file.
 */
#include "check.h"
/* stack ids of mem_capture */
#define FIXTURE_EXTRA uint32_t s_mod, s_main, s_build, s_fib, s_fib2, s_native, s_gc;
#include "fixture.h"
#include "lookup.h"
#include "capture/capture.h"
#include "report/stats.h"
#include "export/export.h"
#include "model/profile.h"
#include "report/tree_print.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fx_sample(struct fixture *f, int32_t tid, uint32_t stack, uint64_t t_ms,
                      uint64_t user_ms)
{
    fx_add_sample(f, (struct cap_sample){ .pid = 100, .tid = tid, .stack = stack,
                                          .t_ns = t_ms * MS, .user_ns = user_ms * MS });
}

static void fx_mem(struct fixture *f, int32_t tid, uint32_t stack, uint64_t bytes, uint64_t count,
                   uint64_t peak, uint64_t leaked, uint64_t temp)
{
    f->mem[f->c.nmem++] = (struct cap_mem_stack){ 100, tid, stack, bytes, count, peak, leaked,
                                                  temp, 0, 0, 0 };
}

static void fx_alloc(struct fixture *f, uint64_t t_ms, int32_t tid, uint32_t stack, uint64_t bytes,
                     uint64_t count)
{
    f->allocs[f->c.nmem_allocs++] = (struct cap_mem_interval){ t_ms * MS, 100, tid, stack, bytes,
                                                               count };
}

/*
 * Thread 1: <module> > main > build (sampled, allocates), main > fib > fib
 * (never sampled, allocates), main itself (sampled, allocates a little).
 * Thread 2: only [native] allocations, no samples.
 *
 *   stack            alloc  count  peak  leaked  temp
 *   build             1000     10   600     100     2
 *   fib > fib         4000     40  2000       0     5
 *   main                50      1     0      50     0
 *   [native] (t2)      300      3   200     300     0
 *   total             5350     54  2800     450     7
 */
static void mem_capture(struct fixture *f)
{
    fx_init(f, 500);
    f->argv[0] = "python3";
    f->argv[1] = "app.py";
    f->procs[0] = (struct cap_process){ .pid = 100, .python_version = "3.11.7",
                                        .argc = 2, .argv = f->argv, .has_exit = 1 };
    f->c.nprocesses = 1;
    f->threads[f->c.nthreads++] = (struct cap_thread){ 100, 1, "MainThread" };

    uint32_t mod = fx_frame(f, "<module>", "/home/u/app.py", 1, 30, CAP_FRAME_PYTHON);
    uint32_t mainf = fx_frame(f, "main", "/home/u/app.py", 5, 6, CAP_FRAME_PYTHON);
    uint32_t build = fx_frame(f, "build", "/home/u/app.py", 10, 11, CAP_FRAME_PYTHON);
    uint32_t fib = fx_frame(f, "fib", "/home/u/app.py", 20, 21, CAP_FRAME_PYTHON);
    uint32_t native = fx_frame(f, "[native]", "", 0, 0, CAP_FRAME_SYNTHETIC);
    uint32_t gc = fx_frame(f, "[gc]", "", 0, 0, CAP_FRAME_SYNTHETIC);
    f->s_mod = fx_stack(f, 0, mod);
    f->s_main = fx_stack(f, f->s_mod, mainf);
    f->s_build = fx_stack(f, f->s_main, build);
    f->s_fib = fx_stack(f, f->s_main, fib);
    f->s_fib2 = fx_stack(f, f->s_fib, fib);
    f->s_native = fx_stack(f, 0, native);
    f->s_gc = fx_stack(f, f->s_main, gc);

    fx_sample(f, 1, f->s_build, 10, 10);
    fx_sample(f, 1, f->s_main, 20, 10);

    f->c.has_memory = 1;
    fx_mem(f, 1, f->s_build, 1000, 10, 600, 100, 2);
    fx_mem(f, 1, f->s_fib2, 4000, 40, 2000, 0, 5);
    fx_mem(f, 1, f->s_main, 50, 1, 0, 50, 0);
    fx_mem(f, 2, f->s_native, 300, 3, 200, 300, 0);
    fx_alloc(f, 100, 1, f->s_build, 600, 6);
    fx_alloc(f, 200, 1, f->s_build, 400, 4);
    fx_alloc(f, 250, 1, f->s_fib2, 4000, 40);
    fx_alloc(f, 300, 1, f->s_main, 50, 1);
    fx_alloc(f, 350, 2, f->s_native, 300, 3);
    f->timeline[f->c.ntimeline++] = (struct cap_timeline_point){ 100 * MS, 8 << 20, 1000, 0, 0 };
    f->timeline[f->c.ntimeline++] = (struct cap_timeline_point){ 400 * MS, 10 << 20, 2500, 0, 0 };

    struct cap_mem_totals *t = &f->c.mem_totals;
    f->c.has_mem_totals = 1;
    t->peak_heap_bytes = 2800;
    t->peak_heap_t_ns = 300 * MS;
    t->peak_rss_bytes = 10 << 20;
    t->peak_rss_t_ns = 400 * MS;
    t->alloc_bytes = 5350;
    t->alloc_count = 54;
    t->leaked_bytes = 450;
    t->temporary_count = 7;
    t->by_allocator_bytes[0] = 300;     /* malloc */
    t->by_allocator_count[0] = 3;
    t->by_allocator_bytes[7] = 5050;    /* PyObject */
    t->by_allocator_count[7] = 51;
    t->size_hist[0] = 1;                /* size 0 */
    t->size_hist[7] = 43;               /* [64, 128) */
    t->size_hist[9] = 10;               /* [256, 512) */
}

/* Output of a report function into a string (freed by the caller). */
#define CAPTURE_TEXT(text, call) do { \
    size_t len_; \
    FILE *mem_ = open_memstream(&(text), &len_); \
    if (mem_) { \
        if ((call) < 0) \
            CHECK(!"report failed"); \
        fclose(mem_); \
    } \
} while (0)

static void show(const char *title, const char *text)
{
    printf("# ---- %s ----\n", title);
    for (const char *l = text, *e; l && *l; l = e + 1) {
        e = strchr(l, '\n');
        if (!e)
            break;
        printf("# %.*s\n", (int)(e - l), l);
    }
}

/* ---- tests ---- */

static void test_metrics_and_formats(void)
{
    enum prof_metric m;
    CHECK(prof_metric_parse("peak", &m) == 0 && m == PROF_PEAK);
    CHECK(prof_metric_parse("allocated", &m) == 0 && m == PROF_ALLOCATED);
    CHECK(prof_metric_parse("allocations", &m) == 0 && m == PROF_ALLOCATIONS);
    CHECK(prof_metric_parse("leaked", &m) == 0 && m == PROF_LEAKED);
    CHECK(prof_metric_parse("wall", &m) == 0 && m == PROF_WALL);
    CHECK(prof_metric_parse("bytes", &m) < 0);
    CHECK_EQ_STR(prof_metric_name(PROF_ALLOCATIONS), "allocations");
    CHECK_EQ_INT(prof_metric_unit(PROF_WAIT), PROF_UNIT_NS);
    CHECK_EQ_INT(prof_metric_unit(PROF_PEAK), PROF_UNIT_BYTES);
    CHECK_EQ_INT(prof_metric_unit(PROF_LEAKED), PROF_UNIT_BYTES);
    CHECK_EQ_INT(prof_metric_unit(PROF_ALLOCATIONS), PROF_UNIT_COUNT);

    char b[PROF_FMT_LEN];
    CHECK_EQ_STR(prof_fmt_ns(b, sizeof b, 1234000000), "1.234s");
    CHECK_EQ_STR(prof_fmt_bytes(b, sizeof b, 0), "0 B");
    CHECK_EQ_STR(prof_fmt_bytes(b, sizeof b, 1023), "1023 B");
    CHECK_EQ_STR(prof_fmt_bytes(b, sizeof b, 1024), "1.00 KiB");
    CHECK_EQ_STR(prof_fmt_bytes(b, sizeof b, 12897485), "12.3 MiB");
    CHECK_EQ_STR(prof_fmt_bytes(b, sizeof b, 150ull << 20), "150 MiB");
    CHECK_EQ_STR(prof_fmt_bytes(b, sizeof b, 3ull << 30), "3.00 GiB");
    CHECK_EQ_STR(prof_fmt_bytes(b, sizeof b, UINT64_MAX), "16.0 EiB");
    CHECK_EQ_STR(prof_fmt_count(b, sizeof b, 0), "0");
    CHECK_EQ_STR(prof_fmt_count(b, sizeof b, 999), "999");
    CHECK_EQ_STR(prof_fmt_count(b, sizeof b, 1000), "1,000");
    CHECK_EQ_STR(prof_fmt_count(b, sizeof b, 1234567), "1,234,567");
    CHECK_EQ_STR(prof_fmt_count(b, sizeof b, UINT64_MAX), "18,446,744,073,709,551,615");
    char tiny[4];
    CHECK_EQ_STR(prof_fmt_count(tiny, sizeof tiny, 1234567), "1,2");   /* cut, terminated */
    CHECK_EQ_STR(prof_fmt_metric(b, sizeof b, PROF_ALLOCATED, 2048), "2.00 KiB");
    CHECK_EQ_STR(prof_fmt_metric(b, sizeof b, PROF_ALLOCATIONS, 2048), "2,048");
    CHECK_EQ_STR(prof_fmt_metric(b, sizeof b, PROF_CPU, 2048), "0.000s");
}

static void test_aggregates(void)
{
    struct fixture f;
    mem_capture(&f);
    struct profile p;
    CHECK_EQ_INT(profile_build(&p, &f.c, NULL), 0);

    /* the whole */
    CHECK_EQ_INT(p.total.alloc_bytes, 5350);
    CHECK_EQ_INT(p.total.alloc_count, 54);
    CHECK_EQ_INT(p.total.peak_bytes, 2800);
    CHECK_EQ_INT(p.total.leaked_bytes, 450);
    CHECK_EQ_INT(p.total.temporary_count, 7);
    CHECK_EQ_INT(p.total.samples, 2);
    CHECK_EQ_INT(p.total.wall_ns, 20 * MS);
    CHECK_EQ_INT(p.nodes[0].total.alloc_bytes, 5350);

    /* tree nodes */
    const struct prof_node *t1 = thread_node(&p, &p.nodes[0], 1);
    const struct prof_node *t2 = thread_node(&p, &p.nodes[0], 2);
    CHECK(t1 && t2);
    if (!t1 || !t2)
        return;
    CHECK_EQ_INT(t1->total.alloc_bytes, 5050);
    CHECK_EQ_INT(t1->total.alloc_count, 51);
    CHECK_EQ_INT(t1->total.peak_bytes, 2600);
    CHECK_EQ_INT(t1->total.leaked_bytes, 150);
    CHECK_EQ_INT(t1->total.temporary_count, 7);
    CHECK_EQ_INT(t2->total.alloc_bytes, 300);
    CHECK_EQ_INT(t2->total.samples, 0);
    const struct prof_node *nat = child(&p, t2, "[native]");
    CHECK(nat && nat->self.alloc_bytes == 300 && nat->self.leaked_bytes == 300);
    const struct prof_node *mod = child(&p, t1, "<module>");
    const struct prof_node *mainn = child(&p, mod, "main");
    const struct prof_node *build = child(&p, mainn, "build");
    const struct prof_node *fib = child(&p, mainn, "fib");
    const struct prof_node *fib2 = child(&p, fib, "fib");
    CHECK(mod && mainn && build && fib && fib2);
    if (!mod || !mainn || !build || !fib || !fib2)
        return;
    CHECK_EQ_INT(mod->self.alloc_bytes, 0);
    CHECK_EQ_INT(mod->total.alloc_bytes, 5050);
    CHECK_EQ_INT(mainn->self.alloc_bytes, 50);
    CHECK_EQ_INT(mainn->self.leaked_bytes, 50);
    CHECK_EQ_INT(mainn->self.samples, 1);
    CHECK_EQ_INT(mainn->total.alloc_bytes, 5050);
    CHECK_EQ_INT(mainn->total.peak_bytes, 2600);
    CHECK_EQ_INT(build->self.alloc_bytes, 1000);
    CHECK_EQ_INT(build->self.peak_bytes, 600);
    CHECK_EQ_INT(build->self.temporary_count, 2);
    CHECK_EQ_INT(build->self.samples, 1);
    /* allocated but never sampled: nodes all the same, no samples */
    CHECK_EQ_INT(fib->self.alloc_bytes, 0);
    CHECK_EQ_INT(fib->total.alloc_bytes, 4000);
    CHECK_EQ_INT(fib->total.samples, 0);
    CHECK_EQ_INT(fib2->self.alloc_bytes, 4000);
    CHECK_EQ_INT(fib2->self.alloc_count, 40);

    /* functions and lines: self at the innermost, total once per stack */
    const struct prof_site *ff = func(&p, "fib"), *fm = func(&p, "main"),
                           *fmod = func(&p, "<module>"), *fn = func(&p, "[native]");
    CHECK(ff && fm && fmod && fn);
    if (ff && fm && fmod && fn) {
        CHECK_EQ_INT(ff->self.alloc_bytes, 4000);
        CHECK_EQ_INT(ff->total.alloc_bytes, 4000);     /* recursion counted once */
        CHECK_EQ_INT(ff->total.alloc_count, 40);
        CHECK_EQ_INT(fm->self.alloc_bytes, 50);
        CHECK_EQ_INT(fm->total.alloc_bytes, 5050);
        CHECK_EQ_INT(fm->total.peak_bytes, 2600);
        CHECK_EQ_INT(fm->total.leaked_bytes, 150);
        CHECK_EQ_INT(fmod->self.alloc_bytes, 0);
        CHECK_EQ_INT(fmod->total.alloc_count, 51);
        CHECK_EQ_INT(fn->self.alloc_bytes, 300);
        CHECK_EQ_INT(fn->total.alloc_bytes, 300);
    }
    const struct prof_site *l21 = line_of(&p, "fib", 21), *l6 = line_of(&p, "main", 6);
    CHECK(l21 && l21->self.alloc_bytes == 4000 && l21->total.alloc_bytes == 4000);
    CHECK(l6 && l6->self.alloc_bytes == 50 && l6->total.alloc_bytes == 5050);

    /* the metric accessor */
    CHECK_EQ_INT(prof_metric_ns(&p.total, PROF_PEAK), 2800);
    CHECK_EQ_INT(prof_metric_ns(&p.total, PROF_ALLOCATED), 5350);
    CHECK_EQ_INT(prof_metric_ns(&p.total, PROF_ALLOCATIONS), 54);
    CHECK_EQ_INT(prof_metric_ns(&p.total, PROF_LEAKED), 450);
    profile_free(&p);

    /* merged threads: one tree, the same sums */
    struct profile_opts o = { .merge_threads = 1 };
    CHECK_EQ_INT(profile_build(&p, &f.c, &o), 0);
    CHECK_EQ_INT(p.nodes[0].total.alloc_bytes, 5350);
    const struct prof_node *top = child(&p, &p.nodes[0], "[native]");
    CHECK(top && top->total.alloc_bytes == 300);
    profile_free(&p);

    /* one thread only: thread 2's memory alone */
    o = (struct profile_opts){ .tid = 2 };
    CHECK_EQ_INT(profile_build(&p, &f.c, &o), 0);
    CHECK_EQ_INT(p.total.alloc_bytes, 300);
    CHECK_EQ_INT(p.total.samples, 0);
    profile_free(&p);

    /* no memory recorded: all zero, nothing added */
    f.c.has_memory = 0;
    CHECK_EQ_INT(profile_build(&p, &f.c, NULL), 0);
    CHECK_EQ_INT(p.total.alloc_bytes, 0);
    CHECK(thread_node(&p, &p.nodes[0], 2) == NULL);
    profile_free(&p);
}

static void test_range(void)
{
    struct fixture f;
    mem_capture(&f);
    struct profile p;
    /* intervals at 200 (build 400) and 250 (fib 4000) ms; 100 and 300 are out */
    struct profile_opts o = { .has_range = 1, .t0_ns = 150 * MS, .t1_ns = 300 * MS };
    CHECK_EQ_INT(profile_build(&p, &f.c, &o), 0);
    CHECK_EQ_INT(p.total.alloc_bytes, 4400);
    CHECK_EQ_INT(p.total.alloc_count, 44);
    CHECK_EQ_INT(p.total.peak_bytes, 0);
    CHECK_EQ_INT(p.total.leaked_bytes, 0);
    CHECK_EQ_INT(p.total.temporary_count, 0);
    CHECK_EQ_INT(p.total.samples, 0);           /* samples at 10 and 20 ms */
    const struct prof_site *fb = func(&p, "build"), *ff = func(&p, "fib"), *fm = func(&p, "main");
    CHECK(fb && fb->self.alloc_bytes == 400 && fb->self.alloc_count == 4);
    CHECK(ff && ff->total.alloc_bytes == 4000);
    CHECK(fm && fm->self.alloc_bytes == 0 && fm->total.alloc_bytes == 4400);
    CHECK(thread_node(&p, &p.nodes[0], 2) == NULL);          /* its interval is at 350 ms */

    /* the tree says why peak is empty for a range */
    struct tree_opts to;
    tree_opts_init(&to);
    to.has_range = 1;
    to.t0_ns = 150 * MS;
    to.t1_ns = 300 * MS;
    to.metric = PROF_PEAK;
    char *text = NULL;
    CAPTURE_TEXT(text, report_tree_print(&f.c, &to, mem_));
    CHECK(text && strstr(text, "peak and leaked are whole-run figures"));
    CHECK(text && strstr(text, "in this range: allocated 4.30 KiB in 44 allocations"));
    free(text);
    to.metric = PROF_ALLOCATED;
    text = NULL;
    CAPTURE_TEXT(text, report_tree_print(&f.c, &to, mem_));
    CHECK(text && strstr(text, "3.91 KiB 90.9%") && strstr(text, "[400 B in 4 allocations]"));
    free(text);
    profile_free(&p);
}

static void test_tree_text(void)
{
    struct fixture f;
    mem_capture(&f);
    struct tree_opts o;
    tree_opts_init(&o);
    o.metric = PROF_PEAK;
    char *text = NULL;
    CAPTURE_TEXT(text, report_tree_print(&f.c, &o, mem_));
    CHECK(text != NULL);
    if (!text)
        return;
    show("tree --metric peak", text);
    CHECK(strstr(text, "Memory:   peak heap 2.73 KiB at 0.300 s, peak RSS 10.0 MiB at 0.400 s\n"
                       "          allocated 5.22 KiB in 54 allocations, leaked 450 B\n") != NULL);
    CHECK(strstr(text, "2.54 KiB 92.9%  Thread 1 (MainThread)  [4.93 KiB in 51 allocations, "
                       "peak 2.54 KiB, leaked 150 B]") != NULL);
    CHECK(strstr(text, "      ├─ 1.95 KiB 71.4%  fib  /home/u/app.py:20") != NULL);
    CHECK(strstr(text, "      └─ 600 B 21.4%  build  /home/u/app.py:10") != NULL);
    CHECK(strstr(text, "200 B  7.1%  Thread 2") != NULL);
    CHECK(strstr(text, "By memory held when the heap peaked") != NULL);
    CHECK(strstr(text, "estimated") == NULL);
    free(text);

    /* allocations: counts, and main's own allocation as [self] */
    o.metric = PROF_ALLOCATIONS;
    o.min_percent = 0;
    text = NULL;
    CAPTURE_TEXT(text, report_tree_print(&f.c, &o, mem_));
    CHECK(text && strstr(text, "54 100.0%") == NULL);   /* threads apart: no all-line */
    CHECK(text && strstr(text, "51 94.4%  Thread 1"));
    CHECK(text && strstr(text, "└─ 1  1.9%  [self]"));
    free(text);

    /* sampled: the header says the numbers are estimates */
    f.c.mem_totals.sample_mean = 65536;
    o.metric = PROF_LEAKED;
    o.min_percent = 1;
    text = NULL;
    CAPTURE_TEXT(text, report_tree_print(&f.c, &o, mem_));
    CHECK(text && strstr(text, "estimated (sampled every 64.0 KiB on average)"));
    CHECK(text && strstr(text, "300 B 66.7%  Thread 2"));
    free(text);

    /* the time tree does not change with memory: thread 2 has no time */
    o.metric = PROF_WALL;
    text = NULL;
    CAPTURE_TEXT(text, report_tree_print(&f.c, &o, mem_));
    CHECK(text && strstr(text, "0.020s 100.0%  Thread 1 (MainThread)  [user 0.02 sys 0.00 "
                               "wait 0.00]"));
    CHECK(text && !strstr(text, "Thread 2") && !strstr(text, "fib"));
    CHECK(text && strstr(text, "By wall time"));
    free(text);

    /* no memory in the capture */
    f.c.has_memory = 0;
    o.metric = PROF_ALLOCATED;
    text = NULL;
    CAPTURE_TEXT(text, report_tree_print(&f.c, &o, mem_));
    CHECK(text && strstr(text, "No memory data") && !strstr(text, "Memory:"));
    free(text);

    /* the headline after `stetho run` */
    f.c.has_memory = 1;
    f.c.mem_totals.sample_mean = 0;
    text = NULL;
    CAPTURE_TEXT(text, report_memory_headline(&f.c, 0, mem_));
    show("memory headline", text);
    const char *a = text ? strstr(text, "1.95 KiB  fib  /home/u/app.py:21\n") : NULL;
    const char *b = text ? strstr(text, "600 B  build  /home/u/app.py:11\n") : NULL;
    const char *c = text ? strstr(text, "200 B  [native]\n") : NULL;
    CHECK(text && strstr(text, "Memory: peak heap 2.73 KiB at 0.300 s, peak RSS 10.0 MiB at "
                               "0.400 s\nHeld at the peak:\n") == text);
    CHECK(a && b && c && a < b && b < c);
    CHECK(text && !strstr(text, "main"));       /* held nothing at the peak */
    free(text);
}

/* Lists by location merge by the text of the location: "build" reached
 * from two callers, once through a second string id with the same text
 * (as a child process's strings give it), is one line in the memory
 * headline and in stats' top locations, its bytes summed. */
static void test_places_by_text(void)
{
    struct fixture f;
    mem_capture(&f);
    uint32_t build2 = fx_frame(&f, "x", "/home/u/app.py", 10, 11, CAP_FRAME_PYTHON);
    f.strings[f.c.nstrings] = "build";         /* the same text, another id */
    f.frames[build2].function = (uint32_t)f.c.nstrings++;
    uint32_t s = fx_stack(&f, f.s_fib, build2);
    f.mem[f.c.nmem++] = (struct cap_mem_stack){ .pid = 100, .tid = 2, .stack = s,
                                                .alloc_bytes = 500, .alloc_count = 5,
                                                .peak_bytes = 1500 };
    char *text = NULL;
    CAPTURE_TEXT(text, report_memory_headline(&f.c, 0, mem_));
    show("memory headline, merged", text);
    const char *line = "2.05 KiB  build  /home/u/app.py:11\n";
    const char *a = text ? strstr(text, line) : NULL;
    CHECK(a != NULL);
    CHECK(a && !strstr(a + strlen(line), "build"));
    free(text);
    text = NULL;
    CAPTURE_TEXT(text, stats_write(&f.c, 1, mem_));
    const char *bytes = text ? strstr(text, "\"top_by_bytes\": [") : NULL;
    const char *b = bytes ? strstr(bytes, "{\"function\": \"build\", \"file\": \"/home/u/app.py\", "
                                         "\"line\": 11, \"alloc_bytes\": 1500, \"alloc_count\": 15}")
                          : NULL;
    CHECK(b != NULL);
    int n = 0;                  /* once in each of the two lists (before the leaks report's) */
    const char *leaks = text ? strstr(text, "\"leaks\": ") : NULL;
    for (const char *p = text; p && (p = strstr(p, "\"build\"")) && (!leaks || p < leaks); p++)
        n++;
    CHECK_EQ_INT(n, 2);
    free(text);
}

static void test_stack_site(void)
{
    struct fixture f;
    mem_capture(&f);
    const struct cap_frame *s = capture_stack_site(&f.c, f.s_gc);
    CHECK(s == &f.frames[f.stacks[f.s_main].frame]);    /* [gc] skipped for main */
    s = capture_stack_site(&f.c, f.s_native);
    CHECK(s == &f.frames[f.stacks[f.s_native].frame]);  /* no Python frame: [native] */
    CHECK(capture_stack_site(&f.c, 0) == NULL);
    CHECK(capture_stack_site(&f.c, 999) == NULL);
}

static void test_stats(void)
{
    struct fixture f;
    mem_capture(&f);
    char *text = NULL;
    CAPTURE_TEXT(text, stats_write(&f.c, 1, mem_));
    CHECK(text != NULL);
    if (!text)
        return;
    show("stats --json", text);
    CHECK(strstr(text, "{\"schema\": \"stetho-stats/1\",\n \"duration_s\": 0.5, "
                       "\"truncated\": false, \"interval_s\": 0.01, \"samples\": 2, "
                       "\"threads\": 1,") == text);
    CHECK(strstr(text, "\"time\": {\"wall_s\": 0.02, \"cpu_user_s\": 0.02, \"cpu_sys_s\": 0, "
                       "\"wait_s\": 0,") != NULL);
    CHECK(strstr(text, "\"memory\": {\"mode\": \"exact\", \"sample_mean_bytes\": 0,") != NULL);
    CHECK(strstr(text, "\"alloc_bytes\": 5350, \"alloc_count\": 54, \"peak_heap_bytes\": 2800, "
                       "\"peak_time_s\": 0.3, \"peak_rss_bytes\": 10485760, "
                       "\"peak_rss_time_s\": 0.4") != NULL);
    CHECK(strstr(text, "\"leaked_bytes\": 450, \"temporary_count\": 7, \"complete\": true") != NULL);
    CHECK(strstr(text, "{\"min_bytes\": 0, \"max_bytes\": 0, \"count\": 1},\n"
                       "    {\"min_bytes\": 64, \"max_bytes\": 127, \"count\": 43},\n"
                       "    {\"min_bytes\": 256, \"max_bytes\": 511, \"count\": 10}]") != NULL);
    CHECK(strstr(text, "\"allocators\": [\n    {\"name\": \"malloc\", \"bytes\": 300, "
                       "\"count\": 3},\n    {\"name\": \"PyObject\", \"bytes\": 5050, "
                       "\"count\": 51}]") != NULL);
    /* locations: the innermost Python frame, most first */
    const char *bytes = strstr(text, "\"top_by_bytes\": [");
    const char *count = strstr(text, "\"top_by_count\": [");
    CHECK(bytes && count && bytes < count);
    if (bytes && count) {
        const char *fib = strstr(bytes, "{\"function\": \"fib\", \"file\": \"/home/u/app.py\", "
                                        "\"line\": 21, \"alloc_bytes\": 4000, \"alloc_count\": 40}");
        const char *build = strstr(bytes, "{\"function\": \"build\", \"file\": \"/home/u/app.py\", "
                                          "\"line\": 11, \"alloc_bytes\": 1000");
        const char *nat = strstr(bytes, "{\"function\": \"[native]\", \"file\": \"\", \"line\": 0, "
                                        "\"alloc_bytes\": 300, \"alloc_count\": 3}");
        const char *mainl = strstr(bytes, "\"function\": \"main\", \"file\": \"/home/u/app.py\", "
                                          "\"line\": 6, \"alloc_bytes\": 50, \"alloc_count\": 1}");
        CHECK(fib && build && nat && mainl && fib < build && build < nat && nat < mainl &&
              mainl < count);
    }
    free(text);

    /* the text form */
    text = NULL;
    CAPTURE_TEXT(text, stats_write(&f.c, 0, mem_));
    show("stats", text);
    CHECK(text && strstr(text, "Wall time:         0.020 s = user 0.020 + sys 0.000 + waiting 0.000"));
    CHECK(text && strstr(text, "Allocated:             5.22 KiB in 54 allocations"));
    CHECK(text && strstr(text, "Temporary allocations: 7"));
    CHECK(text && strstr(text, "  [64 B, 128 B)                43  "));
    CHECK(text && strstr(text, "  [128 B, 256 B)                0\n"));     /* a gap shows */
    CHECK(text && strstr(text, "  malloc          300 B              3\n"));
    CHECK(text && !strstr(text, "calloc"));
    CHECK(text && strstr(text, "        40  fib  /home/u/app.py:21\n"));
    free(text);

    /* without memory: JSON null, time still there */
    f.c.has_memory = 0;
    text = NULL;
    CAPTURE_TEXT(text, stats_write(&f.c, 1, mem_));
    CHECK(text && strstr(text, "\"memory\": null,\n \"leaks\": {\"gc\": ") &&
          strstr(text, "\"memory\": false}}\n") && strstr(text, "\"samples\": 2"));
    free(text);
}

/* The sum of every number after `key` between `from` and `to`. */
static double sum_of(const char *s, const char *from, const char *to, const char *key, int *n)
{
    const char *p = strstr(s, from), *end = strstr(s, to);
    double sum = 0;
    *n = 0;
    while (p && end && (p = strstr(p, key)) && p < end) {
        p += strlen(key);
        sum += strtod(p, NULL);
        (*n)++;
    }
    return sum;
}

static void test_export_json(void)
{
    struct fixture f;
    mem_capture(&f);
    char *text = NULL;
    CAPTURE_TEXT(text, export_json(&f.c, &(struct export_opts){0}, mem_));
    CHECK(text != NULL);
    if (!text)
        return;
    /* sampled stacks gain memory; memory-only stacks come after, untimed */
    CHECK(strstr(text, "\"frames\": [0, 1, 2], \"samples\": 1, \"wall_s\": 0.01,") != NULL);
    CHECK(strstr(text, "\"wait_other_s\": 0, \"alloc_bytes\": 1000, \"alloc_count\": 10, "
                       "\"peak_bytes\": 600, \"leaked_bytes\": 100, \"temporary_count\": 2}")
          != NULL);
    CHECK(strstr(text, "{\"pid\": 100, \"tid\": 1, \"frames\": [0, 1, 3, 3], \"samples\": 0, "
                       "\"wall_s\": 0,") != NULL);
    CHECK(strstr(text, "{\"pid\": 100, \"tid\": 2, \"frames\": [4], \"samples\": 0,") != NULL);
    CHECK(strstr(text, "{\"pid\": 100, \"tid\": 2, \"name\": null}") != NULL);
    CHECK(strstr(text, "\"peak_heap_bytes\": 2800, \"peak_time_s\": 0.3, "
                       "\"peak_rss_bytes\": 10485760, \"peak_rss_time_s\": 0.4, "
                       "\"memory_mode\": \"exact\", \"sample_mean_bytes\": 0},\n") != NULL);
    CHECK(strstr(text, " \"timeline\": [\n  {\"t_s\": 0.1, \"rss_bytes\": 8388608, "
                       "\"heap_bytes\": 1000},\n  {\"t_s\": 0.4, \"rss_bytes\": 10485760, "
                       "\"heap_bytes\": 2500}]}\n") != NULL);
    /* totals = sums over the stacks, for time and memory alike */
    const char *keys[] = { "\"alloc_bytes\": ", "\"alloc_count\": ", "\"peak_bytes\": ",
                           "\"leaked_bytes\": ", "\"temporary_count\": ", "\"wall_s\": ",
                           "\"samples\": " };
    const double want[] = { 5350, 54, 2800, 450, 7, 0.02, 2 };
    for (int k = 0; k < 7; k++) {
        int n, m;
        double stacks = sum_of(text, "\"stacks\"", "\"totals\"", keys[k], &n);
        double total = sum_of(text, "\"totals\"", "\"timeline\"", keys[k], &m);
        CHECK(n == 4 && m == 1 && stacks - total < 1e-9 && total - stacks < 1e-9 &&
              total - want[k] < 1e-9 && want[k] - total < 1e-9);
    }
    free(text);

    f.c.mem_totals.sample_mean = 4096;
    text = NULL;
    CAPTURE_TEXT(text, export_json(&f.c, &(struct export_opts){0}, mem_));
    CHECK(text && strstr(text, "\"memory_mode\": \"sampled\", \"sample_mean_bytes\": 4096}"));
    free(text);
}

/* The fixture through the capture writer and reader: the same tree. */
static void test_round_trip(void)
{
    struct fixture f;
    mem_capture(&f);
    char path[] = "/tmp/stetho-test-memreport-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    struct capture_writer *w = capw_open(path, f.c.interval_ns);
    CHECK(w != NULL);
    if (!w)
        return;
    uint32_t fmap[16] = {0}, smap[16] = {0};
    capw_process(w, &f.procs[0]);
    capw_thread(w, 100, 1, "MainThread");
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
    for (size_t i = 0; i < f.c.ntimeline; i++)
        capw_timeline(w, &f.timeline[i]);
    for (size_t i = 0; i < f.c.nmem_allocs; i++) {
        const struct cap_mem_interval *a = &f.allocs[i];
        struct cap_mem_stack m = { a->pid, a->tid, smap[a->stack], a->bytes, a->count, 0, 0, 0, 0, 0, 0 };
        capw_mem_allocs(w, a->t_ns, &m);
    }
    for (size_t i = 0; i < f.c.nmem; i++) {
        struct cap_mem_stack m = f.mem[i];
        m.stack = smap[m.stack];
        capw_mem_stack(w, &m);
    }
    capw_mem_totals(w, &f.c.mem_totals);
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
    for (int m = PROF_PEAK; m < PROF_NMETRICS; m++) {
        char *want = NULL, *got = NULL;
        o.metric = (enum prof_metric)m;
        CAPTURE_TEXT(want, report_tree_print(&f.c, &o, mem_));
        CAPTURE_TEXT(got, report_tree_print(&c, &o, mem_));
        CHECK(want && got && !strcmp(want, got));
        if (want && got && strcmp(want, got))
            printf("# want:\n%s\n# got:\n%s\n", want, got);
        free(want);
        free(got);
    }
    capture_free(&c);
}

int main(void)
{
    test_metrics_and_formats();
    test_aggregates();
    test_range();
    test_tree_text();
    test_stack_site();
    test_places_by_text();
    test_stats();
    test_export_json();
    test_round_trip();
    return CHECK_DONE();
}
