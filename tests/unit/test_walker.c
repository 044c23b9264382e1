/*
 * test_walker.c -- the frame walker over recorded memory images.
 *
 * Each tests/data/walk-<version>.img holds the reads stetho made of
 * tests/programs/walk_target.py under that version (tools/record_images.py);
 * the .txt beside it says, from Python's own sys._current_frames(), what
 * the parked threads' stacks are.  Replaying the image through the walker
 * must give exactly those frames: names, files, lines, order.  Also: a
 * reader that fails everywhere, and images with holes punched in them,
 * must end stacks with markers rather than crash.  The threads' Python
 * names (threadnames.h) are read from the same images.
 */
#include "check.h"
#include "cpython/target.h"
#include "cpython/walker.h"
#include "cpython/threadnames.h"
#include "proc/reader_image.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXPECTED 4096

struct expected_frame {
    char function[256], file[512];
    int line;
};

struct expected_thread {
    unsigned long long ident;
    char name[256];         /* threading's, "" if the file has none */
    size_t first, n;
};

static struct expected_frame frames[MAX_EXPECTED];
static struct expected_thread threads[64];
static size_t nframes, nthreads;

static int load_expected(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    nframes = nthreads = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        unsigned long long ident;
        if (sscanf(line, "thread %llu", &ident) == 1 && nthreads < 64) {
            struct expected_thread *e = &threads[nthreads++];
            *e = (struct expected_thread){ ident, "", nframes, 0 };
            const char *tab = strchr(line, '\t');
            if (tab)
                snprintf(e->name, sizeof e->name, "%s", tab + 1);
            continue;
        }
        char *fn = strtok(line, "\t"), *file = strtok(NULL, "\t"), *ln = strtok(NULL, "\t");
        if (!fn || !file || !ln || !nthreads || nframes == MAX_EXPECTED)
            continue;
        struct expected_frame *e = &frames[nframes++];
        snprintf(e->function, sizeof e->function, "%s", fn);
        snprintf(e->file, sizeof e->file, "%s", file);
        e->line = atoi(ln);
        threads[nthreads - 1].n++;
    }
    fclose(f);
    return 0;
}

static const struct py_thread *find_thread(const struct py_snapshot *s, unsigned long long ident)
{
    for (size_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].thread_id == ident)
            return &s->threads[i];
    return NULL;
}

static void check_image(const char *img_path, const char *txt_path)
{
    struct image_meta m;
    struct image *img = image_load(img_path, &m);
    printf("# %s (Python %d.%d.%d)\n", img_path, m.major, m.minor, m.micro);
    CHECK(img != NULL);
    CHECK(load_expected(txt_path) == 0);
    if (!img)
        return;
    struct py_target t;
    struct py_error err;
    enum py_status st = py_target_init(&t, m.pid, reader_image(img), m.major, m.minor,
                                       m.micro, m.runtime, m.code_type, &err);
    CHECK_EQ_INT(st, PY_OK);
    if (st != PY_OK) {
        printf("# %s\n", err.msg);
        image_free(img);
        return;
    }
    struct py_snapshot s = {0};
    CHECK_EQ_INT(py_walk(&t, &s), 0);
    CHECK(nthreads >= 2);
    CHECK(s.nthreads >= nthreads);
    for (size_t i = 0; i < nthreads; i++) {
        const struct py_thread *th = find_thread(&s, threads[i].ident);
        CHECK(th != NULL);
        if (!th)
            continue;
        CHECK(th->tid > 0);
        CHECK_EQ_INT(th->n, threads[i].n);
        for (size_t k = 0; k < th->n && k < threads[i].n; k++) {
            const struct py_frame *f = &s.frames[th->first + k];
            const struct expected_frame *e = &frames[threads[i].first + k];
            CHECK_EQ_STR(py_frame_name(f), e->function);
            CHECK_EQ_STR(py_frame_file(f), e->file);
            CHECK_EQ_INT(f->line, e->line);
        }
    }

    /* where each interpreter call begins (native/merge.h): the outermost
     * frame of a thread always; 3.9/3.10 every frame (one call each);
     * 3.11+ calls Python from Python without a C call, so some are not */
    size_t inlined = 0;
    for (size_t i = 0; i < s.nthreads; i++) {
        const struct py_thread *th = &s.threads[i];
        if (th->n)
            CHECK(s.frames[th->first + th->n - 1].entry);
        for (size_t k = 0; k < th->n; k++)
            inlined += !s.frames[th->first + k].entry;
    }
    if (t.layout.frame_model == PY_FRAMES_OBJECT)
        CHECK_EQ_INT(inlined, 0);
    else
        CHECK(inlined > 0);

    /* threading's names of the same threads */
    py_threadnames_update(&t, &s, 0);
    size_t named = 0;
    for (size_t i = 0; i < nthreads; i++) {
        if (!threads[i].name[0])
            continue;
        const struct py_thread *th = find_thread(&s, threads[i].ident);
        CHECK_EQ_STR(th ? py_thread_name(&t, th) : NULL, threads[i].name);
        named++;
    }
    CHECK(named == nthreads);

    /* A second walk hits the code cache: same result, one read per frame
     * plus a few per thread. */
    uint64_t before = t.rd.reads;
    size_t total_frames = s.nframes;
    CHECK_EQ_INT(py_walk(&t, &s), 0);
    CHECK_EQ_INT(s.nframes, total_frames);
    uint64_t reads = t.rd.reads - before;
    printf("# steady-state walk: %llu reads for %zu frames in %zu threads\n",
           (unsigned long long)reads, s.nframes, s.nthreads);
    CHECK(reads <= s.nframes + 8 * s.nthreads + 8);

    py_snapshot_free(&s);
    py_target_close(&t);
    image_free(img);
}

static int fail_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
    (void)ctx; (void)addr; (void)dst; (void)len;
    errno = EFAULT;
    return -1;
}

/* A reader over an image that fails every n-th read: torn memory. */
struct flaky { struct reader inner; unsigned n, count; };

static int flaky_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
    struct flaky *f = ctx;
    if (++f->count % f->n == 0) {
        memset(dst, 0xa5, len);
        return f->count % 2 ? -1 : 0;   /* a failure, or garbage that "worked" */
    }
    return reader_read(&f->inner, addr, dst, len);
}

static void check_torn(const char *img_path)
{
    struct image_meta m;
    struct image *img = image_load(img_path, &m);
    if (!img)
        return;
    for (unsigned n = 2; n < 40; n++) {
        struct flaky fl = { reader_image(img), n, 0 };
        struct reader r = { .read = flaky_read, .ctx = &fl };
        struct py_target t;
        struct py_error err;
        if (py_target_init(&t, m.pid, r, m.major, m.minor, m.micro, m.runtime,
                           m.code_type, &err) != PY_OK)
            continue;
        struct py_snapshot s = {0};
        py_walk(&t, &s);                /* must simply return */
        py_threadnames_update(&t, &s, 0);
        py_snapshot_free(&s);
        py_target_close(&t);
    }
    CHECK(1);                           /* reached: no crash, no hang */
    image_free(img);
}

int main(void)
{
    const char *dir = "tests/data";
    DIR *d = opendir(dir);
    int images = 0;
    CHECK(d != NULL);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "walk-", 5) || len < 4 || strcmp(de->d_name + len - 4, ".img"))
            continue;
        char img[600], txt[600];
        snprintf(img, sizeof img, "%s/%s", dir, de->d_name);
        snprintf(txt, sizeof txt, "%s/%.*s.txt", dir, (int)(len - 4), de->d_name);
        check_image(img, txt);
        check_torn(img);
        images++;
    }
    if (d)
        closedir(d);
    printf("# %d images\n", images);
    CHECK(images >= 5);                 /* 3.9-3.13 at least */

    /* Nothing readable at all: a clean failure. */
    struct reader none = { .read = fail_read };
    struct py_target t;
    struct py_error err;
    if (py_target_init(&t, 1, none, 3, 11, 7, 0x1000, 0, &err) == PY_OK) {
        struct py_snapshot s = {0};
        CHECK_EQ_INT(py_walk(&t, &s), -1);
        py_snapshot_free(&s);
        py_target_close(&t);
    }
    CHECK_EQ_INT(py_target_init(&t, 1, none, 3, 8, 0, 0x1000, 0, &err), PY_EVERSION);
    CHECK(strstr(err.msg, "3.8.0") != NULL);
    return CHECK_DONE();
}
