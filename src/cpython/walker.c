/*
 * walker.c -- interpreters -> thread states -> frames, over a reader.
 *
 * Cost, remote: per interpreter one batched read (thread list, next, the
 * GIL, the collector's flag); per thread one read of its state (and of its
 * cframe, 3.11/3.12); frames a few pages at a time (framewin.h), so a
 * stack costs a handful of reads however deep; then one batched read
 * checks the chain and the code objects (each distinct one once).
 * Code objects come from the code cache.  The local reader (the agent)
 * reads each frame in place.  Bounds: PY_MAX_THREADS thread states per interpreter,
 * PY_MAX_DEPTH frames per stack, and Brent's cycle check on frame chains
 * (a torn read can link a frame back to itself).
 */
#include "cpython/walker.h"
#include "cpython/linetable.h"
#include "cpython/framewin.h"
#include "util/mix.h"

#include <stdlib.h>
#include <string.h>

#define MAX_INTERPS 256
#define CHECK_SLOTS 256       /* distinct code objects asked for once per walk */
#define NO_CHECK UINT32_MAX
#define FRESH_NONE UINT64_MAX /* no frame pointer read again */
#define PIECE_DECIDED 2       /* a code check's piece, once its frame's code is known */
#define MEMO_SLOTS 1024       /* (code, position) -> line, direct-mapped */
#define OWNED_BY_GENERATOR 1
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define OWNED_BY_CSTACK 3     /* 3.12+: shim frames; 3.14 adds 4, also not Python's */

static int push_frame(struct py_snapshot *s, const struct code_info *code, int line,
                      enum py_marker marker, int entry)
{
    if (s->nframes == s->cap_frames) {
        size_t ncap = s->cap_frames ? s->cap_frames * 2 : 256;
        struct py_frame *nf = realloc(s->frames, ncap * sizeof *nf);
        if (!nf)
            return -1;
        s->frames = nf;
        s->cap_frames = ncap;
    }
    s->frames[s->nframes++] = (struct py_frame){ code, line, marker, entry };
    return 0;
}

static struct py_thread *push_thread(struct py_snapshot *s)
{
    if (s->nthreads == s->cap_threads) {
        size_t ncap = s->cap_threads ? s->cap_threads * 2 : 16;
        struct py_thread *nt = realloc(s->threads, ncap * sizeof *nt);
        if (!nt)
            return NULL;
        s->threads = nt;
        s->cap_threads = ncap;
    }
    struct py_thread *th = &s->threads[s->nthreads++];
    memset(th, 0, sizeof *th);
    return th;
}

static uint64_t get_u64(const uint8_t *buf, uint64_t off)
{
    uint64_t v;
    memcpy(&v, buf + off, sizeof v);
    return v;
}

static int32_t get_i32(const uint8_t *buf, uint64_t off)
{
    int32_t v;
    memcpy(&v, buf + off, sizeof v);
    return v;
}

/* What a walk reads of each frame, taken out of the layout once per walk
 * (the stores into raw[] could alias the layout: read through it, the
 * offsets would be loaded again at every frame), in a form that needs no
 * test per frame: a missing is_entry reads the owner byte under a 0 mask. */
struct frame_fields {
    uint64_t size, previous, code, lasti, instr, owner, entry, code_adaptive;
    uint8_t entry_mask;         /* 0: no is_entry field (3.12+ use shims) */
    int object_model;           /* PY_FRAMES_OBJECT: 3.9/3.10 */
};

static void frame_fields(const struct py_layout *l, struct frame_fields *f)
{
    int has_entry = l->fr_is_entry != PY_NOFIELD;
    *f = (struct frame_fields){
        .size = l->fr_size, .previous = l->fr_previous, .code = l->fr_code,
        .lasti = l->fr_lasti, .instr = l->fr_instr, .owner = l->fr_owner,
        .entry = has_entry ? l->fr_is_entry : l->fr_owner,
        .entry_mask = has_entry ? 0xff : 0,
        .code_adaptive = l->co_code_adaptive,
        .object_model = l->frame_model == PY_FRAMES_OBJECT,
    };
}

/* The frame models a walk can be compiled for (read_frame's `model`, a
 * constant at each inlined call): FRAMES_ANY decides by the layout at
 * every frame; the others are the agent's walks, one per model, so its
 * loop carries no test nor field it does not need (3.11, cachegrind:
 * 45 instructions a frame instead of 55; 39 since the position is left
 * to py_raw_pos). */
enum frame_model {
    FRAMES_ANY,
    FRAMES_OBJECT,          /* 3.9/3.10: PyFrameObject */
    FRAMES_ENTRY,           /* 3.11: interpreter frames with is_entry */
    FRAMES_SHIMS,           /* 3.12+: interpreter frames, C shims between calls */
};

/* Read the frame at *frame into *out and move *frame to its caller.
 * 1: a Python frame; 0: a frame to skip (pushed but not started); 2: a C
 * shim (3.12+: the interpreter call that ran the frames before it began
 * there); -1: unreadable.  `local` and `model` are constants at each
 * inlined call (see walk_raw): with the local reader the fields are loaded
 * where they are (the agent walks its own thread, once per allocation),
 * with any other the frame is copied out first: from a window (framewin.h)
 * when win is not NULL. */
static inline __attribute__((always_inline)) int
read_frame(struct reader *rd, struct framewin *win, const struct frame_fields *ff,
           const int local, const enum frame_model model, uint64_t *frame,
           struct py_raw_frame *out)
{
    uint8_t copy[512];
    const uint8_t *buf = copy;
    if (local) {
        if (*frame < 4096)              /* a NULL pointer plus a field offset */
            return -1;
        buf = (const uint8_t *)(uintptr_t)*frame;
    } else if (ff->size > sizeof copy) {
        return -1;
    } else if (!(win && (buf = framewin_get(win, rd, *frame, ff->size)))) {
        buf = copy;                     /* not from a window: this frame alone */
        if (reader_read(rd, *frame, copy, ff->size) < 0)
            return -1;
    }
    out->addr = *frame;
    *frame = out->prev = get_u64(buf, ff->previous);
    out->code = get_u64(buf, ff->code) & ~(uint64_t)3;   /* 3.14 tags refs */
    if (model == FRAMES_OBJECT || (model == FRAMES_ANY && ff->object_model)) {
        out->instr = (uint64_t)(int64_t)get_i32(buf, ff->lasti);
        out->entry = 1;                 /* one interpreter call per frame object */
        return 1;
    }
    uint8_t owner = buf[ff->owner];
    if (owner >= OWNED_BY_CSTACK)
        return 2;
    if (model == FRAMES_ANY)
        out->entry = (buf[ff->entry] & ff->entry_mask) != 0;
    else
        out->entry = model == FRAMES_ENTRY && buf[ff->entry] != 0;
    uint64_t instr = out->instr = get_u64(buf, ff->instr);
    /* 3.11/3.12: a frame pushed but not started has prev_instr one unit
     * (2 bytes) before its first; it is not on the stack yet.  That is
     * py_raw_pos(...) < 0, without its division; unsigned, as there: a
     * torn read may give any two values. */
    return (int64_t)(instr - (out->code + ff->code_adaptive)) >= -1 ||
           owner == OWNED_BY_GENERATOR;
}

/* The one walk logic, compiled by py_walk_raw for every other reader and,
 * once per frame model, for the local reader (plain loads, nothing called
 * per frame).  A chain read from another process may be torn and link a
 * frame back to itself: Brent's cycle check (the tortoise jumps to the
 * frame reached after each power of two of steps).  The local reader
 * walks the agent's own thread, which is inside the allocator while its
 * frames are read: they do not change under the walk, so no cycle check
 * (max still bounds a chain that is corrupt). */
static inline __attribute__((always_inline)) int
walk_raw(struct reader *rd, struct framewin *win, const struct frame_fields *ff, const int local,
         const enum frame_model model, uint64_t frame, const uint64_t stop,
         struct py_raw_frame *raw, size_t max, enum py_marker *end, int *stopped)
{
    size_t n = 0, steps = 0, power = 1;
    uint64_t tortoise = 0;
    *end = PY_MARK_NONE;
    while (frame) {
        const uint64_t at = frame;
        if (n >= max || (!local && frame == tortoise)) {
            *end = PY_MARK_TRUNCATED;
            break;
        }
        if (!local && ++steps == power) {
            tortoise = frame;
            power *= 2;
        }
        int r = read_frame(rd, win, ff, local, model, &frame, &raw[n]);
        if (UNLIKELY(r < 0)) {
            *end = PY_MARK_UNREADABLE;
            break;
        }
        if (UNLIKELY(r == 2)) {
            if (n)
                raw[n - 1].entry = 1;
            continue;
        }
        n += (size_t)r;
        if (stop && at == stop) {
            *stopped = r ? 1 : 2;
            break;
        }
    }
    return (int)n;
}

int py_walk_raw_to(struct py_target *t, uint64_t frame, uint64_t stop, struct py_raw_frame *raw,
                   size_t max, enum py_marker *end, int *stopped)
{
    struct frame_fields ff;
    frame_fields(&t->layout, &ff);
    *stopped = 0;
    if (ff.object_model)
        return walk_raw(&t->rd, NULL, &ff, 1, FRAMES_OBJECT, frame, stop, raw, max, end, stopped);
    if (ff.entry_mask)
        return walk_raw(&t->rd, NULL, &ff, 1, FRAMES_ENTRY, frame, stop, raw, max, end, stopped);
    return walk_raw(&t->rd, NULL, &ff, 1, FRAMES_SHIMS, frame, stop, raw, max, end, stopped);
}

int py_walk_raw(struct py_target *t, uint64_t frame, struct py_raw_frame *raw, size_t max,
                enum py_marker *end)
{
    int stopped;
    if (t->rd.local)
        return py_walk_raw_to(t, frame, 0, raw, max, end, &stopped);
    struct frame_fields ff;
    frame_fields(&t->layout, &ff);
    /* remote: frames a few pages at a time (framewin.h); measured on a
     * 200-frame recursion, 213 reads and 155 us a walk become 11 and 21 us
     * (3.11), 212 and 140 us become 16 and 28 us (3.9) */
    if (!t->win)
        t->win = framewin_new();        /* NULL: frame by frame, as before */
    if (t->win)
        framewin_reset(t->win);
    return walk_raw(&t->rd, t->win, &ff, 0, FRAMES_ANY, frame, 0, raw, max, end, &stopped);
}

/* The line executing at pos (the first line if not started yet). */
static int frame_line(const struct py_layout *l, const struct code_info *ci, int64_t pos)
{
    if (pos < 0)
        return ci->firstlineno;
    return linetable_lookup(l->linetable_kind, ci->linetable, ci->linetable_len, ci->lines,
                            pos);
}

/* frame_line through a memo kept across walks: a steady stack decodes
 * the same positions of the same code again and again.  An entry is good
 * while the code cache keeps its entries (its generation). */
struct line_memo {
    const struct code_info *code;
    int64_t pos;
    int line;
};

static int memo_line(struct py_target *t, struct py_snapshot *s, const struct code_info *ci,
                     int64_t pos)
{
    uint64_t gen = codecache_generation(t->codes);
    if (!s->memo || s->memo_gen != gen) {
        if (!s->memo && !(s->memo = malloc(MEMO_SLOTS * sizeof *s->memo)))
            return frame_line(&t->layout, ci, pos);
        memset(s->memo, 0, MEMO_SLOTS * sizeof *s->memo);
        s->memo_gen = gen;
    }
    struct line_memo *m = &s->memo[mix64((uint64_t)(uintptr_t)ci ^ (uint64_t)pos * 0x9e3779b97f4a7c15ull) &
                                   (MEMO_SLOTS - 1)];
    if (m->code != ci || m->pos != pos)
        *m = (struct line_memo){ ci, pos, frame_line(&t->layout, ci, pos) };
    return m->line;
}

const struct code_info *py_resolve(struct py_target *t, const struct py_raw_frame *f, int *line)
{
    const struct py_layout *l = &t->layout;
    const struct code_info *ci = codecache_get(t->codes, &t->rd, l, t->code_type, f->code);
    *line = ci ? frame_line(l, ci, py_raw_pos(l, f)) : -1;
    return ci;
}

/* py_thread_frame, also giving the cframe it went through (3.11/3.12;
 * else 0). */
static int thread_frame(struct py_target *t, uint64_t tstate, uint64_t *cframe, uint64_t *frame)
{
    const struct py_layout *l = &t->layout;
    *cframe = 0;
    if (reader_ptr(&t->rd, tstate + l->ts_frame, frame) < 0)
        return -1;
    if (*frame && l->cframe_current_frame != PY_NOFIELD) {
        *cframe = *frame;
        if (reader_ptr(&t->rd, *cframe + l->cframe_current_frame, frame) < 0)
            return -1;
    }
    return 0;
}

int py_thread_frame(struct py_target *t, uint64_t tstate, uint64_t *frame)
{
    uint64_t cframe;
    return thread_frame(t, tstate, &cframe, frame);
}

/* Room for n raw frames, and twice n identity windows and batched pieces:
 * a chain check's (frames, windows) and the code objects' checks, read in
 * one batch. */
static int reserve_raw(struct py_snapshot *s, size_t n)
{
    if (s->cap_raw >= n)
        return 0;
    struct py_raw_frame *nr = realloc(s->raw, n * sizeof *nr);
    if (!nr)
        return -1;
    s->raw = nr;
    uint8_t *nw = realloc(s->windows, 2 * n * CODE_IDENT_MAX);
    if (!nw)
        return -1;
    s->windows = nw;
    struct reader_iov *ni = realloc(s->iov, 2 * n * sizeof *ni);
    if (!ni)
        return -1;
    s->iov = ni;
    uint32_t *nc = realloc(s->check, n * sizeof *nc);
    if (!nc)
        return -1;
    s->check = nc;
    const struct code_info **np = realloc(s->piece_ci, n * sizeof *np);
    if (!np)
        return -1;
    s->piece_ci = np;
    s->cap_raw = n;
    return 0;
}

/* The span of a frame holding what a stability check compares. */
static void frame_span(const struct py_layout *l, uint64_t *lo, size_t *len)
{
    uint64_t pos = l->frame_model == PY_FRAMES_OBJECT ? l->fr_lasti : l->fr_instr;
    uint64_t a = l->fr_previous < l->fr_code ? l->fr_previous : l->fr_code;
    uint64_t b = l->fr_previous > l->fr_code ? l->fr_previous : l->fr_code;
    a = pos < a ? pos : a;
    b = pos > b ? pos : b;
    *lo = a;
    *len = (size_t)(b + 8 - a);
}

/* Read the thread's first frame pointer and the walked frames again, in
 * one go: is it the same chain, same code, callers at the same place?
 * (The innermost frame's position moves on as it runs; that is no tear.)
 * 3.11/3.12: the cframe must be the same one too, and its current frame
 * is read in the same go.  Frames read from windows are compared with the
 * windows read again whole; the others by their span alone. */
static int chain_stable(struct py_target *t, struct py_snapshot *s, size_t pre, uint64_t tstate,
                        uint64_t cframe, uint64_t start, const struct py_raw_frame *raw, int n,
                        uint64_t *fresh)
{
    const struct py_layout *l = &t->layout;
    uint64_t lo;
    size_t len;
    frame_span(l, &lo, &len);
    if (len > CODE_IDENT_MAX) {
        reader_readv(&t->rd, s->iov, pre);
        return 1;                       /* cannot check: trust the walk */
    }
    uint64_t first = 0, current = 0;
    struct reader_iov *iov = s->iov + pre;     /* after the code checks */
    size_t k = 0;
    iov[k++] = (struct reader_iov){ tstate + l->ts_frame, &first, 8, 0 };
    if (cframe)
        iov[k++] = (struct reader_iov){ cframe + l->cframe_current_frame, &current, 8, 0 };
    size_t wins = k;
    if (t->win)
        k += framewin_reread_iov(t->win, iov + k);
    size_t spans = k;
    for (int i = 0; i < n; i++)
        if (!(t->win && framewin_holds(t->win, raw[i].addr + lo, len)))
            iov[k++] = (struct reader_iov){ raw[i].addr + lo,
                                            s->windows + (size_t)i * CODE_IDENT_MAX, len, 0 };
    reader_readv(&t->rd, s->iov, pre + k);
    /* the thread's first frame as it is now: where a walk again starts */
    if (iov[0].ok && l->cframe_current_frame == PY_NOFIELD)
        *fresh = first;
    else if (iov[0].ok && cframe && first == cframe && iov[1].ok)
        *fresh = current;
    for (size_t i = 0; i < k; i++)
        if (!iov[i].ok)
            return 0;
    if (cframe ? first != cframe || current != start : first != start)
        return 0;
    size_t next = spans;
    for (int i = 0; i < n; i++) {
        const uint8_t *w = t->win ? framewin_again(t->win, iov + wins, raw[i].addr + lo, len)
                                  : NULL;
        if (!w)
            w = next < k && iov[next].addr == raw[i].addr + lo ? iov[next++].dst : NULL;
        if (!w)
            return 0;
        uint64_t prev = get_u64(w, l->fr_previous - lo);
        uint64_t code = get_u64(w, l->fr_code - lo) & ~(uint64_t)3;
        uint64_t instr = l->frame_model == PY_FRAMES_OBJECT
                             ? (uint64_t)(int64_t)get_i32(w, l->fr_lasti - lo)
                             : get_u64(w, l->fr_instr - lo);
        if (prev != raw[i].prev || code != raw[i].code || (i > 0 && instr != raw[i].instr))
            return 0;
    }
    return 1;
}

/* One piece per distinct cached code object of raw[0..n) into s->iov
 * (a recursive stack has a few, many times: a direct-mapped table of those
 * asked for), s->check[i] the piece of frame i's; returns how many. */
static size_t code_pieces(struct py_target *t, struct py_snapshot *s, int n)
{
    uint64_t off;
    size_t len;
    codecache_ident(&t->layout, &off, &len);
    struct { uint64_t code; uint32_t piece; } asked[CHECK_SLOTS];
    memset(asked, 0, sizeof asked);
    uint8_t *dst = s->windows + s->cap_raw * CODE_IDENT_MAX;   /* after the spans' */
    size_t nio = 0;
    for (int i = 0; i < n; i++) {
        uint64_t code = s->raw[i].code;
        const struct code_info *e = codecache_find(t->codes, code);
        s->check[i] = NO_CHECK;
        if (!e || e->ident_len != len)
            continue;
        size_t slot = mix64(code) & (CHECK_SLOTS - 1);
        if (asked[slot].code != code) {
            asked[slot].code = code;
            asked[slot].piece = (uint32_t)nio;
            s->piece_ci[nio] = e;
            s->iov[nio] = (struct reader_iov){ code + off, dst + nio * CODE_IDENT_MAX, len, 0 };
            nio++;
        }
        s->check[i] = asked[slot].piece;
    }
    return nio;
}

/* Walk one thread's frame chain into the snapshot; innermost first.  The
 * cached code objects of the whole chain are checked in the chain check's
 * batched read. */
static int walk_frames(struct py_target *t, struct py_snapshot *s, uint64_t tstate,
                       uint64_t cframe, uint64_t frame)
{
    const struct py_layout *l = &t->layout;
    enum py_marker end;
    if (reserve_raw(s, PY_MAX_DEPTH + 2 + FRAMEWIN_MAX) < 0)
        return -1;
    int n = py_walk_raw(t, frame, s->raw, PY_MAX_DEPTH, &end);
    /* a cycle or an unreadable frame can only come from a torn read: try
     * again too (a chain really deeper than PY_MAX_DEPTH stays truncated) */
    int torn = 1, codes_read = 0;
    uint64_t fresh = FRESH_NONE;        /* the first frame, read by the check */
    for (int attempt = 0; attempt <= t->walk_retries; attempt++) {
        if (attempt) {
            if (fresh != FRESH_NONE)
                frame = fresh;          /* same cframe (3.11/3.12), if any */
            else if (thread_frame(t, tstate, &cframe, &frame) < 0)
                break;
            n = py_walk_raw(t, frame, s->raw, PY_MAX_DEPTH, &end);
            codes_read = 0;
        }
        fresh = FRESH_NONE;
        if (!(end != PY_MARK_NONE && n < PY_MAX_DEPTH)) {
            codes_read = 1;
            if (chain_stable(t, s, code_pieces(t, s, n), tstate, cframe, frame, s->raw, n,
                             &fresh)) {
                torn = 0;
                break;
            }
        }
    }
    if (!codes_read)
        reader_readv(&t->rd, s->iov, code_pieces(t, s, n));

    for (int i = 0; i < n; i++) {
        const struct py_raw_frame *f = &s->raw[i];
        const struct code_info *ci;
        uint32_t p = s->check[i];
        if (p != NO_CHECK && s->iov[p].ok == PIECE_DECIDED) {
            ci = s->piece_ci[p];        /* its code was decided for an earlier frame */
        } else {
            ci = codecache_find(t->codes, f->code);
            if (!(ci && p != NO_CHECK && s->iov[p].ok && codecache_same(ci, s->iov[p].dst)))
                ci = codecache_load(t->codes, &t->rd, l, t->code_type, f->code);
            if (p != NO_CHECK) {
                s->piece_ci[p] = ci;
                s->iov[p].ok = PIECE_DECIDED;
            }
        }
        if (ci && ci->shim)
            continue;
        int line = -1;
        if (ci)
            line = memo_line(t, s, ci, py_raw_pos(l, f));
        if (push_frame(s, ci, line, ci ? PY_MARK_NONE : PY_MARK_UNREADABLE, f->entry) < 0)
            return -1;
    }
    if (end != PY_MARK_NONE && push_frame(s, NULL, -1, end, 0) < 0)
        return -1;
    return torn;
}

/* 3.9/3.10 keep only the pthread_t; glibc stores the kernel tid inside the
 * struct pthread it points to.  Find where by looking for the pid in the
 * main thread's struct (its tid is the pid). */
static void find_tid_offset(struct py_target *t)
{
    const struct py_layout *l = &t->layout;
    uint64_t main_thread;
    int32_t words[256];
    t->tid_offset = -2;                 /* tried */
    if (l->rt_main_thread == PY_NOFIELD ||
        reader_ptr(&t->rd, t->runtime + l->rt_main_thread, &main_thread) < 0 || !main_thread ||
        reader_read(&t->rd, main_thread, words, sizeof words) < 0)
        return;
    for (int i = 4; i < 256; i++)       /* past the tcb's self pointers */
        if (words[i] == (int32_t)t->pid) {
            t->tid_offset = i * 4;
            return;
        }
}

static pid_t thread_tid(struct py_target *t, const uint8_t *ts)
{
    const struct py_layout *l = &t->layout;
    if (l->ts_native_thread_id != PY_NOFIELD)
        return (pid_t)get_u64(ts, l->ts_native_thread_id);
    if (t->tid_offset == -1)
        find_tid_offset(t);
    int32_t tid;
    uint64_t pthread = get_u64(ts, l->ts_thread_id);
    if (t->tid_offset < 0 || !pthread ||
        reader_read(&t->rd, pthread + (uint64_t)t->tid_offset, &tid, sizeof tid) < 0 || tid <= 0)
        return 0;
    return tid;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* What a walk needs of one interpreter, read in one batch. */
struct interp_view {
    uint64_t threads, next;     /* its first thread state, the next one */
    int threads_ok, next_ok;
    uint64_t head;              /* first interpreter only: the list's head */
    int head_ok;
    int collecting;             /* first interpreter only: 1, 0, -1 unknown */
    int64_t gc[PY_GC_GENERATIONS][3];   /* first interpreter only: gc's counters, */
    int gc_ok;                          /*   if the layout knows them and they were read */
    int64_t holder;             /* the GIL's holder, 0 if free, -1 unknown */
    uint64_t gil_addr;          /* the GIL's struct, 0 if unknown */
};

/* 3.9-3.11 keep the GIL in the runtime; 3.12+ behind a pointer in the
 * interpreter, set once when it is made: that pointer is kept (t->gil_*)
 * and read again inside the batch, a holder read through a pointer that
 * changed being unknown (and the pointer read anew next time). */
static void interp_read(struct py_target *t, uint64_t interp, int first, struct interp_view *v)
{
    const struct py_layout *l = &t->layout;
    uint64_t base = 0, locked_off = 0, holder_off = 0, base_again = 0, holder = 0;
    int32_t locked = 0, collecting = 0;
    int gil = 0;                        /* 1: in the runtime; 2: behind a pointer */
    memset(v, 0, sizeof *v);
    if (l->rt_gil_locked != PY_NOFIELD) {
        gil = 1;
        base = t->runtime;
        locked_off = l->rt_gil_locked;
        holder_off = l->rt_gil_holder;
        if (l->rt_gil != PY_NOFIELD)
            v->gil_addr = t->runtime + l->rt_gil;
    } else if (l->is_gil_ptr != PY_NOFIELD) {
        if (t->gil_interp != interp &&
            reader_ptr(&t->rd, interp + l->is_gil_ptr, &base) == 0 && base) {
            t->gil_interp = interp;
            t->gil_base = base;
        }
        if (t->gil_interp == interp) {
            gil = 2;
            base = t->gil_base;
            locked_off = l->is_gil_locked;
            holder_off = l->is_gil_holder;
        }
    }
    struct reader_iov iov[8];
    size_t k = 0;
    iov[k++] = (struct reader_iov){ interp + l->is_threads_head, &v->threads, 8, 0 };
    iov[k++] = (struct reader_iov){ interp + l->is_next, &v->next, 8, 0 };
    size_t ic = k, ig, igc = 0;
    if (first) {
        iov[k++] = (struct reader_iov){ interp + l->is_gc_collecting, &collecting, 4, 0 };
        iov[k++] = (struct reader_iov){ t->runtime + l->rt_interpreters_head, &v->head, 8, 0 };
        /* the sampler records these every tick: here they cost no read of their own */
        if (l->is_gc_stats != PY_NOFIELD) {
            igc = k;
            iov[k++] = (struct reader_iov){ interp + l->is_gc_stats, v->gc, sizeof v->gc, 0 };
        }
    }
    ig = k;
    if (gil) {
        iov[k++] = (struct reader_iov){ base + locked_off, &locked, 4, 0 };
        iov[k++] = (struct reader_iov){ base + holder_off, &holder, 8, 0 };
        if (gil == 2)
            iov[k++] = (struct reader_iov){ interp + l->is_gil_ptr, &base_again, 8, 0 };
    }
    reader_readv(&t->rd, iov, k);
    v->threads_ok = iov[0].ok;
    v->next_ok = iov[1].ok;
    v->collecting = first && iov[ic].ok ? collecting != 0 : -1;
    v->head_ok = first && iov[ic + 1].ok;
    v->gc_ok = igc && iov[igc].ok;
    v->holder = -1;
    if (gil == 2 && !(iov[ig + 2].ok && base_again == base)) {
        t->gil_interp = 0;              /* not that pointer any more */
        return;
    }
    if (gil == 2)
        v->gil_addr = base;
    if (gil && iov[ig].ok && iov[ig + 1].ok)
        v->holder = locked ? (int64_t)holder : 0;
}

static int walk_once(struct py_target *t, struct py_snapshot *s)
{
    const struct py_layout *l = &t->layout;
    uint64_t interp;
    s->nthreads = s->nframes = 0;
    s->gc_collecting = -1;
    s->gc_stats_ok = 0;
    s->gil_addr = 0;
    s->interp = 0;
    /* the main interpreter stays where it is: the one of the last walk is
     * read with its fields, and the list's head with them says whether it
     * still is the first (else its fields are read again, of the new one) */
    struct interp_view v;
    interp = t->interp_head;
    if (!interp && (reader_ptr(&t->rd, t->runtime + l->rt_interpreters_head, &interp) < 0 ||
                    !interp))
        return -1;
    interp_read(t, interp, 1, &v);
    if (!v.head_ok || v.head != interp) {
        t->interp_head = 0;
        if (!v.head_ok || !v.head)
            return -1;
        interp = v.head;
        interp_read(t, interp, 1, &v);
    }
    t->interp_head = s->interp = interp;

    size_t ts_size = max_u64(max_u64(l->ts_next, l->ts_frame),
                             max_u64(l->ts_thread_id,
                                     l->ts_native_thread_id == PY_NOFIELD
                                         ? 0 : l->ts_native_thread_id)) + 8;
    uint8_t ts[1024];
    if (ts_size > sizeof ts)
        return -1;

    for (int ni = 0; interp && ni < MAX_INTERPS; ni++) {
        if (ni)
            interp_read(t, interp, 0, &v);
        else {
            s->gil_addr = v.gil_addr;
            s->gc_collecting = v.collecting;
            s->gc_stats_ok = v.gc_ok;
            memcpy(s->gc_stats, v.gc, sizeof s->gc_stats);
        }
        if (!v.threads_ok)
            break;
        uint64_t tstate = v.threads;
        int64_t holder = v.holder;
        for (int nt = 0; tstate && nt < PY_MAX_THREADS; nt++) {
            int torn = 0;
            if (reader_read(&t->rd, tstate, ts, ts_size) < 0)
                break;
            struct py_thread *th = push_thread(s);
            if (!th)
                return -1;
            th->tstate = tstate;
            th->thread_id = get_u64(ts, l->ts_thread_id);
            th->tid = thread_tid(t, ts);
            th->holds_gil = holder < 0 ? -1 : (uint64_t)holder == tstate;
            th->first = s->nframes;

            uint64_t frame = get_u64(ts, l->ts_frame), cframe = 0;
            if (frame && l->cframe_current_frame != PY_NOFIELD) {
                cframe = frame;
                if (reader_ptr(&t->rd, cframe + l->cframe_current_frame, &frame) < 0)
                    frame = 0, cframe = 1;      /* unreadable */
            }
            if (cframe == 1)
                push_frame(s, NULL, -1, PY_MARK_UNREADABLE, 0);
            else if ((torn = walk_frames(t, s, tstate, cframe, frame)) < 0)
                return -1;
            th = &s->threads[s->nthreads - 1];  /* frames may have moved, not threads */
            th->torn = torn == 1;
            th->n = s->nframes - th->first;
            tstate = get_u64(ts, l->ts_next);
        }
        if (!v.next_ok)
            break;
        interp = v.next;
    }
    return 0;
}

int py_walk(struct py_target *t, struct py_snapshot *s)
{
    /* If the code cache was emptied mid-walk, earlier frames point at freed
     * entries: walk again (the second walk fits, the cache was just emptied). */
    for (int attempt = 0; attempt < 3; attempt++) {
        uint64_t gen = codecache_generation(t->codes);
        int rc = walk_once(t, s);
        if (rc < 0 || gen == codecache_generation(t->codes))
            return rc;
    }
    return -1;
}

void py_snapshot_free(struct py_snapshot *s)
{
    free(s->threads);
    free(s->frames);
    free(s->raw);
    free(s->windows);
    free(s->iov);
    free(s->check);
    free(s->piece_ci);
    free(s->memo);
    memset(s, 0, sizeof *s);
}

const char *py_frame_name(const struct py_frame *f)
{
    if (f->code)
        return f->code->name;
    return f->marker == PY_MARK_TRUNCATED ? "[truncated]" : "[unreadable]";
}

const char *py_frame_file(const struct py_frame *f)
{
    return f->code ? f->code->filename : "";
}
