/*
 * writer.c -- writing a capture file while the program runs (capw_*).
 *
 * Records are encoded into one raw block buffer; a block is compressed and
 * written when the buffer passes CAPF_BLOCK_TARGET, on capw_flush and on
 * capw_close.  All blocks are pieces of one zstd stream, each ended with a
 * zstd flush, so a small block (the sampler flushes every 200 ms) still
 * compresses against the data before it, yet decodes as soon as it is
 * written.  Interned definitions are emitted the moment they are first
 * seen, which is always before the record that uses them.
 *
 * One lock around each public call: the sampler thread and the memory
 * thread write into the same stream (and the same intern tables).  A block
 * is compressed under it too: that holds the other thread for a few
 * milliseconds at most, once per 256 KiB of records or per flush.
 */
#include "capture/capture.h"
#include "capture/format.h"
#include "capture/intern.h"
#include "capture/varint.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define ZSTD_LEVEL 3
/* Level 3: exact memory mode writes ~40 MB of records a run on deepstack
 * (a MEM_ALLOCS per allocating stack per tick), and level 6 compressing them
 * was 18-24 % of stetho's CPU there; level 3 cut that by 30 % (replayed
 * stream, perf), and its captures came out within a few percent of level
 * 6's (smaller in exact mode: 2.38 vs 2.56 MB deepstack, 0.66 vs 0.75 MB
 * json_dumps, 0.61 vs 0.57 MB alloc_objects; 2-17 KB time-only captures
 * either way).
 * A level's own match tables (level 6: 2^19 hash + 2^18 chain entries,
 * 3 MiB) are zeroed when the stream starts: ~1 ms of page faults and
 * memset per run, a sixth of what a 100 Hz run of a second or two costs
 * stetho in all.  2^16 each (512 KiB) made a 260 KiB exact-memory capture
 * 0.2 % bigger (level 6). */
#define ZSTD_HASH_LOG 16
#define ZSTD_CHAIN_LOG 16

struct capture_writer {
    pthread_mutex_t lock;
    int fd;
    int failed;                 /* an I/O or memory error: only fail from now */
    int err;                    /* errno of that error, for capw_close */
    uint64_t bytes;             /* written so far */
    ZSTD_CCtx *zc;
    struct intern in;
    struct vbuf raw;            /* the current block's records */
    struct vbuf rec;            /* the payload of the record being built */
    struct vbuf out;            /* block header + compressed bytes */
    /* What the next SAMPLE is delta-encoded against; reset per block. */
    int32_t prev_pid, prev_tid;
    uint64_t prev_t;
    struct capf_last last[CAPF_THREAD_SLOTS];
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Marks the writer failed, remembering why. */
static int fail(struct capture_writer *w, int err)
{
    if (!w->failed) {
        w->failed = 1;
        w->err = err;
    }
    return -1;
}

/* Frees an empty buffer that grew well past the usual block size. */
static void shrink(struct vbuf *b)
{
    if (b->len == 0 && b->cap > 4 * CAPF_BLOCK_TARGET) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
}

/* Compresses the raw buffer as the next block and writes it.  Mode
 * ZSTD_e_end also ends the zstd frame (only for the last block). */
static int flush_block(struct capture_writer *w, ZSTD_EndDirective mode)
{
    if (w->failed)
        return -1;
    if (w->raw.oom || w->rec.oom)
        return fail(w, ENOMEM);
    if (w->raw.len == 0 && mode != ZSTD_e_end)
        return 0;

    ZSTD_inBuffer in = { w->raw.p, w->raw.len, 0 };
    w->out.len = 0;
    if (vbuf_reserve(&w->out, CAPF_BLOCK_HEADER_LEN) < 0)
        return fail(w, ENOMEM);
    w->out.len = CAPF_BLOCK_HEADER_LEN;     /* filled in below */
    for (;;) {
        if (vbuf_reserve(&w->out, ZSTD_CStreamOutSize()) < 0)
            return fail(w, ENOMEM);
        ZSTD_outBuffer o = { w->out.p + w->out.len, w->out.cap - w->out.len, 0 };
        size_t r = ZSTD_compressStream2(w->zc, &o, &in, mode);
        if (ZSTD_isError(r))
            return fail(w, ENOMEM);     /* zstd fails only for memory */
        w->out.len += o.pos;
        if (r == 0 && in.pos == in.size)
            break;
    }

    uint8_t *h = w->out.p;
    size_t clen = w->out.len - CAPF_BLOCK_HEADER_LEN;
    capf_put32(h, CAPF_BLOCK_MAGIC);
    capf_put32(h + 4, (uint32_t)w->raw.len);
    capf_put32(h + 8, (uint32_t)clen);
    capf_put32(h + 12, capf_crc32(h + CAPF_BLOCK_HEADER_LEN, clen));
    if (write_all(w->fd, w->out.p, w->out.len) < 0)
        return fail(w, errno);
    w->bytes += w->out.len;

    w->raw.len = 0;
    w->prev_pid = w->prev_tid = 0;
    w->prev_t = 0;
    memset(w->last, 0, sizeof w->last);
    w->out.len = 0;
    /* A huge record (a long argv) may have grown the buffers: give the
     * memory back so the steady state stays small. */
    shrink(&w->raw);
    shrink(&w->rec);
    shrink(&w->out);
    return 0;
}

/* Appends the record built in w->rec to the block, flushing a full block. */
static int emit(struct capture_writer *w, enum capf_record type)
{
    if (w->failed)
        return -1;
    vbuf_varint(&w->raw, type);
    vbuf_varint(&w->raw, w->rec.len);
    vbuf_put(&w->raw, w->rec.p, w->rec.len);
    w->rec.len = 0;
    if (w->raw.oom || w->rec.oom)
        return fail(w, ENOMEM);
    if (w->raw.len >= CAPF_BLOCK_TARGET)
        return flush_block(w, ZSTD_e_flush);
    return 0;
}

/* How much of s to keep: at most CAPF_STRING_MAX bytes, not splitting a
 * UTF-8 sequence. */
static size_t string_len(const char *s)
{
    size_t n = strlen(s);

    if (n <= CAPF_STRING_MAX)
        return n;
    n = CAPF_STRING_MAX;
    while (n > 0 && ((uint8_t)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

/* A string field inside a record: varint 0 for NULL, else length + 1 and
 * the bytes. */
static void put_str(struct vbuf *b, const char *s)
{
    if (!s) {
        vbuf_varint(b, 0);
        return;
    }
    size_t n = string_len(s);
    vbuf_varint(b, (uint64_t)n + 1);
    vbuf_put(b, s, n);
}

static size_t str_cost(const char *s)
{
    return s ? string_len(s) + 10 : 1;
}

struct capture_writer *capw_open(const char *path, uint64_t interval_ns)
{
    struct capture_writer *w = calloc(1, sizeof *w);
    uint8_t header[CAPF_HEADER_LEN];
    struct timespec now;
    int saved;

    if (!w)
        return NULL;
    intern_init(&w->in);
    /* recursive: a call within capw_hold() takes it again, owned already:
     * no atomic operation then */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&w->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        free(w);
        return NULL;
    }
    w->zc = ZSTD_createCCtx();
    if (!w->zc ||
        ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_windowLog, CAPF_WINDOW_LOG)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_hashLog, ZSTD_HASH_LOG)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_chainLog, ZSTD_CHAIN_LOG))) {
        errno = ENOMEM;
        goto fail;
    }

    memcpy(header, CAPF_MAGIC, CAPF_MAGIC_LEN);
    capf_put32(header + 8, CAPF_VERSION);
    capf_put32(header + 12, 0);
    if (write_all(w->fd, header, sizeof header) < 0)
        goto fail;
    w->bytes = sizeof header;

    clock_gettime(CLOCK_REALTIME, &now);
    vbuf_varint(&w->rec, interval_ns);
    vbuf_varint(&w->rec, (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec);
    if (emit(w, CAPF_META) < 0) {
        errno = ENOMEM;
        goto fail;
    }
    return w;

fail:
    saved = errno;
    close(w->fd);
    pthread_mutex_destroy(&w->lock);
    ZSTD_freeCCtx(w->zc);
    free(w->rec.p);
    free(w->raw.p);
    free(w);
    errno = saved;
    return NULL;
}

static uint32_t string_id(struct capture_writer *w, const char *s)
{
    int fresh;
    uint32_t id;

    if (!s)
        return 0;
    size_t n = string_len(s);
    id = intern_string(&w->in, s, n, &fresh);
    if (!id) {
        fail(w, ENOMEM);
        return 0;
    }
    if (fresh) {
        vbuf_put(&w->rec, s, n);
        if (emit(w, CAPF_STRING) < 0)
            return 0;
    }
    return id;
}

static uint32_t u_string(struct capture_writer *w, const char *s)
{
    if (!w || w->failed)
        return 0;
    return string_id(w, s);
}

/* The frame k (its strings already ids): its id, written when new.  The
 * module and address are appended only to frames that have them (format
 * 1.2), so other frames read as before in older readers. */
static uint32_t put_frame(struct capture_writer *w, struct ikey_frame *k)
{
    int fresh;
    uint32_t id;

    if (w->failed)
        return 0;
    id = intern_frame(&w->in, k, &fresh);
    if (!id) {
        fail(w, ENOMEM);
        return 0;
    }
    if (fresh) {
        vbuf_varint(&w->rec, k->function);
        vbuf_varint(&w->rec, k->file);
        vbuf_svarint(&w->rec, k->line);
        vbuf_svarint(&w->rec, k->first_line);
        vbuf_varint(&w->rec, k->kind);
        if (k->module || k->addr) {
            vbuf_varint(&w->rec, k->module);
            vbuf_varint(&w->rec, k->addr);
        }
        if (emit(w, CAPF_FRAME) < 0)
            return 0;
    }
    return id;
}

static uint32_t u_frame(struct capture_writer *w, const char *function, const char *file,
                        int32_t line, int32_t first_line, enum cap_frame_kind kind)
{
    if (!w || w->failed)
        return 0;
    struct ikey_frame k = { .line = line, .first_line = first_line, .kind = (uint8_t)kind };
    k.function = string_id(w, function);    /* in this order: ids are dense */
    k.file = string_id(w, file);
    return put_frame(w, &k);
}

static uint32_t u_native_frame(struct capture_writer *w, const char *function,
                               const char *file, int32_t line, int32_t first_line,
                               uint32_t module, uint64_t addr)
{
    if (!w || w->failed)
        return 0;
    if (module > w->in.modules.n) {
        errno = EINVAL;
        return 0;
    }
    struct ikey_frame k = { .line = line, .first_line = first_line, .kind = CAP_FRAME_NATIVE,
                            .module = module, .addr = addr };
    k.function = string_id(w, function);
    k.file = string_id(w, file);
    return put_frame(w, &k);
}

static uint32_t u_module(struct capture_writer *w, const char *path, const char *build_id)
{
    int fresh;

    if (!w || w->failed)
        return 0;
    uint32_t p = string_id(w, path);
    uint32_t b = build_id && *build_id ? string_id(w, build_id) : 0;
    if (w->failed)
        return 0;
    uint32_t id = intern_pair(&w->in.modules, p, b, &fresh);
    if (!id) {
        fail(w, ENOMEM);
        return 0;
    }
    if (fresh) {
        vbuf_varint(&w->rec, p);
        vbuf_varint(&w->rec, b);
        if (emit(w, CAPF_MODULE) < 0)
            return 0;
    }
    return id;
}

static uint32_t u_stack(struct capture_writer *w, uint32_t parent, uint32_t frame)
{
    int fresh;
    uint32_t id;

    if (!w || w->failed)
        return 0;
    /* An id never handed out would make readers drop the whole block. */
    if (parent > w->in.stacks.n || frame == 0 || frame > w->in.nframes) {
        errno = EINVAL;
        return 0;
    }
    id = intern_pair(&w->in.stacks, parent, frame, &fresh);
    if (!id) {
        fail(w, ENOMEM);
        return 0;
    }
    if (fresh) {
        vbuf_varint(&w->rec, parent);
        vbuf_varint(&w->rec, frame);
        if (emit(w, CAPF_STACK) < 0)
            return 0;
    }
    return id;
}

static int u_process_exit(struct capture_writer *w, int32_t pid, int32_t exit_code,
                          uint64_t end_ns)
{
    if (!w || w->failed)
        return -1;
    vbuf_svarint(&w->rec, pid);
    vbuf_svarint(&w->rec, exit_code);
    vbuf_varint(&w->rec, end_ns);
    return emit(w, CAPF_PROCESS_EXIT);
}

static int u_process(struct capture_writer *w, const struct cap_process *p)
{
    size_t used;
    int argc = 0;

    if (!w || w->failed)
        return -1;
    vbuf_svarint(&w->rec, p->pid);
    vbuf_svarint(&w->rec, p->ppid);
    vbuf_varint(&w->rec, p->start_ns);
    put_str(&w->rec, p->python_version);
    put_str(&w->rec, p->python_executable);
    /* Keep the record within CAPF_RECORD_MAX: drop trailing arguments. */
    used = w->rec.len + 10;
    while (argc < p->argc && used + str_cost(p->argv[argc]) <= CAPF_RECORD_MAX)
        used += str_cost(p->argv[argc++]);
    vbuf_varint(&w->rec, (uint64_t)argc);
    for (int i = 0; i < argc; i++)
        put_str(&w->rec, p->argv[i]);
    if (emit(w, CAPF_PROCESS) < 0)
        return -1;
    if (p->has_exit)
        return u_process_exit(w, p->pid, p->exit_code, p->end_ns);
    return 0;
}

static int u_thread(struct capture_writer *w, int32_t pid, int32_t tid, const char *name)
{
    if (!w || w->failed)
        return -1;
    vbuf_svarint(&w->rec, pid);
    vbuf_svarint(&w->rec, tid);
    put_str(&w->rec, name);
    return emit(w, CAPF_THREAD);
}

static int u_sample(struct capture_writer *w, const struct cap_sample *s)
{
    uint64_t comp[CAPF_COMPONENTS] = { s->user_ns, s->sys_ns };
    uint64_t sum = 0, predicted;
    unsigned flags = 0;
    int overflow = 0, implied = -1;

    if (!w || w->failed)
        return -1;
    if (s->stack > w->in.stacks.n) {
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; i < CAP_WAIT_KINDS; i++)
        comp[2 + i] = s->wait_ns[i];
    for (int i = 0; i < CAPF_COMPONENTS; i++) {
        if (comp[i])
            flags |= 1u << i;
        if (comp[i] && (implied < 0 || comp[i] > comp[implied]))
            implied = i;
        overflow |= sum + comp[i] < sum;
        sum += comp[i];
    }
    /* The sampler keeps wall = user + sys + waits, so one component is
     * free; and wall itself is usually the time since the thread's last
     * sample, so it is free too. */
    if (implied >= 0 && !overflow && sum == s->wall_ns)
        flags |= (unsigned)(implied + 1) << CAPF_S_IMPLIED_SHIFT;
    else
        implied = -1;
    if (!capf_predict(w->last, s->pid, s->tid, s->t_ns, &predicted) || predicted != s->wall_ns)
        flags |= CAPF_S_WALL;
    if (s->pid != w->prev_pid)
        flags |= CAPF_S_PID;

    vbuf_varint(&w->rec, flags);
    if (flags & CAPF_S_PID)
        vbuf_svarint(&w->rec, (int64_t)s->pid - w->prev_pid);
    vbuf_svarint(&w->rec, (int64_t)s->tid - w->prev_tid);
    vbuf_varint(&w->rec, s->stack);
    vbuf_svarint(&w->rec, (int64_t)(s->t_ns - w->prev_t));
    if (flags & CAPF_S_WALL)
        vbuf_varint(&w->rec, s->wall_ns);
    for (int i = 0; i < CAPF_COMPONENTS; i++)
        if (comp[i] && i != implied)
            vbuf_varint(&w->rec, comp[i]);
    w->prev_pid = s->pid;
    w->prev_tid = s->tid;
    w->prev_t = s->t_ns;
    capf_remember(w->last, s->pid, s->tid, s->t_ns);
    return emit(w, CAPF_SAMPLE);
}

static int u_timeline(struct capture_writer *w, const struct cap_timeline_point *p)
{
    if (!w || w->failed)
        return -1;
    vbuf_varint(&w->rec, p->t_ns);
    vbuf_varint(&w->rec, p->rss_bytes);
    vbuf_varint(&w->rec, p->heap_bytes);
    vbuf_varint(&w->rec, p->mapped_bytes);
    vbuf_varint(&w->rec, p->mapped_resident_bytes);
    return emit(w, CAPF_TIMELINE);
}

static int put_mem_key(struct capture_writer *w, const struct cap_mem_stack *m)
{
    if (m->stack > w->in.stacks.n) {
        errno = EINVAL;
        return -1;
    }
    vbuf_svarint(&w->rec, m->pid);
    vbuf_svarint(&w->rec, m->tid);
    vbuf_varint(&w->rec, m->stack);
    return 0;
}

static int u_mem_allocs(struct capture_writer *w, uint64_t t_ns, const struct cap_mem_stack *m)
{
    if (!w || w->failed)
        return -1;
    vbuf_varint(&w->rec, t_ns);
    if (put_mem_key(w, m) < 0) {
        w->rec.len = 0;
        return -1;
    }
    vbuf_varint(&w->rec, m->alloc_bytes);
    vbuf_varint(&w->rec, m->alloc_count);
    return emit(w, CAPF_MEM_ALLOCS);
}

static int u_mem_live(struct capture_writer *w, uint64_t t_ns, const struct cap_mem_stack *m)
{
    if (!w || w->failed)
        return -1;
    vbuf_varint(&w->rec, t_ns);
    if (put_mem_key(w, m) < 0) {
        w->rec.len = 0;
        return -1;
    }
    vbuf_varint(&w->rec, m->live_bytes);
    return emit(w, CAPF_MEM_LIVE);
}

static int u_mem_peak(struct capture_writer *w, const struct cap_timeline_point *p)
{
    if (!w || w->failed)
        return -1;
    vbuf_varint(&w->rec, p->t_ns);
    vbuf_varint(&w->rec, p->heap_bytes);
    vbuf_varint(&w->rec, p->mapped_bytes);
    vbuf_varint(&w->rec, p->mapped_resident_bytes);
    return emit(w, CAPF_MEM_PEAK);
}

static int u_mem_peak_stack(struct capture_writer *w, const struct cap_mem_stack *m)
{
    if (!w || w->failed || put_mem_key(w, m) < 0)
        return -1;
    vbuf_varint(&w->rec, m->peak_bytes);
    vbuf_varint(&w->rec, m->peak_mapped_bytes);
    return emit(w, CAPF_MEM_PEAK_STACK);
}

static int u_mem_stack(struct capture_writer *w, const struct cap_mem_stack *m)
{
    if (!w || w->failed || put_mem_key(w, m) < 0)
        return -1;
    vbuf_varint(&w->rec, m->alloc_bytes);
    vbuf_varint(&w->rec, m->alloc_count);
    vbuf_varint(&w->rec, m->peak_bytes);
    vbuf_varint(&w->rec, m->leaked_bytes);
    vbuf_varint(&w->rec, m->temporary_count);
    vbuf_varint(&w->rec, m->peak_mapped_bytes);
    vbuf_varint(&w->rec, m->leaked_mapped_bytes);
    return emit(w, CAPF_MEM_STACK);
}

static int u_gc(struct capture_writer *w, const struct cap_gc_point *g)
{
    if (!w || w->failed)
        return -1;
    vbuf_varint(&w->rec, g->t_ns);
    vbuf_svarint(&w->rec, g->pid);
    for (int k = 0; k < CAP_GC_GENERATIONS; k++) {
        vbuf_varint(&w->rec, g->collections[k]);
        vbuf_varint(&w->rec, g->collected[k]);
        vbuf_varint(&w->rec, g->uncollectable[k]);
    }
    return emit(w, CAPF_GC);
}

/* Deltas: live bytes change little from one bucket to the next. */
static int u_mem_growth(struct capture_writer *w, const struct cap_mem_growth *g)
{
    struct cap_mem_stack key = { .pid = g->pid, .tid = g->tid, .stack = g->stack };
    if (!w || w->failed || g->n > CAPF_GROWTH_MAX || !g->bucket_ns ||
        g->bucket_ns > CAPF_GROWTH_MAX_NS) {
        errno = EINVAL;
        return -1;
    }
    if (put_mem_key(w, &key) < 0)
        return -1;
    vbuf_varint(&w->rec, g->bucket_ns);
    vbuf_varint(&w->rec, g->n);
    uint64_t prev = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        vbuf_svarint(&w->rec, (int64_t)(g->live[i] - prev));
        prev = g->live[i];
    }
    return emit(w, CAPF_MEM_GROWTH);
}

static int u_mem_totals(struct capture_writer *w, const struct cap_mem_totals *t)
{
    if (!w || w->failed)
        return -1;
    const uint64_t head[] = { t->peak_heap_bytes, t->peak_heap_t_ns, t->peak_rss_bytes,
                              t->peak_rss_t_ns, t->alloc_bytes, t->alloc_count,
                              t->leaked_bytes, t->temporary_count, t->sample_mean };
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        vbuf_varint(&w->rec, head[i]);
    vbuf_varint(&w->rec, CAP_MEM_ALLOCATORS);
    for (int i = 0; i < CAP_MEM_ALLOCATORS; i++) {
        vbuf_varint(&w->rec, t->by_allocator_bytes[i]);
        vbuf_varint(&w->rec, t->by_allocator_count[i]);
    }
    vbuf_varint(&w->rec, CAP_MEM_HIST);
    for (int i = 0; i < CAP_MEM_HIST; i++)
        vbuf_varint(&w->rec, t->size_hist[i]);
    vbuf_varint(&w->rec, t->peak_mapped_bytes);
    vbuf_varint(&w->rec, t->peak_mapped_resident_bytes);
    vbuf_varint(&w->rec, t->leaked_mapped_bytes);
    return emit(w, CAPF_MEM_TOTALS);
}

static int u_gc_pause(struct capture_writer *w, const struct cap_gc_pause *g)
{
    if (!w || w->failed)
        return -1;
    if (g->generation >= CAP_GC_GENERATIONS) {
        errno = EINVAL;
        return -1;
    }
    vbuf_varint(&w->rec, g->t_ns);
    vbuf_svarint(&w->rec, g->pid);
    vbuf_svarint(&w->rec, g->tid);
    vbuf_varint(&w->rec, g->generation);
    vbuf_varint(&w->rec, g->duration_ns);
    vbuf_varint(&w->rec, g->collected);
    vbuf_varint(&w->rec, g->uncollectable);
    return emit(w, CAPF_GC_PAUSE);
}

static int u_type_count(struct capture_writer *w, const struct cap_type_count *t)
{
    if (!w || w->failed)
        return -1;
    if (t->name == 0 || t->name > w->in.nstrs || t->stack > w->in.stacks.n) {
        errno = EINVAL;
        return -1;
    }
    vbuf_varint(&w->rec, t->t_ns);
    vbuf_svarint(&w->rec, t->pid);
    vbuf_varint(&w->rec, t->name);
    vbuf_varint(&w->rec, t->stack);
    vbuf_varint(&w->rec, t->count);
    vbuf_varint(&w->rec, t->bytes);
    return emit(w, CAPF_TYPES);
}

static int u_call(struct capture_writer *w, const struct cap_call *c)
{
    if (!w || w->failed)
        return -1;
    if (c->callee == 0 || c->callee > w->in.nframes || c->caller > w->in.nframes) {
        errno = EINVAL;
        return -1;
    }
    vbuf_svarint(&w->rec, c->pid);
    vbuf_varint(&w->rec, c->caller);
    vbuf_varint(&w->rec, c->callee);
    vbuf_varint(&w->rec, c->calls);
    vbuf_varint(&w->rec, c->primitive_calls);
    vbuf_varint(&w->rec, c->cum_ns);
    vbuf_varint(&w->rec, c->own_ns);
    return emit(w, CAPF_CALLS);
}

static int u_flush(struct capture_writer *w)
{
    if (!w)
        return -1;
    return flush_block(w, ZSTD_e_flush);
}

/* ---- the public calls: each one step under the lock ---- */

#define LOCKED(type, none, call)            \
    do {                                    \
        if (!w)                             \
            return none;                    \
        pthread_mutex_lock(&w->lock);       \
        type r_ = call;                     \
        pthread_mutex_unlock(&w->lock);     \
        return r_;                          \
    } while (0)

uint32_t capw_string(struct capture_writer *w, const char *s)
{
    LOCKED(uint32_t, 0, u_string(w, s));
}

uint32_t capw_frame(struct capture_writer *w, const char *function, const char *file,
                    int32_t line, int32_t first_line, enum cap_frame_kind kind)
{
    LOCKED(uint32_t, 0, u_frame(w, function, file, line, first_line, kind));
}

uint32_t capw_module(struct capture_writer *w, const char *path, const char *build_id)
{
    LOCKED(uint32_t, 0, u_module(w, path, build_id));
}

uint32_t capw_native_frame(struct capture_writer *w, const char *function, const char *file,
                           int32_t line, int32_t first_line, uint32_t module, uint64_t addr)
{
    LOCKED(uint32_t, 0, u_native_frame(w, function, file, line, first_line, module, addr));
}

uint32_t capw_stack(struct capture_writer *w, uint32_t parent, uint32_t frame)
{
    LOCKED(uint32_t, 0, u_stack(w, parent, frame));
}

int capw_process(struct capture_writer *w, const struct cap_process *p)
{
    LOCKED(int, -1, u_process(w, p));
}

int capw_process_exit(struct capture_writer *w, int32_t pid, int32_t exit_code,
                      uint64_t end_ns)
{
    LOCKED(int, -1, u_process_exit(w, pid, exit_code, end_ns));
}

int capw_call(struct capture_writer *w, const struct cap_call *c)
{
    LOCKED(int, -1, u_call(w, c));
}

int capw_thread(struct capture_writer *w, int32_t pid, int32_t tid, const char *name)
{
    LOCKED(int, -1, u_thread(w, pid, tid, name));
}

int capw_sample(struct capture_writer *w, const struct cap_sample *s)
{
    LOCKED(int, -1, u_sample(w, s));
}

int capw_timeline(struct capture_writer *w, const struct cap_timeline_point *p)
{
    LOCKED(int, -1, u_timeline(w, p));
}

int capw_mem_allocs(struct capture_writer *w, uint64_t t_ns, const struct cap_mem_stack *m)
{
    LOCKED(int, -1, u_mem_allocs(w, t_ns, m));
}

int capw_mem_live(struct capture_writer *w, uint64_t t_ns, const struct cap_mem_stack *m)
{
    LOCKED(int, -1, u_mem_live(w, t_ns, m));
}

int capw_mem_peak(struct capture_writer *w, const struct cap_timeline_point *p)
{
    LOCKED(int, -1, u_mem_peak(w, p));
}

int capw_mem_peak_stack(struct capture_writer *w, const struct cap_mem_stack *m)
{
    LOCKED(int, -1, u_mem_peak_stack(w, m));
}

int capw_mem_stack(struct capture_writer *w, const struct cap_mem_stack *m)
{
    LOCKED(int, -1, u_mem_stack(w, m));
}

int capw_mem_totals(struct capture_writer *w, const struct cap_mem_totals *t)
{
    LOCKED(int, -1, u_mem_totals(w, t));
}

int capw_gc(struct capture_writer *w, const struct cap_gc_point *g)
{
    LOCKED(int, -1, u_gc(w, g));
}

int capw_gc_pause(struct capture_writer *w, const struct cap_gc_pause *g)
{
    LOCKED(int, -1, u_gc_pause(w, g));
}

int capw_type_count(struct capture_writer *w, const struct cap_type_count *t)
{
    LOCKED(int, -1, u_type_count(w, t));
}

int capw_mem_growth(struct capture_writer *w, const struct cap_mem_growth *g)
{
    LOCKED(int, -1, u_mem_growth(w, g));
}

int capw_flush(struct capture_writer *w)
{
    LOCKED(int, -1, u_flush(w));
}

int capw_close(struct capture_writer *w, uint64_t duration_ns)
{
    int rc;

    if (!w)
        return -1;
    if (!w->failed) {
        vbuf_varint(&w->rec, duration_ns);
        if (emit(w, CAPF_END) == 0)
            flush_block(w, ZSTD_e_end);
    }
    /* close() errors matter (NFS reports write errors there); on Linux
     * the fd is gone even when it says EINTR, so never retry. */
    if (close(w->fd) < 0 && errno != EINTR)
        fail(w, errno);
    rc = w->failed ? -1 : 0;
    ZSTD_freeCCtx(w->zc);
    intern_free(&w->in);
    free(w->raw.p);
    free(w->rec.p);
    free(w->out.p);
    pthread_mutex_destroy(&w->lock);
    if (rc < 0)
        errno = w->err;
    free(w);
    return rc;
}

void capw_hold(struct capture_writer *w)
{
    if (w)
        pthread_mutex_lock(&w->lock);
}

void capw_release(struct capture_writer *w)
{
    if (w)
        pthread_mutex_unlock(&w->lock);
}

uint64_t capw_bytes(const struct capture_writer *w)
{
    if (!w)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&w->lock);
    uint64_t n = w->bytes;
    pthread_mutex_unlock((pthread_mutex_t *)&w->lock);
    return n;
}
