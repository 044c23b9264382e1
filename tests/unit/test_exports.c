/*
 * test_exports.c -- the export formats (cli/export_*.c) on captures made
 * by hand, for what a real run rarely gives: an empty capture, samples
 * with no Python frame, several processes, names with ';', line breaks,
 * quotes and bytes that are not UTF-8, recursion, and a thread whose
 * samples have a gap.  The end-to-end tests (tests/e2e/test_exports.py)
 * have each format read by its own tool; these check the edges, and,
 * under ASan, that nothing is read out of bounds or leaked.
 */
#include "check.h"
#include "fixture.h"
#include "capture/capture.h"
#include "export/export.h"

#include <stdlib.h>
#include <string.h>

/* A sample of wall ms (half user, half sleep) ending at t ms. */
static void fx_sample(struct fixture *f, int32_t pid, int32_t tid, uint32_t stack, uint64_t t,
                      uint64_t wall)
{
    fx_add_sample(f, (struct cap_sample){
        .pid = pid, .tid = tid, .stack = stack, .t_ns = t * MS, .wall_ns = wall * MS,
        .user_ns = wall * MS / 2, .wait_ns = { 0, wall * MS - wall * MS / 2 } });
}

/* The output of one format, as a string (binary formats: see len). */
static char *render(int (*write)(const struct capture *, const struct export_opts *, FILE *),
                    const struct capture *c, const struct export_opts *o, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&text, &n);
    int rc = write(c, o, mem);
    fclose(mem);
    CHECK_EQ_INT(rc, 0);
    if (len)
        *len = n;
    return text;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

static void test_empty(void)
{
    struct export_opts o = {0};
    struct capture bare = {0};       /* not even the [0] entries */
    struct fixture f;
    fx_init(&f, 100);
    const struct capture *caps[] = { &bare, &f.c };
    for (int i = 0; i < 2; i++) {
        const struct capture *c = caps[i];
        size_t len;
        char *s = render(export_collapsed, c, &o, &len);
        CHECK_EQ_INT(len, 0);
        free(s);
        s = render(export_speedscope, c, &o, NULL);
        CHECK(strstr(s, "\"profiles\": []") != NULL);
        free(s);
        s = render(export_chrome, c, &o, NULL);
        CHECK(strstr(s, "\"traceEvents\": []") != NULL);
        free(s);
        s = render(export_pstats, c, &o, &len);
        CHECK(len == 2 && !memcmp(s, "{0", 2));        /* {} in marshal */
        free(s);
        s = render(export_pprof, c, &o, &len);
        CHECK(len > 18 && (unsigned char)s[0] == 0x1f && (unsigned char)s[1] == 0x8b);
        free(s);
    }
}

/* Two processes; a thread in each; tricky names; recursion; a gap. */
static void tricky(struct fixture *f)
{
    fx_init(f, 100);
    f->argv[0] = "python3";
    f->argv[1] = "app;x.py";
    f->procs[0] = (struct cap_process){ .pid = 100, .argc = 2, .argv = f->argv };
    f->procs[1] = (struct cap_process){ .pid = 200, .ppid = 100 };
    f->c.nprocesses = 2;
    f->threads[0] = (struct cap_thread){ 100, 101, "Main \"one\"" };
    f->threads[1] = (struct cap_thread){ 200, 201, NULL };
    f->c.nthreads = 2;

    uint32_t a = fx_frame(f, "a;b\nc", "/x;y.py", 3, 4, CAP_FRAME_PYTHON);
    uint32_t b = fx_frame(f, "bad\xff\xfe name", "/x;y.py", 10, 11, CAP_FRAME_PYTHON);
    uint32_t a_b = fx_stack(f, fx_stack(f, 0, a), b);
    uint32_t abab = fx_stack(f, fx_stack(f, a_b, a), b);       /* a b a b */

    fx_sample(f, 100, 101, a_b, 10, 10);       /* [0, 10] */
    fx_sample(f, 100, 101, abab, 20, 10);      /* [10, 20]: a b stay, a b open */
    fx_sample(f, 100, 101, a_b, 50, 10);       /* [40, 50]: after a gap */
    fx_sample(f, 200, 201, 0, 30, 30);         /* no Python frames */
}

static void test_collapsed(void)
{
    struct fixture f;
    tricky(&f);
    struct export_opts o = { .metric = PROF_WALL };
    char *s = render(export_collapsed, &f.c, &o, NULL);
    /* a b: 10 + 10 ms; a b a b: 10 ms; per process, per thread */
    CHECK(strstr(s, "Process 100;Thread 101;a:b c (/x:y.py:3);bad\xff\xfe name (/x:y.py:10) "
                    "20000\n") != NULL);
    CHECK(strstr(s, ";bad\xff\xfe name (/x:y.py:10);a:b c (/x:y.py:3);"
                    "bad\xff\xfe name (/x:y.py:10) 10000\n") != NULL);
    CHECK(strstr(s, "Process 200;Thread 201;[no Python frames] 30000\n") != NULL);
    CHECK_EQ_INT(count(s, "\n"), 3);
    free(s);

    o = (struct export_opts){ .metric = EXPORT_SAMPLES, .merge_threads = 1 };
    s = render(export_collapsed, &f.c, &o, NULL);
    CHECK(strstr(s, "[no Python frames] 1\n") != NULL);
    CHECK(strstr(s, "\na:b c (/x:y.py:3);bad\xff\xfe name (/x:y.py:10) 2\n") != NULL);
    CHECK_EQ_INT(count(s, "Thread"), 0);
    free(s);

    o = (struct export_opts){ .metric = PROF_CPU };
    s = render(export_collapsed, &f.c, &o, NULL);
    CHECK(strstr(s, "[no Python frames] 15000\n") != NULL);
    free(s);
}

static void test_speedscope(void)
{
    struct fixture f;
    tricky(&f);
    char *s = render(export_speedscope, &f.c, &(struct export_opts){0}, NULL);
    CHECK(strstr(s, "\"name\": \"python3 app;x.py\"") != NULL);
    CHECK(strstr(s, "{\"name\": \"a;b\\nc\", \"file\": \"/x;y.py\", \"line\": 3}") != NULL);
    CHECK(strstr(s, "{\"name\": \"[no Python frames]\"}") != NULL);
    CHECK(strstr(s, "\"name\": \"Thread 101 (Main \\\"one\\\") of process 100 \xe2\x80\x94 wall\"")
          != NULL);
    /* the runs of thread 101: a b, then a b a b, then a b again */
    CHECK(strstr(s, "\"samples\": [\n   [0, 1],\n   [0, 1, 0, 1],\n   [0, 1]],\n"
                    "  \"weights\": [10000000, 10000000, 10000000]}") != NULL);
    CHECK(strstr(s, "Thread 201 of process 200 \xe2\x80\x94 cpu") != NULL);
    CHECK(strstr(s, "\"activeProfileIndex\": 0}") != NULL);
    free(s);
}

static void test_chrome(void)
{
    struct fixture f;
    tricky(&f);
    char *s = render(export_chrome, &f.c, &(struct export_opts){0}, NULL);
    CHECK(strstr(s, "\"name\": \"process_name\", \"pid\": 100, \"tid\": 0, "
                    "\"args\": {\"name\": \"python3 app;x.py\"}") != NULL);
    CHECK(strstr(s, "\"name\": \"process_name\", \"pid\": 200, \"tid\": 0, "
                    "\"args\": {\"name\": \"process 200\"}") != NULL);
    CHECK(strstr(s, "\"args\": {\"name\": \"Main \\\"one\\\" (101)\"}") != NULL);
    CHECK(strstr(s, "\"args\": {\"name\": \"Thread 201\"}") != NULL);
    /* a and b last 0-20 ms, the inner a b 10-20 ms; after the gap, 40-50 ms */
    CHECK_EQ_INT(count(s, "\"tid\": 101, \"ts\": 0.000, \"dur\": 20000.000"), 2);
    CHECK_EQ_INT(count(s, "\"tid\": 101, \"ts\": 10000.000, \"dur\": 10000.000"), 2);
    CHECK_EQ_INT(count(s, "\"tid\": 101, \"ts\": 40000.000, \"dur\": 10000.000"), 2);
    CHECK_EQ_INT(count(s, "\"ph\": \"X\""), 7);
    CHECK(strstr(s, "\"name\": \"[no Python frames]\", \"cat\": \"other\", \"pid\": 200, "
                    "\"tid\": 201, \"ts\": 0.000, \"dur\": 30000.000}") != NULL);
    free(s);
}

static void test_pstats(void)
{
    struct fixture f;
    tricky(&f);
    size_t len;
    char *s = render(export_pstats, &f.c, &(struct export_opts){0}, &len);
    /* marshal: a dict of 3 functions, each key a 3-tuple */
    CHECK(len > 2 && s[0] == '{' && s[len - 1] == '0');
    const char key_a[] = ")\x03z\x07/x;y.pyi\x03\x00\x00\x00z\x05" "a;b\nc";
    CHECK(memmem(s, len, key_a, sizeof key_a - 1) != NULL);
    /* not UTF-8: each bad byte becomes '?' (else Python refuses the file) */
    CHECK(memmem(s, len, "z\x0a" "bad?? name", 12) != NULL);
    const char none[] = ")\x03z\x01~i\x00\x00\x00\x00z\x12[no Python frames]";
    CHECK(memmem(s, len, none, sizeof none - 1) != NULL);
    /* a: 3 samples (recursion counted once), self 0 s, total 0.03 s */
    const char a_stats[] = "a;b\nc)\x05i\x03\x00\x00\x00i\x03\x00\x00\x00g";
    CHECK(memmem(s, len, a_stats, sizeof a_stats - 1) != NULL);
    free(s);
}

static void test_pprof(void)
{
    struct fixture f;
    tricky(&f);
    size_t len;
    char *s = render(export_pprof, &f.c, &(struct export_opts){0}, &len);
    CHECK(len > 18 && (unsigned char)s[0] == 0x1f && (unsigned char)s[1] == 0x8b);
    free(s);
}

int main(void)
{
    test_empty();
    test_collapsed();
    test_speedscope();
    test_chrome();
    test_pstats();
    test_pprof();
    return CHECK_DONE();
}
