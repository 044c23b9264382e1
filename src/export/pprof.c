/*
 * pprof.c -- pprof's profile.proto (perftools.profiles.Profile),
 * gzipped, as `go tool pprof` and the pprof web UIs read it.  The subset
 * written is src/export/pprof/profile.proto.
 *
 * One Sample per distinct (process, thread, stack), with one value per
 * sample type (the table below) and labels naming the thread; one
 * Location per frame of the capture (its line), one Function per
 * function.  Location ids are the capture's frame ids.
 *
 * The message is encoded by hand, not with a protobuf library: it takes
 * five message types and two wire types (varints and length-delimited
 * bytes), which is less code than generated bindings and their build
 * step, and adds no dependency but zlib for the gzip framing pprof
 * expects.  Nested messages are built in a scratch buffer first, as
 * their length prefix must be known before them.
 */
#include "export/export.h"
#include "model/tasks.h"
#include "util/array.h"
#include "util/hash.h"
#include "util/kmap.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Sample.value[i] is metrics[i]: a new one (memory, say) is one line.
 * By pprof's convention the count comes first. */
static const struct {
    const char *type, *unit;
    int metric;
} metrics[] = {
    { "samples", "count", EXPORT_SAMPLES },
    { "wall", "nanoseconds", PROF_WALL },
    { "cpu", "nanoseconds", PROF_CPU },
    { "user", "nanoseconds", PROF_USER },
    { "sys", "nanoseconds", PROF_SYS },
    { "wait", "nanoseconds", PROF_WAIT },
};

#define NMETRICS (sizeof metrics / sizeof metrics[0])

/* Field numbers of profile.proto. */
enum {
    PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3, PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9,
    PROFILE_DURATION_NANOS = 10, PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12,
    PROFILE_COMMENT = 13, PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2,
    SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
    LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3,
    MAPPING_ID = 1, MAPPING_MEMORY_LIMIT = 3, MAPPING_FILENAME = 5,
    MAPPING_BUILD_ID = 6, MAPPING_HAS_FUNCTIONS = 7,
    LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4,
    LINE_FUNCTION_ID = 1, LINE_LINE = 2,
    FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3,
    FUNCTION_FILENAME = 4, FUNCTION_START_LINE = 5,
};

enum { WIRE_VARINT = 0, WIRE_BYTES = 2 };

/* ---- a growing byte buffer with protobuf's encodings ---- */

struct pb {
    uint8_t *p;
    size_t n, cap;
    int oom;                    /* once set, everything is a no-op */
};

static void pb_raw(struct pb *b, const void *data, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->n + len)
            ncap *= 2;
        uint8_t *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void pb_varint(struct pb *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(b, tmp, n);
}

/* int64 and uint64 fields alike: negative int64s are 10-byte varints */
static void pb_uint(struct pb *b, int field, uint64_t v)
{
    if (!v)
        return;                 /* proto3: a default is not written */
    pb_varint(b, (uint64_t)field << 3 | WIRE_VARINT);
    pb_varint(b, v);
}

static void pb_bytes(struct pb *b, int field, const void *data, size_t len)
{
    pb_varint(b, (uint64_t)field << 3 | WIRE_BYTES);
    pb_varint(b, len);
    pb_raw(b, data, len);
}

/* Append the message built in sub as field of b; sub is emptied. */
static void pb_message(struct pb *b, int field, struct pb *sub)
{
    if (sub->oom)
        b->oom = 1;
    pb_bytes(b, field, sub->p, sub->n);
    sub->n = 0;
}

/* ---- the string table: "" first, each text once ---- */

struct strtab {
    struct pb *out;             /* where the entries go (field 6) */
    struct kmap index;
    const char **texts;
    size_t n, cap;
    int oom;
};

static int64_t str_id(struct strtab *t, const char *s)
{
    if (!s)
        s = "";
    int isnew;
    uint32_t *slot = kmap_put(&t->index, util_hash_str(s), strlen(s), (uint32_t)t->n, &isnew);
    if (!slot) {
        t->oom = 1;
        return 0;
    }
    if (!isnew && !strcmp(t->texts[*slot], s))
        return *slot;
    /* new (or a hash collision: a second entry of the same text is valid) */
    if (ARRAY_RESERVE(t->texts, t->n, t->cap) < 0) {
        t->oom = 1;
        return 0;
    }
    t->texts[t->n] = s;
    pb_bytes(t->out, PROFILE_STRING_TABLE, s, strlen(s));
    return (int64_t)t->n++;
}

/* ---- the profile ---- */

static void put_value_type(struct pb *b, struct pb *tmp, struct strtab *st, int field,
                           const char *type, const char *unit)
{
    pb_uint(tmp, VALUE_TYPE_TYPE, (uint64_t)str_id(st, type));
    pb_uint(tmp, VALUE_TYPE_UNIT, (uint64_t)str_id(st, unit));
    pb_message(b, field, tmp);
}

static void put_label(struct pb *b, struct pb *tmp, struct strtab *st, const char *key,
                      const char *str, int64_t num)
{
    pb_uint(tmp, LABEL_KEY, (uint64_t)str_id(st, key));
    if (str)
        pb_uint(tmp, LABEL_STR, (uint64_t)str_id(st, str));
    else
        pb_uint(tmp, LABEL_NUM, (uint64_t)num);
    pb_message(b, SAMPLE_LABEL, tmp);
}

/* The location of the empty stack: the id after the capture's frames. */
static uint32_t none_location(const struct capture *c)
{
    return c->nframes ? (uint32_t)c->nframes : 1;
}

/* --merge-tasks: the location of a merged `<task COROUTINE>` root, after
 * the empty stack's (a task frame's own location is its task's name). */
static uint32_t root_location(const struct profile *p, uint32_t frame, uint32_t callee)
{
    uint32_t f = prof_root_site(p, frame, callee, 0);
    if (f == p->func_of[frame])
        return frame;
    return none_location(p->cap) + 1 + (f - p->task_func0);
}

/* One Sample per row with samples (the model lists them first). */
static void put_samples(struct pb *b, struct pb *tmp, struct pb *packed, struct strtab *st,
                        const struct profile *p)
{
    const struct capture *c = p->cap;
    struct pb sample = {0};
    for (size_t i = 0; i < p->nrows && p->rows[i].m.samples && !st->oom; i++) {
        const struct prof_row *r = &p->rows[i];
        /* locations leaf first, as pprof wants them */
        size_t depth = 0;
        uint32_t callee = 0;
        for (uint32_t s = r->stack; s && s < c->nstacks && depth < c->nstacks;
             s = c->stacks[s].parent) {
            uint32_t fr = c->stacks[s].frame;
            if (fr && fr < c->nframes) {
                pb_varint(packed, c->stacks[s].parent ? fr : root_location(p, fr, callee));
                callee = fr;
                depth++;
            }
        }
        if (!depth)
            pb_varint(packed, none_location(c));
        pb_message(&sample, SAMPLE_LOCATION_ID, packed);
        for (size_t m = 0; m < NMETRICS; m++)
            pb_varint(packed, prof_value(&r->m, metrics[m].metric));
        pb_message(&sample, SAMPLE_VALUE, packed);
        put_label(&sample, tmp, st, "pid", NULL, r->pid);
        put_label(&sample, tmp, st, "tid", NULL, r->tid);
        if (p->threads[r->thread].name)
            put_label(&sample, tmp, st, "thread_name", p->threads[r->thread].name, 0);
        pb_message(b, PROFILE_SAMPLE, &sample);
    }
    if (sample.oom)
        b->oom = 1;
    free(sample.p);
}

/* One Mapping per module of the capture's native frames (id: the module's
 * id): its path and build-id, so pprof can find the binary again.  Their
 * locations' addresses are addresses inside the module's ELF file (what
 * addr2line takes), so a mapping starts at 0 and file offset 0; it ends
 * past the highest address seen in it. */
static int put_mappings(struct pb *b, struct pb *tmp, struct strtab *st,
                        const struct capture *c)
{
    uint64_t *limit = calloc(c->nmodules ? c->nmodules : 1, sizeof *limit);
    if (!limit)
        return -1;
    for (size_t id = 1; id < c->nframes; id++) {
        const struct cap_frame *f = &c->frames[id];
        if (f->module && f->module < c->nmodules && f->addr >= limit[f->module])
            limit[f->module] = f->addr + 1;
    }
    for (size_t m = 1; m < c->nmodules; m++) {
        pb_uint(tmp, MAPPING_ID, m);
        pb_uint(tmp, MAPPING_MEMORY_LIMIT, limit[m]);
        pb_uint(tmp, MAPPING_FILENAME, (uint64_t)str_id(st, capture_string(c, c->modules[m].path)));
        pb_uint(tmp, MAPPING_BUILD_ID,
                (uint64_t)str_id(st, capture_string(c, c->modules[m].build_id)));
        pb_uint(tmp, MAPPING_HAS_FUNCTIONS, 1);
        pb_message(b, PROFILE_MAPPING, tmp);
    }
    free(limit);
    return 0;
}

static void put_locations(struct pb *b, struct pb *tmp, struct pb *line,
                          const struct profile *p)
{
    const struct capture *c = p->cap;
    for (uint32_t id = 1; id <= none_location(c); id++) {
        int none = id == none_location(c);
        pb_uint(tmp, LOCATION_ID, id);
        if (!none && c->frames[id].module) {
            pb_uint(tmp, LOCATION_MAPPING_ID, c->frames[id].module);
            pb_uint(tmp, LOCATION_ADDRESS, c->frames[id].addr);
        }
        pb_uint(line, LINE_FUNCTION_ID, (none ? p->none_func : p->func_of[id]) + 1u);
        if (!none)
            pb_uint(line, LINE_LINE, (uint64_t)(int64_t)c->frames[id].line);
        pb_message(tmp, LOCATION_LINE, line);
        pb_message(b, PROFILE_LOCATION, tmp);
    }
    for (uint32_t k = 0; p->task_frame && k < p->task_merged.n; k++) {
        pb_uint(tmp, LOCATION_ID, none_location(c) + 1 + k);
        pb_uint(line, LINE_FUNCTION_ID, p->task_func0 + k + 1u);
        pb_message(tmp, LOCATION_LINE, line);
        pb_message(b, PROFILE_LOCATION, tmp);
    }
}

static void put_functions(struct pb *b, struct pb *tmp, struct strtab *st,
                          const struct profile *p)
{
    for (size_t i = 0; i < p->nfuncs; i++) {
        const struct prof_site *e = &p->funcs[i];
        int64_t name = str_id(st, e->function);
        pb_uint(tmp, FUNCTION_ID, i + 1);
        pb_uint(tmp, FUNCTION_NAME, (uint64_t)name);
        pb_uint(tmp, FUNCTION_SYSTEM_NAME, (uint64_t)name);
        pb_uint(tmp, FUNCTION_FILENAME, (uint64_t)str_id(st, e->file));
        pb_uint(tmp, FUNCTION_START_LINE, (uint64_t)(int64_t)e->first_line);
        pb_message(b, PROFILE_FUNCTION, tmp);
    }
}

/* The whole message into b; 0, or -1 when out of memory. */
static int encode(struct pb *b, const struct capture *c, const struct export_opts *o)
{
    struct profile p;
    struct pb tmp = {0}, inner = {0};
    struct strtab st = { .out = b };

    if (profile_build(&p, c, &(struct profile_opts){ .skip = PROF_ROWS_ONLY,
                                                     .merge_tasks = o->merge_tasks }) < 0)
        return -1;
    str_id(&st, "");
    for (size_t m = 0; m < NMETRICS; m++)
        put_value_type(b, &tmp, &st, PROFILE_SAMPLE_TYPE, metrics[m].type, metrics[m].unit);
    put_samples(b, &tmp, &inner, &st, &p);
    if (put_mappings(b, &tmp, &st, c) < 0)
        b->oom = 1;
    put_locations(b, &tmp, &inner, &p);
    put_functions(b, &tmp, &st, &p);
    pb_uint(b, PROFILE_TIME_NANOS, c->start_unix_ns);
    pb_uint(b, PROFILE_DURATION_NANOS, capture_duration(c));
    /* a sample stands for one interval of wall time */
    put_value_type(b, &tmp, &st, PROFILE_PERIOD_TYPE, "wall", "nanoseconds");
    pb_uint(b, PROFILE_PERIOD, c->interval_ns);
    char command[1024];
    for (size_t i = 0; i < c->nprocesses; i++) {
        capture_command(c, c->processes[i].pid, command, sizeof command);
        pb_uint(b, PROFILE_COMMENT, (uint64_t)str_id(&st, command));
    }
    pb_uint(b, PROFILE_DEFAULT_SAMPLE_TYPE, (uint64_t)str_id(&st, "wall"));
    int rc = b->oom || tmp.oom || inner.oom || st.oom ? -1 : 0;
    profile_free(&p);
    free(tmp.p);
    free(inner.p);
    kmap_free(&st.index);
    free(st.texts);
    return rc;
}

/* data, gzipped, to out; 0, or -1 when zlib fails (out of memory). */
static int gzip_to(FILE *out, const uint8_t *data, size_t len)
{
    z_stream z = {0};
    /* 15 + 16: a gzip header and trailer around the deflate stream */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uint8_t chunk[65536];
    int rc;
    do {
        /* avail_in is 32 bits: feed huge buffers in parts */
        if (!z.avail_in && len) {
            size_t part = len > (1u << 30) ? (1u << 30) : len;
            z.next_in = (Bytef *)data;
            z.avail_in = (uInt)part;
            data += part;
            len -= part;
        }
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        rc = deflate(&z, len ? Z_NO_FLUSH : Z_FINISH);
        if (rc == Z_STREAM_ERROR)
            break;
        fwrite(chunk, 1, sizeof chunk - z.avail_out, out);
    } while (rc != Z_STREAM_END);
    deflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

int export_pprof(const struct capture *c, const struct export_opts *o, FILE *out)
{
    struct pb b = {0};
    /* every metric is a sample type already: only --merge-tasks applies */
    int rc = encode(&b, c, o);
    if (rc == 0)
        rc = gzip_to(out, b.p ? b.p : (const uint8_t *)"", b.n);
    free(b.p);
    return rc;
}
