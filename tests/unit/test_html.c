/*
 * test_html.c -- the HTML report's aggregation (report/html_report.h) on
 * captures made in memory: the data blob adds up (every sample in one
 * cell, times rounded to microseconds), strings cannot end the <script>
 * they sit in, the number of cells is held under its budget by merging
 * buckets, and the page has its template filled.
 */
#include "check.h"
#include "capture/capture.h"
#include "report/html_report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull

struct fixture {
    struct capture c;
    char *strings[8];
    struct cap_frame frames[8];
    struct cap_stack stacks[8];
    struct cap_sample *samples;
    struct cap_process proc;
    struct cap_thread threads[2];
    char *argv[2];
};

/* Two threads; stacks main > work > evil</script>, main > idle. */
static void fx_init(struct fixture *f, size_t nsamples, uint64_t duration_ns)
{
    memset(f, 0, sizeof *f);
    static char *strs[] = { NULL, "main", "/app/main.py", "work", "evil</script><b>", "idle" };
    for (int i = 0; i < 6; i++)
        f->strings[i] = strs[i];
    f->c.strings = f->strings;
    f->c.nstrings = 6;
    f->frames[1] = (struct cap_frame){ .function = 1, .file = 2, .line = 5, .first_line = 1 };
    f->frames[2] = (struct cap_frame){ .function = 3, .file = 2, .line = 12, .first_line = 10 };
    f->frames[3] = (struct cap_frame){ .function = 4, .file = 2, .line = 22, .first_line = 20 };
    f->frames[4] = (struct cap_frame){ .function = 5, .file = 2, .line = 32, .first_line = 30 };
    f->frames[5] = (struct cap_frame){ .function = 3, .file = 2, .line = 13, .first_line = 10 };
    f->c.frames = f->frames;
    f->c.nframes = 6;
    f->stacks[1] = (struct cap_stack){ .parent = 0, .frame = 1, .depth = 1 };
    f->stacks[2] = (struct cap_stack){ .parent = 1, .frame = 2, .depth = 2 };
    f->stacks[3] = (struct cap_stack){ .parent = 2, .frame = 3, .depth = 3 };
    f->stacks[4] = (struct cap_stack){ .parent = 1, .frame = 4, .depth = 2 };
    f->stacks[5] = (struct cap_stack){ .parent = 1, .frame = 5, .depth = 2 };
    f->c.stacks = f->stacks;
    f->c.nstacks = 6;
    f->argv[0] = "python3";
    f->argv[1] = "main.py";
    f->proc = (struct cap_process){ .pid = 7, .python_version = "3.12.1", .argc = 2,
                                    .argv = f->argv, .has_exit = 1 };
    f->c.processes = &f->proc;
    f->c.nprocesses = 1;
    f->threads[0] = (struct cap_thread){ .pid = 7, .tid = 7, .name = "MainThread" };
    f->threads[1] = (struct cap_thread){ .pid = 7, .tid = 8, .name = "worker" };
    f->c.threads = f->threads;
    f->c.nthreads = 2;
    f->c.interval_ns = 10 * MS;
    f->c.has_duration = 1;
    f->c.duration_ns = duration_ns;
    f->samples = calloc(nsamples, sizeof *f->samples);
    f->c.samples = f->samples;
    f->c.nsamples = nsamples;
}

/* The data of a capture as a string (free it), and its stats. */
static char *data_of(const struct capture *c, const struct html_opts *o, struct html_stats *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = html_report_data(c, o, f, st);
    fclose(f);
    CHECK(rc == 0);
    return buf;
}

/* The bytes of the base64 string at "key": in data (free them). */
static unsigned char *b64_field(const char *data, const char *key, size_t *len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(data, pat), *end;
    if (!p || !(end = strchr(p += strlen(pat), '"')))
        return NULL;
    unsigned char *out = malloc((size_t)(end - p) / 4 * 3 + 3);
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; p < end && *p != '='; p++) {
        const char *q = strchr(alphabet, *p);
        if (!q) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (unsigned)(q - alphabet);
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    *len = n;
    return out;
}

static uint64_t varint(const unsigned char *b, size_t len, size_t *p)
{
    uint64_t v = 0;
    for (int shift = 0; *p < len && shift < 64; shift += 7) {
        unsigned char c = b[(*p)++];
        v |= (uint64_t)(c & 127) << shift;
        if (!(c & 128))
            break;
    }
    return v;
}

/* Sums of the cells' columns 0 (samples) and 1 (user, in the data's
 * unit); the number of cells; -1 if the data does not decode whole. */
static long parse_cells(const char *data, unsigned nbuckets, uint64_t *samples, uint64_t *user)
{
    size_t len, p = 0;
    unsigned char *b = b64_field(data, "cells", &len);
    if (!b)
        return -1;
    long ncells = 0;
    *samples = *user = 0;
    for (unsigned bucket = 0; bucket < nbuckets; bucket++) {
        uint64_t groups = varint(b, len, &p);
        for (uint64_t g = 0; g < groups; g++) {
            varint(b, len, &p);                 /* thread */
            uint64_t n = varint(b, len, &p);
            for (uint64_t i = 0; i < n; i++, ncells++) {
                varint(b, len, &p);             /* node delta */
                uint64_t mask = varint(b, len, &p);
                for (int k = 0; k < 31; k++)
                    if (mask & (1ull << k)) {
                        uint64_t v = varint(b, len, &p);
                        if (k == 0)
                            *samples += v;
                        if (k == 1)
                            *user += v;
                    }
            }
        }
    }
    free(b);
    return p == len ? ncells : -1;
}

static void test_small(void)
{
    struct fixture f;
    fx_init(&f, 6, 100 * MS);
    /* t, tid, stack, user, sys, lock */
    const uint64_t rows[6][6] = {
        { 5, 7, 3, 9 * MS, 1 * MS, 0 },
        { 15, 7, 3, 9 * MS, 1 * MS, 0 },
        { 25, 7, 5, 10 * MS, 0, 0 },    /* the same function, another line */
        { 35, 8, 4, 0, 0, 10 * MS },
        { 45, 8, 4, 0, 0, 10 * MS },
        { 95, 8, 0, 1500, 0, 0 },       /* no Python frames */
    };
    for (int i = 0; i < 6; i++) {
        struct cap_sample *s = &f.samples[i];
        s->pid = 7;
        s->tid = (int32_t)rows[i][1];
        s->stack = (uint32_t)rows[i][2];
        s->t_ns = rows[i][0] * MS;
        s->user_ns = rows[i][3];
        s->sys_ns = rows[i][4];
        s->wait_ns[CAP_WAIT_LOCK] = rows[i][5];
        s->wall_ns = s->user_ns + s->sys_ns + s->wait_ns[CAP_WAIT_LOCK];
    }
    struct html_stats st;
    char *d = data_of(&f.c, NULL, &st);
    CHECK(strstr(d, "\"format\":\"stetho-html/1\"") != NULL);
    CHECK(strstr(d, "\"argv\":[\"python3\",\"main.py\"]") != NULL);
    CHECK(strstr(d, "\"python_version\":\"3.12.1\"") != NULL);
    /* exact totals, in nanoseconds */
    CHECK(strstr(d, "\"totals\":{\"samples\":6,\"user\":28001500,\"sys\":2000000,\"io\":0,"
                    "\"sleep\":0,\"lock\":20000000,") != NULL);
    /* nothing can end the <script> element */
    CHECK(strstr(d, "</") == NULL && strchr(d, '<') == NULL);
    CHECK(strstr(d, "\"evil\\u003c/script\\u003e\\u003cb\\u003e\"") != NULL);
    /* one tree for both threads: root, main, work:12, evil, work:13, idle */
    CHECK_EQ_INT(st.nodes, 6);
    CHECK_EQ_INT(st.funcs, 4);
    CHECK_EQ_INT(st.sites, 5);
    /* 100 ms in buckets of two intervals */
    CHECK_EQ_INT(st.buckets, 5);
    CHECK_EQ_INT(st.bucket_ns, 20 * MS);
    uint64_t samples, user;
    long n = parse_cells(d, st.buckets, &samples, &user);
    CHECK_EQ_INT(n, (long)st.cells);
    CHECK_EQ_INT(n, 5);     /* bucket 0: two samples of one stack */
    CHECK_EQ_INT(samples, 6);
    /* times in tens of microseconds (a thousandth of the interval) */
    CHECK(strstr(d, "{\"id\":\"user\",\"unit\":\"ns\",\"scale\":10000}") != NULL);
    CHECK_EQ_INT(user, 2800);   /* 1500 ns rounds to nothing */
    /* the thread names and the nodes: distance to parent, site */
    CHECK(strstr(d, "\"threads\":[7,7,\"MainThread\",7,8,\"worker\"]") != NULL);
    size_t len, p = 0;
    unsigned char *nodes = b64_field(d, "nodes", &len);
    static const unsigned char want[] = { 1, 0, 1, 1, 1, 2, 3, 3, 4, 4 };
    CHECK(nodes && len == sizeof want && !memcmp(nodes, want, len));
    CHECK_EQ_INT(varint(nodes, len, &p), 1);
    free(nodes);
    free(d);
    free(f.samples);
}

static void test_budget(void)
{
    /* 20000 samples over 200 s from two threads, 60 stacks' worth of
     * distinct (bucket, node) pairs: more cells than allowed */
    struct fixture f;
    size_t ns = 20000;
    fx_init(&f, ns, 200000 * MS);
    uint64_t user_us = 0;
    for (size_t i = 0; i < ns; i++) {
        struct cap_sample *s = &f.samples[i];
        s->pid = 7;
        s->tid = 7 + (int32_t)(i % 2);
        s->stack = 1 + (uint32_t)(i * 7 % 5);
        s->t_ns = i * 10 * MS;
        s->user_ns = 10000 * (i % 9);
        s->wall_ns = s->user_ns;
        user_us += i % 9;
    }
    struct html_opts o = { .max_cells = 1500, .min_buckets = 10 };
    struct html_stats st;
    char *d = data_of(&f.c, &o, &st);
    CHECK(st.cells <= 1500);
    CHECK(st.buckets >= 10 && st.buckets < HTML_MAX_BUCKETS);
    CHECK((uint64_t)st.buckets * st.bucket_ns >= 200000 * MS);
    uint64_t samples, user;
    CHECK_EQ_INT(parse_cells(d, st.buckets, &samples, &user), (long)st.cells);
    CHECK_EQ_INT(samples, ns);
    CHECK_EQ_INT(user, user_us);
    free(d);

    /* the floor on buckets wins over the budget */
    o = (struct html_opts){ .max_cells = 10, .min_buckets = 50 };
    d = data_of(&f.c, &o, &st);
    CHECK(st.buckets >= 50 && st.buckets < 100);
    CHECK(st.cells > 10);
    free(d);
    free(f.samples);
}

static void test_memory(void)
{
    /* no samples; one stack allocated, held some at the peak, leaked */
    struct fixture f;
    fx_init(&f, 0, 100 * MS);
    struct cap_mem_interval iv[2] = {
        { .t_ns = 10 * MS, .pid = 7, .tid = 8, .stack = 3, .bytes = 1000, .count = 10 },
        { .t_ns = 70 * MS, .pid = 7, .tid = 8, .stack = 3, .bytes = 500, .count = 5 },
    };
    struct cap_mem_stack ms = { .pid = 7, .tid = 8, .stack = 3, .alloc_bytes = 1500,
                                .alloc_count = 15, .peak_bytes = 800, .leaked_bytes = 300 };
    struct cap_timeline_point tl[2] = { { 5 * MS, 4096, 100, 0, 0 }, { 65 * MS, 8192, 900, 0, 0 } };
    f.c.has_memory = 1;
    f.c.mem_allocs = iv;
    f.c.nmem_allocs = 2;
    f.c.mem = &ms;
    f.c.nmem = 1;
    f.c.timeline = tl;
    f.c.ntimeline = 2;
    f.c.mem_totals.peak_heap_t_ns = 65 * MS;
    f.c.mem_totals.sample_mean = 4096;
    struct html_stats st;
    char *d = data_of(&f.c, NULL, &st);
    CHECK(strstr(d, "\"alloc\":1500,\"allocs\":15,\"peak\":800,\"leaked\":300}") != NULL);
    CHECK(strstr(d, "{\"id\":\"alloc\",\"label\":\"Memory allocated\",\"unit\":\"bytes\","
                    "\"sum\":[\"alloc\"]}") != NULL);
    CHECK(strstr(d, "\"memory_sample_bytes\":4096") != NULL);
    /* allocations in buckets 0 and 3, the peak in 3 (one cell), leaks at the end */
    CHECK_EQ_INT(st.buckets, 5);
    CHECK_EQ_INT(st.cells, 3);
    /* RSS and heap per bucket: the highest, or the last before */
    CHECK(strstr(d, "\"id\":\"rss\"") != NULL);
    CHECK(strstr(d, "\"values\":[4096,4096,4096,8192,8192]") != NULL);
    CHECK(strstr(d, "\"values\":[100,100,100,900,900]") != NULL);
    free(d);
    free(f.samples);
}

static void test_page(void)
{
    struct fixture f;
    fx_init(&f, 0, 0);
    f.c.has_duration = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    struct html_stats st;
    CHECK(html_report_write(&f.c, NULL, out, &st) == 0);
    fclose(out);
    CHECK(strncmp(buf, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(buf, "@@") == NULL);
    CHECK(strstr(buf, "<style>") != NULL && strstr(buf, "stetho-html/1") != NULL);
    CHECK(strstr(buf, "window.stethoReport") != NULL);
    int scripts = 0;
    for (const char *p = buf; (p = strstr(p, "</script>")); p++)
        scripts++;
    CHECK_EQ_INT(scripts, 2);
    CHECK_EQ_INT(st.cells, 0);
    CHECK_EQ_INT(st.buckets, 1);
    free(buf);
    free(f.samples);
}

int main(void)
{
    test_small();
    test_budget();
    test_memory();
    test_page();
    return CHECK_DONE();
}
