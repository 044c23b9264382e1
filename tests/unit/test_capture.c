/*
 * test_capture.c -- the capture file: writer/reader round trips of every
 * record (many blocks, large ids, unicode, a 600-deep stack), files cut at
 * every byte and with flipped bytes, hand-made corrupt blocks, foreign
 * files, and the bytes a sample costs in a realistic stream.
 *
 * With STETHO_CAPTURE_CORPUS=DIR set, also leaves small captures in DIR as
 * seeds for tests/fuzz/fuzz_capture.c.
 */
#include "check.h"
#include "capture/capture.h"
#include "capture/format.h"
#include "capture/varint.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

static char tmpdir[] = "/tmp/stetho-capture-XXXXXX";

static const char *tmp_path(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

static void write_all_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

/* Leaves a copy of a small capture for the fuzzer, when asked. */
static void save_seed(const char *name, const uint8_t *p, size_t n)
{
    const char *dir = getenv("STETHO_CAPTURE_CORPUS");
    char path[512];

    if (!dir || n > 4096)
        return;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_all_file(path, p, n);
}

static size_t count_blocks(const uint8_t *p, size_t n)
{
    size_t off = CAPF_HEADER_LEN, k = 0;
    while (off + CAPF_BLOCK_HEADER_LEN <= n) {
        off += CAPF_BLOCK_HEADER_LEN + capf_get32(p + off + 8);
        k++;
    }
    return k;
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: deterministic, so failures reproduce */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

static int sample_eq(const struct cap_sample *a, const struct cap_sample *b)
{
    return a->pid == b->pid && a->tid == b->tid && a->stack == b->stack &&
           a->t_ns == b->t_ns && a->wall_ns == b->wall_ns && a->user_ns == b->user_ns &&
           a->sys_ns == b->sys_ns && memcmp(a->wait_ns, b->wait_ns, sizeof a->wait_ns) == 0;
}

/* ---- round trip of every record type ---- */

static void test_roundtrip(void)
{
    const char *path = tmp_path("all.cap");
    const char *uni = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x8d";
    char *argv1[] = { "python3", "-c", "print('\xc3\xa9')" };
    struct cap_process p1 = { 100, 1, 5, "3.11.7", "/usr/bin/python3", 3, argv1, 0, 0, 0 };
    struct cap_process p2 = { INT32_MAX, 0, UINT64_MAX, NULL, NULL, 0, NULL, 1, -3, 77 };
    struct cap_sample s[6];
    struct capture c;
    char err[256];

    struct capture_writer *w = capw_open(path, 1234567);
    CHECK(w != NULL);
    uint32_t s_empty = capw_string(w, "");
    uint32_t s_uni = capw_string(w, uni);
    CHECK_EQ_INT(s_empty, 1);
    CHECK_EQ_INT(s_uni, 2);
    CHECK_EQ_INT(capw_string(w, uni), s_uni);
    CHECK_EQ_INT(capw_string(w, NULL), 0);
    uint32_t f1 = capw_frame(w, "main", "/app/main.py", 10, 1, CAP_FRAME_PYTHON);
    uint32_t f2 = capw_frame(w, uni, "/app/main.py", INT32_MIN, INT32_MAX, CAP_FRAME_NATIVE);
    uint32_t f3 = capw_frame(w, "[gc]", "", 0, 0, CAP_FRAME_SYNTHETIC);
    uint32_t f4 = capw_frame(w, NULL, NULL, -1, -1, CAP_FRAME_SYNTHETIC);
    CHECK(f1 == 1 && f2 == 2 && f3 == 3 && f4 == 4);
    CHECK_EQ_INT(capw_frame(w, "main", "/app/main.py", 10, 1, CAP_FRAME_PYTHON), f1);
    CHECK(capw_frame(w, "main", "/app/main.py", 11, 1, CAP_FRAME_PYTHON) == 5);
    uint32_t k1 = capw_stack(w, 0, f1);
    CHECK(capw_flush(w) == 0);
    uint32_t k2 = capw_stack(w, k1, f2);
    uint32_t k3 = capw_stack(w, k2, f3);
    CHECK(k1 == 1 && k2 == 2 && k3 == 3);
    CHECK_EQ_INT(capw_stack(w, k1, f2), k2);
    /* Bad ids are refused without breaking the writer. */
    CHECK_EQ_INT(capw_stack(w, 0, 0), 0);
    CHECK_EQ_INT(capw_stack(w, 99, f1), 0);
    CHECK_EQ_INT(capw_stack(w, 0, 99), 0);
    CHECK(capw_process(w, &p1) == 0);
    CHECK(capw_flush(w) == 0);
    CHECK(capw_flush(w) == 0);          /* nothing new: no empty block */
    CHECK(capw_process(w, &p2) == 0);
    CHECK(capw_process_exit(w, 100, 137, 999) == 0);
    CHECK(capw_process_exit(w, 4242, 1, 1) == 0);   /* never announced */
    CHECK(capw_thread(w, 100, 101, "MainThread") == 0);
    CHECK(capw_thread(w, 100, 102, NULL) == 0);
    CHECK(capw_thread(w, -1, INT32_MIN, uni) == 0);

    memset(s, 0, sizeof s);
    s[0] = (struct cap_sample){ 100, 101, k3, 1000, 300, 100, 50, { 150, 0, 0, 0, 0 } };
    s[1] = (struct cap_sample){ 100, 102, 0, 1000, 0, 0, 0, { 0 } };
    s[2] = (struct cap_sample){ 100, 101, k1, 500, 999, 1, 2, { 3, 4, 5, 6, 7 } };    /* t back, wall != sum */
    s[3] = (struct cap_sample){ INT32_MAX, INT32_MIN, k2, UINT64_MAX, UINT64_MAX, UINT64_MAX,
                                UINT64_MAX, { UINT64_MAX, 1, 0, 0, UINT64_MAX } };
    s[4] = (struct cap_sample){ -5, 0, k3, 0, 10, 0, 0, { 0, 0, 0, 0, 10 } };
    s[5] = (struct cap_sample){ 100, 101, k3, 20000000000ULL, 10000000, 9000000, 1000000, { 0 } };
    CHECK(capw_sample(w, &s[0]) == 0);
    CHECK(capw_sample(w, &s[1]) == 0);
    CHECK(capw_flush(w) == 0);
    for (int i = 2; i < 6; i++)
        CHECK(capw_sample(w, &s[i]) == 0);
    struct cap_sample bad = s[0];
    bad.stack = 1000;
    CHECK(capw_sample(w, &bad) == -1);
    uint64_t before = capw_bytes(w);
    CHECK(before > CAPF_HEADER_LEN);
    CHECK(capw_close(w, 42) == 0);

    size_t len;
    uint8_t *data = read_all(path, &len);
    CHECK(len > before);
    CHECK_EQ_INT(count_blocks(data, len), 4);
    save_seed("roundtrip", data, len);
    free(data);

    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    CHECK_EQ_INT(c.format_version, 1);
    CHECK_EQ_INT(c.interval_ns, 1234567);
    CHECK(c.start_unix_ns > 1600000000ULL * 1000000000ULL);
    CHECK(c.has_duration && c.duration_ns == 42);
    CHECK(!c.truncated && c.truncation == NULL);
    CHECK_EQ_INT(c.nstrings, 6);        /* [0], "", uni, main, file, [gc] */
    CHECK(c.strings[0] == NULL);
    CHECK_EQ_STR(c.strings[s_empty], "");
    CHECK_EQ_STR(c.strings[s_uni], uni);
    CHECK_EQ_INT(c.nframes, 6);
    CHECK_EQ_STR(c.strings[c.frames[f1].function], "main");
    CHECK_EQ_STR(c.strings[c.frames[f1].file], "/app/main.py");
    CHECK(c.frames[f1].line == 10 && c.frames[f1].first_line == 1 &&
          c.frames[f1].kind == CAP_FRAME_PYTHON);
    CHECK(c.frames[f2].function == s_uni && c.frames[f2].line == INT32_MIN &&
          c.frames[f2].first_line == INT32_MAX && c.frames[f2].kind == CAP_FRAME_NATIVE);
    CHECK(c.frames[f3].kind == CAP_FRAME_SYNTHETIC);
    CHECK(c.frames[f4].function == 0 && c.frames[f4].file == 0 && c.frames[f4].line == -1);
    CHECK_EQ_INT(c.nstacks, 4);
    CHECK(c.stacks[k1].parent == 0 && c.stacks[k1].frame == f1 && c.stacks[k1].depth == 1);
    CHECK(c.stacks[k3].parent == k2 && c.stacks[k3].frame == f3 && c.stacks[k3].depth == 3);

    CHECK_EQ_INT(c.nprocesses, 2);
    struct cap_process *q = &c.processes[0];
    CHECK(q->pid == 100 && q->ppid == 1 && q->start_ns == 5);
    CHECK_EQ_STR(q->python_version, "3.11.7");
    CHECK_EQ_STR(q->python_executable, "/usr/bin/python3");
    CHECK_EQ_INT(q->argc, 3);
    CHECK_EQ_STR(q->argv[2], argv1[2]);
    CHECK(q->argv[3] == NULL);
    CHECK(q->has_exit && q->exit_code == 137 && q->end_ns == 999);
    q = &c.processes[1];
    CHECK(q->pid == INT32_MAX && q->start_ns == UINT64_MAX && !q->python_version &&
          !q->python_executable && q->argc == 0);
    CHECK(q->has_exit && q->exit_code == -3 && q->end_ns == 77);

    CHECK_EQ_INT(c.nthreads, 3);
    CHECK(c.threads[0].pid == 100 && c.threads[0].tid == 101);
    CHECK_EQ_STR(c.threads[0].name, "MainThread");
    CHECK(c.threads[1].name == NULL);
    CHECK(c.threads[2].pid == -1 && c.threads[2].tid == INT32_MIN);
    CHECK_EQ_STR(c.threads[2].name, uni);

    CHECK_EQ_INT(c.nsamples, 6);
    int same = c.nsamples == 6;
    for (size_t i = 0; same && i < 6; i++)
        same = sample_eq(&c.samples[i], &s[i]);
    CHECK(same);
    capture_free(&c);
    CHECK(c.samples == NULL && c.nsamples == 0);
    capture_free(&c);                   /* twice is harmless */
}

/* ---- many blocks, large ids, a deep stack ---- */

static void test_big(void)
{
    const char *path = tmp_path("big.cap");
    enum { NSTR = 200000, DEEP = 600 };
    struct capture c;
    char err[256], name[64];
    uint32_t deep = 0, top = 0;

    struct capture_writer *w = capw_open(path, 10000000);
    for (int i = 0; i < NSTR; i++) {
        snprintf(name, sizeof name, "string number %d \xe2\x82\xac", i);
        if (capw_string(w, name) != (uint32_t)i + 1)
            break;
    }
    CHECK_EQ_INT(capw_string(w, "string number 199999 \xe2\x82\xac"), NSTR);
    for (int i = 0; i < DEEP; i++) {
        snprintf(name, sizeof name, "fn%d", i);
        uint32_t f = capw_frame(w, name, "deep.py", i, i / 2, CAP_FRAME_PYTHON);
        deep = capw_stack(w, deep, f);
        if (i % 97 == 0)
            capw_flush(w);
    }
    top = capw_stack(w, 0, capw_frame(w, "string number 199999 \xe2\x82\xac",
                                      "string number 123456 \xe2\x82\xac", 1, 1, CAP_FRAME_NATIVE));
    struct cap_sample s = { 7, 8, deep, 1, 1, 1, 0, { 0 } };
    for (int i = 0; i < 1000; i++) {
        s.t_ns += 10000000;
        s.stack = i % 2 ? deep : top;
        capw_sample(w, &s);
        if (i % 100 == 0)
            capw_flush(w);
    }
    CHECK(capw_close(w, 1) == 0);

    size_t len;
    uint8_t *data = read_all(path, &len);
    size_t nblocks = count_blocks(data, len);
    printf("# big capture: %zu bytes, %zu blocks\n", len, nblocks);
    CHECK(nblocks > 15);
    free(data);

    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    CHECK(!c.truncated);
    CHECK_EQ_INT(c.nstrings, NSTR + 1 + DEEP + 1);
    CHECK_EQ_STR(c.strings[NSTR], "string number 199999 \xe2\x82\xac");
    CHECK_EQ_INT(c.stacks[deep].depth, DEEP);
    int ok = 1, d = DEEP;
    for (uint32_t k = deep; k; k = c.stacks[k].parent) {
        snprintf(name, sizeof name, "fn%d", --d);
        const struct cap_frame *f = &c.frames[c.stacks[k].frame];
        ok &= strcmp(c.strings[f->function], name) == 0 && f->line == d;
    }
    CHECK(ok && d == 0);
    CHECK(c.frames[c.stacks[top].frame].function == NSTR);
    CHECK(c.frames[c.stacks[top].frame].file == 123457);
    CHECK_EQ_INT(c.nsamples, 1000);
    CHECK(c.samples[999].t_ns == 1000 * 10000000ULL + 1 && c.samples[999].stack == deep);
    capture_free(&c);
}

/* ---- writer limits: long strings are cut, a huge argv is shortened ---- */

static void test_limits(void)
{
    const char *path = tmp_path("limits.cap");
    size_t big = 2u << 20;
    char *s = malloc(big + 1), *argv[20];
    struct capture c;
    char err[256];

    /* "é" is two bytes: an odd cut would split one */
    for (size_t i = 0; i + 1 < big; i += 2)
        s[i] = '\xc3', s[i + 1] = '\xa9';
    s[big] = '\0';
    memmove(s, s + 1, big);             /* start on a continuation byte's partner */
    s[0] = 'x';
    for (int i = 0; i < 20; i++)
        argv[i] = s;
    struct cap_process p = { 1, 0, 0, NULL, NULL, 20, argv, 0, 0, 0 };
    struct capture_writer *w = capw_open(path, 1);
    uint32_t id = capw_string(w, s);
    CHECK(id == 1);
    CHECK(capw_process(w, &p) == 0);
    CHECK(capw_close(w, 1) == 0);
    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    CHECK(!c.truncated);
    size_t n = c.nstrings == 2 ? strlen(c.strings[1]) : 0;
    CHECK(n > 0 && n <= CAPF_STRING_MAX && n >= CAPF_STRING_MAX - 1);
    CHECK(n > 0 && memcmp(c.strings[1], s, n) == 0 && ((uint8_t)s[n] & 0xc0) != 0x80);
    CHECK(c.nprocesses == 1 && c.processes[0].argc > 10 && c.processes[0].argc < 20);
    printf("# argv of 20 x 2 MiB kept as %d x %zu bytes\n",
           c.nprocesses ? c.processes[0].argc : 0, c.nprocesses ? strlen(c.processes[0].argv[0]) : 0);
    capture_free(&c);
    free(s);
}

/* ---- cut and damaged files ---- */

struct counts { size_t strings, frames, stacks, processes, threads, samples; };

static struct counts counts_of(const struct capture *c)
{
    return (struct counts){ c->nstrings, c->nframes, c->nstacks, c->nprocesses,
                            c->nthreads, c->nsamples };
}

static int counts_eq(struct counts a, struct counts b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* A small capture of several blocks; boundary[i] / at[i]: the file size and
 * what a reader sees after each block. */
static uint8_t *small_capture(size_t *len, size_t boundary[], struct counts at[], int *nb)
{
    const char *path = tmp_path("small.cap");
    char *argv[] = { "prog", "--flag" };
    struct cap_process p = { 10, 1, 0, "3.12.1", "/usr/bin/python3.12", 2, argv, 0, 0, 0 };
    struct capture_writer *w = capw_open(path, 5000000);
    struct cap_sample s = { 10, 10, 0, 0, 5000000, 4000000, 1000000, { 0 } };
    int n = 0;

    boundary[n] = capw_bytes(w);
    at[n++] = (struct counts){ 1, 1, 1, 0, 0, 0 };
    capw_process(w, &p);
    capw_thread(w, 10, 10, "MainThread");
    uint32_t f = capw_frame(w, "main", "prog.py", 3, 1, CAP_FRAME_PYTHON);
    s.stack = capw_stack(w, 0, f);
    capw_sample(w, &s);
    capw_flush(w);
    boundary[n] = capw_bytes(w);
    at[n++] = (struct counts){ 3, 2, 2, 1, 1, 1 };
    f = capw_frame(w, "work", "prog.py", 9, 8, CAP_FRAME_PYTHON);
    s.stack = capw_stack(w, s.stack, f);
    s.t_ns += 5000000;
    capw_sample(w, &s);
    s.tid = 11;
    capw_thread(w, 10, 11, "worker");
    s.wait_ns[CAP_WAIT_SLEEP] = s.wall_ns;
    s.user_ns = s.sys_ns = 0;
    capw_sample(w, &s);
    capw_flush(w);
    boundary[n] = capw_bytes(w);
    at[n++] = (struct counts){ 4, 3, 3, 1, 2, 3 };
    s.t_ns += 5000000;
    capw_sample(w, &s);
    capw_process_exit(w, 10, 0, s.t_ns);
    capw_close(w, s.t_ns);
    *nb = n;
    uint8_t *data = read_all(path, len);
    boundary[n] = *len;
    at[n] = (struct counts){ 4, 3, 3, 1, 2, 4 };
    *nb = n + 1;
    return data;
}

static void test_cuts(void)
{
    size_t boundary[8], len;
    struct counts at[8];
    int nb, bad = 0, bad_msg = 0;
    uint8_t *data = small_capture(&len, boundary, at, &nb);
    struct capture c;
    char err[256];

    save_seed("small", data, len);
    printf("# small capture: %zu bytes, %d blocks\n", len, nb - 1);
    for (size_t cut = 0; cut <= len; cut++) {
        /* a copy of exactly `cut` bytes, so ASan sees any overread */
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, data, cut);
        int rc = capture_load_mem(part, cut, &c, err, sizeof err);
        if (cut < CAPF_HEADER_LEN) {
            bad += rc != -1;
            bad_msg += err[0] == '\0' || strchr(err, '\n') != NULL;
        } else {
            int i = nb - 1;
            while (boundary[i] > cut)
                i--;
            if (rc != 0 || !counts_eq(counts_of(&c), at[i]) ||
                c.truncated != (cut != len) || (c.truncated && !c.truncation) ||
                c.has_duration != (cut == len)) {
                bad++;
                printf("# cut at %zu: rc %d, %zu samples, truncated %d (%s)\n", cut, rc,
                       c.nsamples, c.truncated, c.truncation ? c.truncation : err);
            }
        }
        capture_free(&c);
        free(part);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(bad_msg, 0);

    /* A cut inside a block names the block. */
    CHECK_EQ_INT(capture_load_mem(data, boundary[1] + 20, &c, err, sizeof err), 0);
    CHECK(c.truncated && strstr(c.truncation, "block 1") && strstr(c.truncation, "cut"));
    printf("# %s\n", c.truncation);
    capture_free(&c);

    /* Flipped bits: a clean error or a truncated (or unchanged) result. */
    static const uint8_t masks[] = { 0x01, 0x10, 0x80, 0xff };
    bad = 0;
    int nerr = 0, ntrunc = 0, nsame = 0;
    for (size_t off = 0; off < len; off++)
        for (size_t m = 0; m < sizeof masks; m++) {
            data[off] ^= masks[m];
            int rc = capture_load_mem(data, len, &c, err, sizeof err);
            if (rc == -1)
                nerr++, bad += err[0] == '\0' || strchr(err, '\n') != NULL;
            else if (c.truncated)
                ntrunc++, bad += c.truncation == NULL;
            else
                nsame++, bad += !counts_eq(counts_of(&c), at[nb - 1]);
            capture_free(&c);
            data[off] ^= masks[m];
        }
    printf("# flips: %d errors, %d truncated, %d harmless\n", nerr, ntrunc, nsame);
    CHECK_EQ_INT(bad, 0);
    free(data);
}

static void test_foreign(void)
{
    struct capture c;
    char err[256];
    uint8_t junk[4096];
    uint64_t r = 12345;

    CHECK_EQ_INT(capture_load_mem((const uint8_t *)"", 0, &c, err, sizeof err), -1);
    CHECK_EQ_STR(err, "not a stetho capture (empty file)");
    write_all_file(tmp_path("empty"), "", 0);
    CHECK_EQ_INT(capture_load(tmp_path("empty"), &c, err, sizeof err), -1);
    CHECK_EQ_STR(err, "not a stetho capture (empty file)");

    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)rng_next(&r);
    write_all_file(tmp_path("junk"), junk, sizeof junk);
    CHECK_EQ_INT(capture_load(tmp_path("junk"), &c, err, sizeof err), -1);
    CHECK_EQ_STR(err, "not a stetho capture");

    memcpy(junk, CAPF_MAGIC "\x02\0\0\0\0\0\0\0", 16);
    CHECK_EQ_INT(capture_load_mem(junk, sizeof junk, &c, err, sizeof err), -1);
    CHECK_EQ_STR(err, "unsupported capture format version 2");

    /* The right header and then junk: blocks are what is bad. */
    memcpy(junk, CAPF_MAGIC "\x01\0\0\0\0\0\0\0", 16);
    CHECK_EQ_INT(capture_load_mem(junk, sizeof junk, &c, err, sizeof err), 0);
    CHECK(c.truncated && c.nsamples == 0);
    printf("# %s\n", c.truncation);
    capture_free(&c);

    CHECK_EQ_INT(capture_load(tmp_path("missing"), &c, err, sizeof err), -1);
    CHECK(strstr(err, "No such file") != NULL);
    CHECK_EQ_INT(capture_load(tmpdir, &c, err, sizeof err), -1);
    CHECK(err[0] != '\0');
    /* A tiny error buffer is not overrun, and none at all is allowed. */
    CHECK_EQ_INT(capture_load_mem(junk, 3, &c, err, 4), -1);
    CHECK_EQ_STR(err, "not");
    CHECK_EQ_INT(capture_load_mem(junk, 3, &c, NULL, 0), -1);
}

/* ---- hand-made blocks: what a writer never produces ---- */

static void rec(struct vbuf *b, unsigned type, const struct vbuf *payload)
{
    vbuf_varint(b, type);
    vbuf_varint(b, payload->len);
    vbuf_put(b, payload->p, payload->len);
}

/* Appends a block holding raw (compressed as a frame of its own). */
static void add_block(struct vbuf *file, const struct vbuf *raw)
{
    size_t bound = ZSTD_compressBound(raw->len);
    uint8_t *z = malloc(bound);
    size_t n = ZSTD_compress(z, bound, raw->p, raw->len, 1);
    uint8_t h[CAPF_BLOCK_HEADER_LEN];
    capf_put32(h, CAPF_BLOCK_MAGIC);
    capf_put32(h + 4, (uint32_t)raw->len);
    capf_put32(h + 8, (uint32_t)n);
    capf_put32(h + 12, capf_crc32(z, n));
    vbuf_put(file, h, sizeof h);
    vbuf_put(file, z, n);
    free(z);
}

/* Loads a file of a good block and then the block `second`; returns what
 * the second block did (1 = loaded whole, 0 = truncated at it). */
static int try_second_block(const struct vbuf *second, const char *what)
{
    struct vbuf file = { 0 }, raw = { 0 }, p = { 0 };
    struct capture c;
    char err[256];

    vbuf_put(&file, CAPF_MAGIC "\x01\0\0\0\0\0\0\0", 16);
    vbuf_put(&p, "f", 1);
    rec(&raw, CAPF_STRING, &p);
    p.len = 0;
    vbuf_varint(&p, 1), vbuf_varint(&p, 1), vbuf_svarint(&p, 3), vbuf_svarint(&p, 1), vbuf_varint(&p, 0);
    rec(&raw, CAPF_FRAME, &p);
    p.len = 0;
    vbuf_varint(&p, 0), vbuf_varint(&p, 1);
    rec(&raw, CAPF_STACK, &p);
    p.len = 0;
    vbuf_varint(&p, 1 << 3 | CAPF_S_WALL);     /* sleep only */
    vbuf_svarint(&p, -3), vbuf_varint(&p, 1), vbuf_svarint(&p, 50), vbuf_varint(&p, 40),
        vbuf_varint(&p, 40);
    rec(&raw, CAPF_SAMPLE, &p);
    add_block(&file, &raw);
    add_block(&file, second);

    char seed[64];
    snprintf(seed, sizeof seed, "crafted-%s", what);
    for (char *q = seed; *q; q++)
        if (*q == ' ')
            *q = '-';
    save_seed(seed, file.p, file.len);
    /* the bare records too: the fuzzer also reads its input as a block's */
    memcpy(seed, "records", 7);
    save_seed(seed, second->p, second->len);
    save_seed("records-first", raw.p, raw.len);

    int rc = capture_load_mem(file.p, file.len, &c, err, sizeof err);
    int kept = rc == 0 && c.nstrings >= 2 && c.nframes >= 2 && c.nstacks >= 2 && c.nsamples >= 1 &&
               c.samples[0].tid == -3 && c.samples[0].t_ns == 50 &&
               c.samples[0].wait_ns[CAP_WAIT_SLEEP] == 40 && c.samples[0].wall_ns == 40;
    if (!kept)
        printf("# %s: rc %d (%s)\n", what, rc, err);
    else if (c.truncated && c.has_duration)
        printf("# %s: %s\n", what, c.truncation);
    CHECK(kept);
    int result = c.truncated && strstr(c.truncation, "block 1") ? 0 : c.has_duration ? 1 : -1;
    capture_free(&c);
    free(file.p);
    free(raw.p);
    free(p.p);
    return result;
}

/* Memory records as written before the mapping figures were appended
 * (TIMELINE, MEM_PEAK, MEM_PEAK_STACK, MEM_STACK, MEM_TOTALS ending
 * earlier) still read, the figures as 0; and the figures round-trip. */
static void test_mapping_figures(void)
{
    struct vbuf file = { 0 }, raw = { 0 }, p = { 0 };
    struct capture c;
    char err[256];

    vbuf_put(&file, CAPF_MAGIC "\x01\0\0\0\0\0\0\0", 16);
    vbuf_varint(&p, 10000000), vbuf_varint(&p, 1);
    rec(&raw, CAPF_META, &p);
    p.len = 0;
    vbuf_varint(&p, 5), vbuf_varint(&p, 4096), vbuf_varint(&p, 100);
    rec(&raw, CAPF_TIMELINE, &p);
    p.len = 0;
    vbuf_varint(&p, 6), vbuf_varint(&p, 300);
    rec(&raw, CAPF_MEM_PEAK, &p);
    p.len = 0;
    vbuf_svarint(&p, 7), vbuf_svarint(&p, 8), vbuf_varint(&p, 0), vbuf_varint(&p, 250);
    rec(&raw, CAPF_MEM_PEAK_STACK, &p);
    p.len = 0;
    vbuf_svarint(&p, 7), vbuf_svarint(&p, 8), vbuf_varint(&p, 0);
    for (int i = 0; i < 5; i++)
        vbuf_varint(&p, 10 + (uint64_t)i);
    rec(&raw, CAPF_MEM_STACK, &p);
    p.len = 0;
    for (int i = 0; i < 9; i++)
        vbuf_varint(&p, 20 + (uint64_t)i);
    vbuf_varint(&p, 0), vbuf_varint(&p, 0);     /* no allocators, no size classes */
    rec(&raw, CAPF_MEM_TOTALS, &p);
    p.len = 0;
    vbuf_varint(&p, 9);
    rec(&raw, CAPF_END, &p);
    add_block(&file, &raw);
    CHECK_EQ_INT(capture_load_mem(file.p, file.len, &c, err, sizeof err), 0);
    CHECK(!c.truncated && c.has_memory && c.ntimeline == 1 && c.nmem == 1);
    if (c.ntimeline == 1 && c.nmem == 1) {
        CHECK_EQ_INT(c.timeline[0].heap_bytes, 100);
        CHECK_EQ_INT(c.timeline[0].mapped_bytes, 0);
        CHECK_EQ_INT(c.timeline[0].mapped_resident_bytes, 0);
        CHECK_EQ_INT(c.mem[0].peak_bytes, 12);
        CHECK_EQ_INT(c.mem[0].peak_mapped_bytes, 0);
        CHECK_EQ_INT(c.mem[0].leaked_mapped_bytes, 0);
        CHECK_EQ_INT(c.mem_totals.peak_heap_bytes, 20);
        CHECK_EQ_INT(c.mem_totals.sample_mean, 28);
        CHECK_EQ_INT(c.mem_totals.peak_mapped_bytes, 0);
        CHECK_EQ_INT(c.mem_totals.leaked_mapped_bytes, 0);
    }
    capture_free(&c);

    const char *path = tmp_path("mapped.stetho");
    struct capture_writer *w = capw_open(path, 10000000);
    struct cap_timeline_point tp = { 5, 4096, 100, 64 << 20, 1 << 20 }, pk = { 6, 0, 300, 32, 16 };
    struct cap_mem_stack ms = { 7, 8, 0, 10, 11, 12, 13, 14, 15, 16, 0 };
    struct cap_mem_totals tot = { .peak_heap_bytes = 300, .peak_mapped_bytes = 32,
                                  .peak_mapped_resident_bytes = 16, .leaked_mapped_bytes = 17 };
    capw_timeline(w, &tp);
    capw_mem_peak(w, &pk);
    ms.live_bytes = 500;                /* held now: the latest MEM_LIVE is what counts */
    capw_mem_live(w, 6, &ms);
    ms.live_bytes = 400;
    capw_mem_live(w, 7, &ms);
    capw_mem_stack(w, &ms);
    capw_mem_totals(w, &tot);
    CHECK_EQ_INT(capw_close(w, 9), 0);
    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    CHECK(c.ntimeline == 1 && c.nmem == 1);
    if (c.ntimeline == 1 && c.nmem == 1) {
        CHECK_EQ_INT(c.timeline[0].mapped_bytes, 64 << 20);
        CHECK_EQ_INT(c.timeline[0].mapped_resident_bytes, 1 << 20);
        CHECK_EQ_INT(c.mem[0].peak_mapped_bytes, 15);
        CHECK_EQ_INT(c.mem[0].leaked_mapped_bytes, 16);
        CHECK_EQ_INT(c.mem[0].live_bytes, 400);
        CHECK_EQ_INT(c.mem_totals.peak_mapped_bytes, 32);
        CHECK_EQ_INT(c.mem_totals.peak_mapped_resident_bytes, 16);
        CHECK_EQ_INT(c.mem_totals.leaked_mapped_bytes, 17);
    }
    capture_free(&c);
    free(file.p);
    free(raw.p);
    free(p.p);
}

/* CALLS records: written and read back; an undefined frame is refused by
 * the writer and makes the reader stop at the record. */
static void test_calls(void)
{
    char err[256];
    struct capture c;
    const char *path = tmp_path("calls.stetho");
    struct capture_writer *w = capw_open(path, 10000000);
    uint32_t f = capw_frame(w, "fib", "/x/a.py", 3, 3, CAP_FRAME_PYTHON);
    uint32_t g = capw_frame(w, "<built-in method builtins.len>", "~", 0, 0, CAP_FRAME_NATIVE);
    struct cap_call own = { 41, 0, f, 1973, 1, 5000000000ull, 123 };
    struct cap_call edge = { 41, f, g, 7, 7, 8, 9 };
    struct cap_call bad = { 41, 0, g + 5, 1, 1, 1, 1 };
    CHECK_EQ_INT(capw_call(w, &own), 0);
    CHECK_EQ_INT(capw_call(w, &edge), 0);
    CHECK_EQ_INT(capw_call(w, &bad), -1);
    CHECK_EQ_INT(capw_close(w, 9), 0);
    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    CHECK(!c.truncated && c.ncalls == 2);
    if (c.ncalls == 2) {
        const struct cap_call *want[] = { &own, &edge };
        for (int i = 0; i < 2; i++) {
            const struct cap_call *a = &c.calls[i], *b = want[i];
            CHECK(a->pid == b->pid && a->caller == b->caller && a->callee == b->callee &&
                  a->calls == b->calls && a->primitive_calls == b->primitive_calls &&
                  a->cum_ns == b->cum_ns && a->own_ns == b->own_ns);
        }
    }
    capture_free(&c);

    struct vbuf file = { 0 }, raw = { 0 }, p = { 0 };
    vbuf_put(&file, CAPF_MAGIC "\x01\0\0\0\0\0\0\0", 16);
    vbuf_varint(&p, 10000000), vbuf_varint(&p, 1);
    rec(&raw, CAPF_META, &p);
    p.len = 0;
    vbuf_svarint(&p, 1), vbuf_varint(&p, 0), vbuf_varint(&p, 3);   /* frame 3: undefined */
    for (int i = 0; i < 4; i++)
        vbuf_varint(&p, 1);
    rec(&raw, CAPF_CALLS, &p);
    add_block(&file, &raw);
    CHECK_EQ_INT(capture_load_mem(file.p, file.len, &c, err, sizeof err), 0);
    CHECK(c.truncated && c.ncalls == 0);
    capture_free(&c);
    free(file.p);
    free(raw.p);
    free(p.p);
}

/* Native frames (format 1.2): modules interned once per (path, build-id),
 * frames keep module and address and are told apart by them; a frame
 * record without them (older captures) reads module 0; a frame naming an
 * undefined module makes its block bad. */
static void test_native_frames(void)
{
    char err[256];
    struct capture c;
    const char *path = tmp_path("native.stetho");
    struct capture_writer *w = capw_open(path, 10000000);
    uint32_t m1 = capw_module(w, "/x/libspin.so", "0123abcd");
    uint32_t m2 = capw_module(w, "/x/libc.so.6", NULL);
    CHECK(m1 == 1 && m2 == 2 && capw_module(w, "/x/libspin.so", "0123abcd") == m1);
    uint32_t a = capw_native_frame(w, "ns::Klass::spin(int)", "/src/spin.cpp", 12, 9, m1, 0x1139);
    uint32_t b = capw_native_frame(w, "ns::Klass::spin(int)", "/src/spin.cpp", 12, 9, m1, 0x1141);
    uint32_t d = capw_native_frame(w, "libc.so.6+0x10", "/x/libc.so.6", 0, 0, m2, 0x10);
    uint32_t py = capw_frame(w, "f", "/x/a.py", 3, 3, CAP_FRAME_PYTHON);
    CHECK(a && b && a != b && d && py);
    CHECK(capw_native_frame(w, "ns::Klass::spin(int)", "/src/spin.cpp", 12, 9, m1, 0x1139) == a);
    CHECK(capw_native_frame(w, "x", "", 0, 0, 7, 1) == 0);     /* module 7: never defined */
    CHECK(capw_stack(w, capw_stack(w, 0, py), a) != 0);
    CHECK_EQ_INT(capw_close(w, 9), 0);
    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    CHECK(!c.truncated && c.nmodules == 3 && c.nframes == 5);
    if (c.nmodules == 3 && c.nframes == 5) {
        CHECK(!strcmp(c.strings[c.modules[m1].path], "/x/libspin.so"));
        CHECK(!strcmp(c.strings[c.modules[m1].build_id], "0123abcd"));
        CHECK(c.modules[m2].build_id == 0);
        const struct cap_frame *fa = &c.frames[a], *fb = &c.frames[b], *fp = &c.frames[py];
        CHECK(fa->kind == CAP_FRAME_NATIVE && fa->module == m1 && fa->addr == 0x1139 &&
              fa->line == 12 && fa->first_line == 9);
        CHECK(!strcmp(c.strings[fa->function], "ns::Klass::spin(int)"));
        CHECK(fb->addr == 0x1141 && c.frames[d].module == m2);
        CHECK(fp->module == 0 && fp->addr == 0);
    }
    capture_free(&c);

    struct vbuf file = { 0 }, raw = { 0 }, p = { 0 };
    for (int bad = 0; bad < 2; bad++) {
        file.len = raw.len = 0;
        vbuf_put(&file, CAPF_MAGIC "\x01\0\0\0\0\0\0\0", 16);
        p.len = 0;
        vbuf_varint(&p, 10000000), vbuf_varint(&p, 1);
        rec(&raw, CAPF_META, &p);
        p.len = 0;
        vbuf_put(&p, "g", 1);
        rec(&raw, CAPF_STRING, &p);
        p.len = 0;          /* a frame as written before format 1.2 */
        vbuf_varint(&p, 1), vbuf_varint(&p, 1), vbuf_svarint(&p, 3), vbuf_svarint(&p, 1),
            vbuf_varint(&p, 1);
        rec(&raw, CAPF_FRAME, &p);
        p.len = 0;
        vbuf_varint(&p, 1), vbuf_varint(&p, 0);
        rec(&raw, CAPF_MODULE, &p);
        p.len = 0;          /* module 1 defined, module 2 not */
        vbuf_varint(&p, 1), vbuf_varint(&p, 1), vbuf_svarint(&p, 3), vbuf_svarint(&p, 1),
            vbuf_varint(&p, 1), vbuf_varint(&p, bad ? 2 : 1), vbuf_varint(&p, 77);
        rec(&raw, CAPF_FRAME, &p);
        p.len = 0;
        vbuf_varint(&p, 9);
        rec(&raw, CAPF_END, &p);
        add_block(&file, &raw);
        CHECK_EQ_INT(capture_load_mem(file.p, file.len, &c, err, sizeof err), 0);
        if (bad) {
            CHECK(c.truncated && c.nframes == 1);
        } else {
            CHECK(!c.truncated && c.nframes == 3 && c.nmodules == 2);
            if (c.nframes == 3)
                CHECK(c.frames[1].module == 0 && c.frames[2].module == 1 &&
                      c.frames[2].addr == 77);
        }
        capture_free(&c);
    }
    free(file.p);
    free(raw.p);
    free(p.p);
}

static void test_crafted(void)
{
    struct vbuf b = { 0 }, p = { 0 }, end = { 0 };

    vbuf_varint(&end, 9);
#define RESET() (b.len = 0, p.len = 0)
    /* unknown types and extra trailing fields are skipped */
    RESET();
    vbuf_put(&p, "future", 6);
    rec(&b, 77, &p);
    rec(&b, 0, &p);
    p.len = 0;
    vbuf_varint(&p, 0), vbuf_varint(&p, 1), vbuf_varint(&p, 12345);   /* stack + extra */
    rec(&b, CAPF_STACK, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "unknown records"), 1);

    /* a frame naming an undefined string */
    RESET();
    vbuf_varint(&p, 2), vbuf_varint(&p, 1), vbuf_svarint(&p, 3), vbuf_svarint(&p, 1), vbuf_varint(&p, 0);
    rec(&b, CAPF_FRAME, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "undefined string"), 0);

    /* a definition earlier in the same block is fine */
    RESET();
    vbuf_put(&p, "g", 1);
    rec(&b, CAPF_STRING, &p);
    p.len = 0;
    vbuf_varint(&p, 2), vbuf_varint(&p, 1), vbuf_svarint(&p, 3), vbuf_svarint(&p, 1), vbuf_varint(&p, 0);
    rec(&b, CAPF_FRAME, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "defined string"), 1);

    /* a stack of frame 0, of an undefined frame, of an undefined parent */
    unsigned stk[][2] = { { 0, 0 }, { 0, 2 }, { 2, 1 } };
    for (int i = 0; i < 3; i++) {
        RESET();
        vbuf_varint(&p, stk[i][0]), vbuf_varint(&p, stk[i][1]);
        rec(&b, CAPF_STACK, &p);
        rec(&b, CAPF_END, &end);
        CHECK_EQ_INT(try_second_block(&b, "bad stack"), 0);
    }

    /* a sample of an undefined stack; unknown sample flags; a short sample */
    RESET();
    vbuf_varint(&p, CAPF_S_WALL), vbuf_svarint(&p, 1), vbuf_varint(&p, 2), vbuf_svarint(&p, 1),
        vbuf_varint(&p, 0);
    rec(&b, CAPF_SAMPLE, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "undefined stack"), 0);
    RESET();
    vbuf_varint(&p, 1 << 12 | CAPF_S_WALL), vbuf_svarint(&p, 1), vbuf_varint(&p, 1),
        vbuf_svarint(&p, 1), vbuf_varint(&p, 0);
    rec(&b, CAPF_SAMPLE, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "sample flags"), 0);
    RESET();
    vbuf_varint(&p, 0x7f | CAPF_S_WALL), vbuf_svarint(&p, 1), vbuf_varint(&p, 1),
        vbuf_svarint(&p, 1), vbuf_varint(&p, 5);
    rec(&b, CAPF_SAMPLE, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "short sample"), 0);
    /* a pid delta out of range */
    RESET();
    vbuf_varint(&p, CAPF_S_PID | CAPF_S_WALL), vbuf_svarint(&p, INT64_MAX), vbuf_svarint(&p, 0),
        vbuf_varint(&p, 1), vbuf_svarint(&p, 1), vbuf_varint(&p, 0);
    rec(&b, CAPF_SAMPLE, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "pid delta"), 0);

    /* wall predicted from the thread's previous sample, user implied */
    RESET();
    vbuf_varint(&p, CAPF_S_WALL), vbuf_svarint(&p, 7), vbuf_varint(&p, 1), vbuf_svarint(&p, 1000),
        vbuf_varint(&p, 0);
    rec(&b, CAPF_SAMPLE, &p);
    p.len = 0;
    vbuf_varint(&p, 3 | 1 << CAPF_S_IMPLIED_SHIFT), vbuf_svarint(&p, 0), vbuf_varint(&p, 1),
        vbuf_svarint(&p, 30), vbuf_varint(&p, 4);
    rec(&b, CAPF_SAMPLE, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "predicted wall"), 1);
    /* ... but not in a new block, nor for another thread */
    b.len = 0;
    rec(&b, CAPF_SAMPLE, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "no prediction"), 0);
    /* an implied component that is not present, or would be negative */
    unsigned fl[] = { 2 | 1 << CAPF_S_IMPLIED_SHIFT, 3 | 7 << CAPF_S_IMPLIED_SHIFT,
                      3 | 1 << CAPF_S_IMPLIED_SHIFT };
    for (int i = 0; i < 3; i++) {
        RESET();
        vbuf_varint(&p, fl[i] | CAPF_S_WALL), vbuf_svarint(&p, 7), vbuf_varint(&p, 1),
            vbuf_svarint(&p, 1000), vbuf_varint(&p, 10), vbuf_varint(&p, 11),
            vbuf_varint(&p, 1), vbuf_varint(&p, 1);
        rec(&b, CAPF_SAMPLE, &p);
        rec(&b, CAPF_END, &end);
        CHECK_EQ_INT(try_second_block(&b, "bad implied"), 0);
    }
    RESET();
    vbuf_varint(&p, 0), vbuf_svarint(&p, 0), vbuf_varint(&p, 0), vbuf_svarint(&p, 0);
    rec(&b, CAPF_SAMPLE, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "first sample without wall"), 0);

    /* a record running past its block */
    RESET();
    vbuf_varint(&b, CAPF_STRING), vbuf_varint(&b, 1000), vbuf_put(&b, "abc", 3);
    CHECK_EQ_INT(try_second_block(&b, "long record"), 0);
    /* an over-long varint */
    RESET();
    vbuf_put(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10);
    CHECK_EQ_INT(try_second_block(&b, "long varint"), 0);

    /* lengths that would make a reader allocate a lot */
    RESET();
    vbuf_svarint(&p, 1), vbuf_svarint(&p, 0), vbuf_varint(&p, 0), vbuf_varint(&p, 0),
        vbuf_varint(&p, 0), vbuf_varint(&p, 1ULL << 40);
    rec(&b, CAPF_PROCESS, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "huge argc"), 0);
    RESET();
    vbuf_svarint(&p, 1), vbuf_svarint(&p, 2), vbuf_varint(&p, UINT64_MAX);
    rec(&b, CAPF_THREAD, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "huge name"), 0);
    RESET();
    vbuf_svarint(&p, 1), vbuf_svarint(&p, 2), vbuf_varint(&p, 1000), vbuf_put(&p, "ab", 2);
    rec(&b, CAPF_THREAD, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "long name"), 0);
    /* a frame line out of int32 range */
    RESET();
    vbuf_varint(&p, 1), vbuf_varint(&p, 1), vbuf_svarint(&p, (int64_t)INT32_MAX + 1),
        vbuf_svarint(&p, 1), vbuf_varint(&p, 0);
    rec(&b, CAPF_FRAME, &p);
    rec(&b, CAPF_END, &end);
    CHECK_EQ_INT(try_second_block(&b, "frame line"), 0);
#undef RESET
    free(b.p);
    free(p.p);
    free(end.p);
}

/* ---- what a sample costs ---- */

/* 100k samples: 3 threads of one process sampled together every ~10 ms
 * (jittered, like the sampler), over 20 stacks, with nanosecond times as
 * timesplit produces them: a CPU-bound thread, a sleeper, and a worker
 * alternating between CPU, I/O and waiting for the GIL. */
static double bytes_per_sample(int flush_every, const char *name)
{
    const char *path = tmp_path(name);
    struct capture_writer *w = capw_open(path, 10000000);
    uint64_t r = 42, t = 0;
    uint32_t stacks[20];
    int cur[3] = { 0, 5, 10 };
    const int nsamples = 100000;

    for (int i = 0; i < 20; i++) {
        char fn[32], file[64];
        uint32_t s = 0;
        int depth = 5 + i % 11;
        for (int d = 0; d < depth; d++) {
            snprintf(fn, sizeof fn, "function_%d", d < 4 ? d : d * 20 + i);
            snprintf(file, sizeof file, "/usr/lib/python3.11/site-packages/mod%d.py", d % 7);
            s = capw_stack(w, s, capw_frame(w, fn, file, 10 + d * 3 + (d > 3 ? i : 0), 1 + d,
                                            CAP_FRAME_PYTHON));
        }
        stacks[i] = s;
    }
    capw_thread(w, 4000, 4000, "MainThread");
    capw_thread(w, 4000, 4003, "sleeper");
    capw_thread(w, 4000, 4004, "worker");
    for (int n = 0; n < nsamples;) {
        uint64_t wall = 10000000 + rng_next(&r) % 1000000 - 500000 + rng_next(&r) % 20000;
        t += wall;
        for (int th = 0; th < 3 && n < nsamples; th++, n++) {
            struct cap_sample s = { 4000, th == 0 ? 4000 : 4002 + th, 0, t, wall, 0, 0, { 0 } };
            if (rng_next(&r) % 10 < 2)          /* moves on to another stack now and then */
                cur[th] = (int)(rng_next(&r) % 20);
            s.stack = stacks[cur[th]];
            if (th == 0) {                      /* on CPU, a little system time and run queue */
                uint64_t runq = rng_next(&r) % 4 ? 0 : rng_next(&r) % 200000;
                uint64_t cpu = wall - runq;
                s.sys_ns = rng_next(&r) % 3 ? 0 : cpu / 20 + rng_next(&r) % 100000;
                s.user_ns = cpu - s.sys_ns;
                s.wait_ns[CAP_WAIT_OTHER] = runq;
            } else if (th == 1) {               /* asleep, waking briefly */
                uint64_t cpu = rng_next(&r) % 8 ? 0 : 20000 + rng_next(&r) % 30000;
                s.user_ns = cpu;
                s.wait_ns[CAP_WAIT_SLEEP] = wall - cpu;
            } else {                            /* worker: CPU, I/O or the GIL */
                uint64_t cpu = rng_next(&r) % wall;
                s.user_ns = cpu;
                s.wait_ns[rng_next(&r) % 2 ? CAP_WAIT_IO : CAP_WAIT_GIL] = wall - cpu;
            }
            capw_sample(w, &s);
            if (flush_every && n % flush_every == flush_every - 1)
                capw_flush(w);
        }
    }
    capw_close(w, t);

    struct capture c;
    char err[256];
    struct stat st;
    stat(path, &st);
    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    CHECK_EQ_INT(c.nsamples, nsamples);
    capture_free(&c);
    return (double)st.st_size / nsamples;
}

static void test_size(void)
{
    /* 3 threads at 100 Hz with a flush every 200 ms: 60 samples a block */
    double flushed = bytes_per_sample(60, "size-flushed.cap");
    double whole = bytes_per_sample(0, "size-whole.cap");
    printf("# bytes per sample: %.2f (flushed every 60 samples), %.2f (256 KiB blocks)\n",
           flushed, whole);
    CHECK(flushed < 8);
    CHECK(whole < 8);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_roundtrip();
    test_big();
    test_limits();
    test_cuts();
    test_foreign();
    test_crafted();
    test_mapping_figures();
    test_calls();
    test_native_frames();
    test_size();

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", tmpdir);
    return CHECK_DONE();
}
