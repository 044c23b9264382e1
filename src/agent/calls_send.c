/*
 * calls_send.c -- the sender of exact call counts (calls_table.h): the
 * threads' tables merged into one per process and sent to stetho as FRAME
 * and CALLS records (wire.h) on the process's calls stream.
 *
 * The merge is kept from one send to the next (functions by key, edges by
 * merged caller and callee): a merged function's index + 1 is its FRAME id
 * on the stream, sent once, and only the figures whose call count moved
 * since the last send go again.  Only the process that began the count
 * sends (a forked child sends nothing).
 */
#include "agent/agent.h"
#include "agent/calls_table.h"
#include "util/kmap.h"
#include "util/utf8.h"
#include "wire/wire.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pid_t owner;             /* the process that counts */
static int written;             /* the last send went: at exit, or stop */

struct msum {
    uint32_t caller, callee;    /* edges only: merged function indices */
    uint64_t v[4];              /* calls, rec_calls, cum_ns, own_ns */
    uint64_t sent;              /* calls when last sent */
};

static struct {
    struct kmap gfn, gedge;
    struct msum *f, *e;
    size_t nf, ne, capf, cape;
    int oom;                    /* the merge is incomplete: nothing more is sent */
} merged;

static struct {
    struct agent_fifo fifo;     /* none: nothing to send to */
    int started;                /* the stream's first chunk went */
    size_t len;
    uint8_t buf[AGENT_CHUNK_MAX];
} out = { .fifo.state = AGENT_FIFO_NONE };

static void out_flush(void)
{
    if (out.len > sizeof(struct agent_chunk_header) && agent_fifo_fd(&out.fifo) >= 0) {
        wire_put_header(out.buf, out.started ? 0 : AGENT_CHUNK_NEW_STREAM, out.len, (int32_t)owner,
                        WIRE_CALLS_TID, agent_now());
        if (agent_fifo_write(&out.fifo, out.buf, out.len) < 0)
            agent_fifo_close(&out.fifo);        /* stetho went away */
        out.started = 1;
    }
    out.len = sizeof(struct agent_chunk_header);
}

/* Room for need bytes (at most a record: they fit a chunk, wire.h). */
static uint8_t *out_room(size_t need)
{
    if (out.len < sizeof(struct agent_chunk_header) || out.len + need > AGENT_CHUNK_MAX)
        out_flush();
    return out.buf + out.len;
}

static struct wire_bytes cut(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return (struct wire_bytes){ s ? s : "", utf8_cut(s ? s : "", n, max) };
}

/* A function seen for the first time: its FRAME, named as the sampler
 * names it (3.11+: the qualified name), so counted and sampled functions
 * are one in the reports. */
static void send_frame(uint32_t id, const struct calls_fn *e)
{
    const char *name = e->label, *file = "~";
    long line = 0;
    pyobj *n = NULL, *fl = NULL, *ln = NULL;
    if (e->code) {
        n = calls_py.getattr(e->code, "co_qualname");
        if (!n) {
            calls_py.err_clear();
            n = calls_py.getattr(e->code, "co_name");
        }
        fl = calls_py.getattr(e->code, "co_filename");
        ln = calls_py.getattr(e->code, "co_firstlineno");
        name = n ? calls_py.utf8(n) : NULL;
        file = fl ? calls_py.utf8(fl) : NULL;
        line = ln ? calls_py.as_long(ln) : 0;
        calls_py.err_clear();
    }
    struct wire_frame r = {
        .id = id,
        .line = line > 0 ? (uint64_t)line : 0,
        .first_line = line > 0 ? (uint64_t)line : 0,
        .kind = e->code ? AGENT_FRAME_PYTHON : AGENT_FRAME_NATIVE,
        .name = cut(name ? name : "?", WIRE_NAME_MAX),
        .file = cut(file ? file : "?", WIRE_FILE_MAX),
    };
    uint8_t *w = out_room(wire_size_frame(&r));
    out.len = (size_t)(wire_put_frame(w, &r) - out.buf);
    pyobj *o[] = { n, fl, ln };
    for (int i = 0; i < 3; i++)
        if (o[i])
            calls_py.decref(o[i]);
}

static uint32_t merge_fn(const struct calls_fn *e)
{
    int isnew;
    uint32_t *v = kmap_put(&merged.gfn, (uintptr_t)e->key, 0, (uint32_t)merged.nf, &isnew);
    if (!v || (isnew && calls_grow((void **)&merged.f, &merged.capf, merged.nf, sizeof *merged.f) < 0))
        return CALLS_NONE;
    uint32_t g = *v;
    if (isnew) {
        memset(&merged.f[g], 0, sizeof merged.f[g]);
        merged.nf++;
        send_frame(g + 1, e);
    }
    return g;
}

/* calls, recursive calls, and the times in ticks converted to ns at scale
 * (agent_tick_scale) */
static void add4(uint64_t s[4], uint64_t scale, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    s[0] += a;
    s[1] += b;
    s[2] += (uint64_t)(((unsigned __int128)c * scale) >> 32);
    s[3] += (uint64_t)(((unsigned __int128)d * scale) >> 32);
}

static void send_figures(uint32_t caller, uint32_t callee, struct msum *m)
{
    if (m->v[0] == m->sent)
        return;                 /* no call of it ended since the last send */
    m->sent = m->v[0];
    struct wire_calls r = { caller, callee, m->v[0], m->v[1], m->v[2], m->v[3] };
    uint8_t *w = out_room(wire_size_calls(&r));
    out.len = (size_t)(wire_put_calls(w, &r) - out.buf);
}

/* One thread's table added to the merge (holding calls_tables_lock). */
static void merge_table(const struct calls_table *t, uint64_t scale)
{
    uint32_t *g = calloc(t->nfns + 1, sizeof *g);
    if (!g) {
        merged.oom = 1;
        return;
    }
    for (size_t i = 0; i < t->nfns; i++) {
        const struct calls_fn *e = &t->fns[i];
        g[i] = merge_fn(e);
        if (g[i] == CALLS_NONE)
            merged.oom = 1;
        else
            add4(merged.f[g[i]].v, scale, e->calls, e->rec_calls, e->cum, e->own);
    }
    for (size_t i = 0; i < t->nedges && !merged.oom; i++) {
        const struct calls_edge *s = &t->edges[i];
        uint32_t a = g[s->caller], b = g[s->callee];
        int isnew = 0;
        uint32_t *v = kmap_put(&merged.gedge, a, b, (uint32_t)merged.ne, &isnew);
        if (!v || (isnew && calls_grow((void **)&merged.e, &merged.cape, merged.ne,
                                       sizeof *merged.e) < 0)) {
            merged.oom = 1;     /* (the map may name an edge not made) */
            break;
        }
        if (isnew)
            merged.e[merged.ne++] = (struct msum){ .caller = a, .callee = b };
        add4(merged.e[*v].v, scale, s->calls, s->rec_calls, s->cum, s->own);
    }
    free(g);
}

void calls_send(int last)
{
    if (written || getpid() != owner || agent_fifo_fd(&out.fifo) < 0)
        return;
    written = last;
    uint64_t scale = agent_tick_scale();
    for (size_t i = 0; i < merged.nf; i++)
        memset(merged.f[i].v, 0, sizeof merged.f[i].v);
    for (size_t i = 0; i < merged.ne; i++)
        memset(merged.e[i].v, 0, sizeof merged.e[i].v);
    out.len = sizeof(struct agent_chunk_header);
    pthread_mutex_lock(&calls_tables_lock);
    for (const struct calls_table *t = calls_tables; t && !merged.oom; t = t->next)
        merge_table(t, scale);
    pthread_mutex_unlock(&calls_tables_lock);
    if (merged.oom)
        return;                 /* figures short of some threads': none */
    for (size_t i = 0; i < merged.nf; i++)
        send_figures(0, (uint32_t)i + 1, &merged.f[i]);
    for (size_t i = 0; i < merged.ne; i++)
        send_figures(merged.e[i].caller + 1, merged.e[i].callee + 1, &merged.e[i]);
    out_flush();
}

void calls_send_begin(void)
{
    kmap_free(&merged.gfn);
    kmap_free(&merged.gedge);
    free(merged.f);
    free(merged.e);
    memset(&merged, 0, sizeof merged);
    out.started = 0;
    owner = getpid();
    written = 0;
}

int calls_send_open(const char *fifo)
{
    return agent_fifo_open(&out.fifo, fifo) == 0;
}

int calls_send_open_p(void)
{
    return agent_fifo_fd(&out.fifo) >= 0;
}

void calls_send_close(void)
{
    agent_fifo_close(&out.fifo);
}
