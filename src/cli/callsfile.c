/* callsfile.c -- the agent's call-count table into the capture (callsfile.h). */
#include "cli/callsfile.h"
#include "capture/capture.h"
#include "capture/varint.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CALLS_MAGIC "STCALLS1"
#define CALLS_FILE_MAX (1u << 30)       /* far beyond any real table */

int callsfile_make(char *out, size_t len)
{
    const char *tmp = getenv("TMPDIR");
    if ((size_t)snprintf(out, len, "%s/stetho-calls-XXXXXX",
                         tmp && *tmp && strlen(tmp) < 200 ? tmp : "/tmp") >= len)
        return -1;
    return mkdtemp(out) ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    uint8_t *p = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size < CALLS_FILE_MAX &&
        (p = malloc((size_t)st.st_size)) && fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(p);
        p = NULL;
    }
    *n = p ? (size_t)st.st_size : 0;
    fclose(f);
    return p;
}

/* A string field as a NUL-terminated copy in buf (cut to fit). */
static const char *get_str(struct vcur *r, char *buf, size_t cap)
{
    uint64_t n = vcur_varint(r);
    if (n > vcur_left(r)) {
        r->bad = 1;
        return "";
    }
    size_t k = n < cap - 1 ? (size_t)n : cap - 1;
    memcpy(buf, r->p, k);
    buf[k] = 0;
    for (size_t i = 0; i < k; i++)
        if (!buf[i])
            buf[i] = '?';
    r->p += n;
    return buf;
}

static void put_figures(struct vcur *r, struct cap_call *c)
{
    uint64_t rec;
    c->calls = vcur_varint(r);
    rec = vcur_varint(r);
    c->primitive_calls = rec <= c->calls ? c->calls - rec : 0;
    c->cum_ns = vcur_varint(r);
    c->own_ns = vcur_varint(r);
}

/* One process's file: the number of functions, or -1 with err set. */
static long import_one(const char *path, int32_t pid, struct capture_writer *w, char *err,
                       size_t errlen)
{
    size_t n;
    uint8_t *data = slurp(path, &n);
    unlink(path);
    if (!data) {
        snprintf(err, errlen, "cannot read %s", path);
        return -1;
    }
    long done = -1;
    uint32_t *frame = NULL;
    char name[4096], file[4096];
    struct vcur r = { data + 8, data + n, 0 };
    if (n < 8 || memcmp(data, CALLS_MAGIC, 8) != 0) {
        snprintf(err, errlen, "the call counts are not in a format this stetho reads");
        goto out;
    }
    uint64_t nf = vcur_varint(&r);
    if (r.bad || nf > vcur_left(&r) / 4) {          /* each takes 4 bytes at least */
        snprintf(err, errlen, "the call counts are garbled");
        goto out;
    }
    frame = calloc(nf + 1, sizeof *frame);
    if (!frame) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < nf && !r.bad; i++) {
        uint64_t kind = vcur_varint(&r), line = vcur_varint(&r);
        get_str(&r, name, sizeof name);
        get_str(&r, file, sizeof file);
        int32_t l = line <= INT32_MAX ? (int32_t)line : 0;
        if (!r.bad)
            frame[i] = capw_frame(w, name, file, l, l,
                                  kind == 0 ? CAP_FRAME_PYTHON : CAP_FRAME_NATIVE);
    }
    for (uint64_t i = 0; i < nf && !r.bad; i++) {
        struct cap_call c = { .pid = pid, .callee = frame[i] };
        put_figures(&r, &c);
        if (!r.bad && c.callee)
            capw_call(w, &c);
    }
    uint64_t ne = r.bad ? 0 : vcur_varint(&r);
    for (uint64_t i = 0; i < ne && !r.bad; i++) {
        uint64_t a = vcur_varint(&r), b = vcur_varint(&r);
        struct cap_call c = { .pid = pid };
        put_figures(&r, &c);
        if (r.bad || a >= nf || b >= nf || !frame[a] || !frame[b])
            break;
        c.caller = frame[a];
        c.callee = frame[b];
        capw_call(w, &c);
    }
    if (r.bad)
        snprintf(err, errlen, "the call counts are cut short");
    else
        done = (long)nf;
out:
    free(frame);
    free(data);
    return done;
}

long callsfile_import(const char *dir, struct capture_writer *w, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    long total = -1;
    snprintf(err, errlen, "the program wrote none (it ended by os._exit or a signal within its first second, or is not Python)");
    if (!d)
        return -1;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
            continue;
        if (end == e->d_name || strcmp(end, ".calls") != 0 || pid <= 0 || pid > INT32_MAX) {
            unlink(path);       /* a table being written when its program was killed */
            continue;
        }
        long got = import_one(path, (int32_t)pid, w, err, errlen);
        if (got >= 0)
            total = (total < 0 ? 0 : total) + got;
    }
    closedir(d);
    rmdir(dir);
    return total;
}
