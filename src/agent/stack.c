/*
 * stack.c -- the calling thread's Python stack, as a stack id of its own
 * stream, defining new frames and stacks (FRAME, STACK records) on the way.
 *
 * The walk goes through the shared frame walker over the local reader.
 * Consecutive allocations mostly come from the same stack with only the
 * innermost frame moved on, so each thread keeps its previous walk, root
 * first: the levels that are equal (frame address, code object, position)
 * at the same distance from the root keep their stack ids, and only the
 * levels after the first difference are resolved and interned.  Frame ids
 * are keyed by what a frame says (name, file, lines), so a code cache
 * refill or a code object freed and reallocated never splits or mixes
 * them; a direct-mapped cache (code, position) -> frame id skips the
 * decoding for positions seen before.  Everything here is per thread: no
 * locks.
 *
 * Which thread state is ours: found once by walking the interpreters'
 * thread lists (with reads that cannot fault, since other threads change
 * them), then cached; the cache holds while no thread state was freed
 * (agent_tstate_epoch) and the cached one still names the thread it named
 * (ours, or on 3.9-3.11 the creator of a state borrowed to run in) -- and,
 * for an allocation in a Python domain, is the one the thread runs in now:
 * a thread that enters a sub-interpreter has a state in each interpreter,
 * and its frames there are in the other one (tstate_kept, lookup_tstate).
 */
#include "agent/agent.h"
#include "cpython/walker.h"
#include "util/hash.h"
#include "util/mix.h"
#include "util/utf8.h"

#include <assert.h>
#include <string.h>
#include <unistd.h>

#define CODES_MAX 4096          /* code objects per thread cache */
/* (code, pos) -> frame id.  A hit costs ~15 instructions, a miss a line
 * lookup and the frame's strings hashed (~2000 instructions on 3.11 when
 * line tables were decoded from their start, ~1000 with linetable.h's
 * index): 512 slots missed 5.5 % of alloc_objects' lookups (a few hundred
 * positions, direct-mapped, colliding), 2048 miss 0.5 % -- then 8 % of
 * exact mode's added instructions there (cachegrind, 3.11).  32 KiB per
 * thread. */
#define FAST_SIZE 2048
/* (parent stack, code, position, entry) -> stack id, in front of the
 * frame cache and the stack table: a level that changed since the last
 * walk is then one probe instead of a frame-id lookup and a stack-table
 * probe (94 % hits, -40 instructions an event on alloc_objects,
 * callgrind, 3.11).
 * 48 KiB per thread. */
#define LEVEL_SIZE 2048
#define FIRST_DEPTH 128
#define MAX_INTERPS 64
#define BACKOFF_MAX 1024
#define SHIM_ID UINT32_MAX      /* frame_id(): not the program's, leave it out */
/* The two caches keyed by code address store it with a tag in its top 16
 * bits (user addresses stay below 2^48 unless asked for): a code object
 * freed moves the tag on, which empties both at once without touching
 * them.  They were cleared with memset, 80 KiB a thread each time: one
 * loop of the bench's pipeline (pandas, black; under a second) frees a
 * code object ~10,000 times, and those clears were 830 M of the 3.66 G
 * instructions exact mode added (cachegrind, 3.11) -- in time ~2 % of
 * its wall (a memset clears 80 KiB in microseconds; cachegrind counts
 * it byte by byte).  Cleared for real only when the tag wraps. */
#define TAG_SHIFT 48
#define TAG_ONE ((uint64_t)1 << TAG_SHIFT)

struct fast_entry {
    uint64_t code;              /* code_key(): with the tag */
    int32_t pos;                /* a position that does not fit is never cached */
    uint32_t id;
};
_Static_assert(sizeof(struct fast_entry) == 16, "four entries per cache line");

/* Valid while the stack ids and the frame cache are (cleared with it). */
struct level_entry {
    uint64_t code;              /* as fast_entry's */
    int32_t pos;                /* as fast_entry's */
    uint32_t parent;
    uint32_t entry;             /* the frame began its interpreter call */
    uint32_t id;                /* 0: empty */
};
_Static_assert(sizeof(struct level_entry) == 24, "no padding in the key");

struct frame_entry {
    uint64_t hash;              /* 0: empty slot */
    uint32_t id;
    int line, firstline, kind;
    char *name, *file;
};

struct stack_entry {
    uint64_t key;               /* parent << 32 | frame; 0: empty */
    uint32_t id;
    int entry;                  /* the frame began its interpreter call */
};

/* In front of the stack table, by the parent's id: its children looked up
 * last, (frame, entry) -> stack id.  The table is probed at a random place
 * per lookup, and in a program with tens of thousands of stacks (the
 * bench's deepstack: 62 k) that probe was a cache miss, ~60 % of the
 * walk's time (perf); a parent met again is mostly the one the last walks
 * went through, so its hints are in cache.  deepstack, 80 loops, exact,
 * 6 interleaved runs: the program's user CPU 1.88 -> 1.48 s (plain 0.88).
 * 32 bytes a stack.  Never wrong: a stack's id does not change until the
 * ids are cleared, and the hints with them. */
#define HINT_WAYS 4
struct stack_hint {
    uint32_t key[HINT_WAYS];    /* frame << 1 | entry; 0: empty (frame ids start at 1) */
    uint32_t id[HINT_WAYS];
};
_Static_assert(sizeof(struct stack_hint) == 32, "two a cache line");

struct stack_state {
    struct py_target t;         /* a copy of agent.target with its own code cache */

    uint64_t tstate;            /* ours, 0 if not known */
    uint64_t self;              /* pthread_self() of the thread that owns it */
    uint64_t tstate_id;         /* the thread id the cached state had: ours,
                                   or (3.9-3.11) the one a borrowed state has */
    uint64_t tstate_epoch;
    uint32_t miss_wait, miss_backoff;
    uint32_t current_skip;      /* Python-domain events left before the
                                   cached state is checked current again */
    /* how to tell the cached state is current, in place (tstate_kept): */
    uint64_t current_at;        /* 3.9-3.11: &gilstate.tstate_current, or 0 */
    uint64_t status_off;        /* 3.12+: _status's offset, or 0 */
    uint32_t status_active;     /*   its `active` bit */
    uint64_t code_epoch;
    uint64_t tag;               /* the caches' current tag (TAG_SHIFT), never 0 */

    struct py_raw_frame *scratch;   /* the walker's output, innermost first */
    struct py_raw_frame *last;      /* the previous walk, root first */
    uint32_t *last_stack;           /* its stack id at each level */
    size_t n_last, cap;             /* cap: frames; the last arrays hold cap + 1 */
    enum py_marker last_end;

    struct fast_entry *fast;
    struct level_entry *levels;
    struct frame_entry *frames;
    size_t frames_cap, frames_used;
    struct stack_entry *stacks;
    size_t stacks_cap, stacks_used;
    struct stack_hint *hints;       /* by stack id (0: the root), hints_cap of them */
    size_t hints_cap;
    uint32_t next_frame, next_stack;
};

/* code as the caches key it; 0 (never stored) for an address the tag
 * would overlap. */
static inline uint64_t code_key(const struct stack_state *s, uint64_t code)
{
    return code >> TAG_SHIFT ? 0 : code | s->tag;
}

/* ---- state ---- */

static int set_depth(struct stack_state *s, size_t cap)
{
    struct py_raw_frame *sc = agent_real.realloc(s->scratch, cap * sizeof *sc);
    if (!sc)
        return -1;
    s->scratch = sc;
    struct py_raw_frame *last = agent_real.realloc(s->last, (cap + 1) * sizeof *last);
    if (!last)
        return -1;
    s->last = last;
    uint32_t *ls = agent_real.realloc(s->last_stack, (cap + 1) * sizeof *ls);
    if (!ls)
        return -1;
    s->last_stack = ls;
    s->cap = cap;
    return 0;
}

/* Room for a deeper walk: four times the frames (at most PY_MAX_DEPTH), and
 * at least at_least; -1 if there can be no more. */
static int deeper(struct stack_state *s, size_t at_least)
{
    size_t grown = s->cap * 4 > PY_MAX_DEPTH ? PY_MAX_DEPTH : s->cap * 4;
    size_t want = at_least > grown ? at_least : grown;
    if (s->cap >= PY_MAX_DEPTH || want > PY_MAX_DEPTH)
        return -1;
    return set_depth(s, want);
}

static void clear_ids(struct stack_state *s)
{
    for (size_t i = 0; i < s->frames_cap; i++) {
        agent_real.free(s->frames[i].name);
        agent_real.free(s->frames[i].file);
    }
    memset(s->frames, 0, s->frames_cap * sizeof *s->frames);
    memset(s->stacks, 0, s->stacks_cap * sizeof *s->stacks);
    if (s->hints)
        memset(s->hints, 0, s->hints_cap * sizeof *s->hints);
    if (s->fast)                /* NULL: stack_new's allocation failed */
        memset(s->fast, 0, FAST_SIZE * sizeof *s->fast);
    if (s->levels)
        memset(s->levels, 0, LEVEL_SIZE * sizeof *s->levels);
    s->frames_used = s->stacks_used = 0;
    s->next_frame = s->next_stack = 1;
    s->n_last = 0;
}

static uint64_t field_end(uint64_t off, uint64_t width, uint64_t end)
{
    return off != PY_NOFIELD && off + width > end ? off + width : end;
}

/* The walker reads fr_size bytes of every frame; we walk on every event, so
 * read only up to the last field it looks at (3.9's PyFrameObject is 368
 * bytes, of which the first 112 matter). */
static void trim_frame_reads(struct py_layout *l)
{
    uint64_t end = 0;
    end = field_end(l->fr_previous, 8, end);
    end = field_end(l->fr_code, 8, end);
    end = field_end(l->fr_lasti, 4, end);
    end = field_end(l->fr_instr, 8, end);
    end = field_end(l->fr_owner, 1, end);
    end = field_end(l->fr_is_entry, 1, end);   /* 3.11: for --native's merge */
    if (end && end < l->fr_size)
        l->fr_size = end;
}

static struct stack_state *stack_new(void)
{
    struct stack_state *s = agent_real.calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t = agent.target;
    trim_frame_reads(&s->t.layout);
    s->t.codes = codecache_new(CODES_MAX);
    s->fast = agent_real.calloc(FAST_SIZE, sizeof *s->fast);
    s->levels = agent_real.calloc(LEVEL_SIZE, sizeof *s->levels);
    s->next_frame = s->next_stack = 1;
    s->code_epoch = atomic_load(&agent_code_epoch);
    s->tag = TAG_ONE;
    s->self = (uint64_t)pthread_self();     /* stack_capture: the owner makes it */
    const struct py_layout *l = &s->t.layout;
    if (l->rt_tstate_current != PY_NOFIELD) {
        s->current_at = agent.runtime + l->rt_tstate_current;
    } else if (l->ts_status != PY_NOFIELD && l->ts_status) {
        s->status_off = l->ts_status;
        s->status_active = (uint32_t)l->ts_status_active;
    }
    if (!s->t.codes || !s->fast || !s->levels || set_depth(s, FIRST_DEPTH) < 0) {
        stack_free(s);
        return NULL;
    }
    return s;
}

void stack_free(struct stack_state *s)
{
    if (!s)
        return;
    clear_ids(s);
    codecache_free(s->t.codes);
    agent_real.free(s->frames);
    agent_real.free(s->stacks);
    agent_real.free(s->hints);
    agent_real.free(s->fast);
    agent_real.free(s->levels);
    agent_real.free(s->scratch);
    agent_real.free(s->last);
    agent_real.free(s->last_stack);
    agent_real.free(s);
}

void stack_reset(struct stack_state *s)
{
    clear_ids(s);
    s->tstate = 0;
    s->miss_wait = s->miss_backoff = 0;
}

/* ---- which thread state is ours ---- */

/* A thread state names its thread by pthread_self() (every version) and,
 * from 3.11, by kernel tid too.  pthread_self() is the one to match: a
 * forked child's thread keeps its parent's, while its kernel tid changes
 * and Python updates native_thread_id only a while after the fork.  Kept
 * in the state (a thread's pthread_self() never changes, a fork's child
 * included), where the call was on every event's path. */
static uint64_t my_id(const struct stack_state *s, uint64_t *off)
{
    *off = s->t.layout.ts_thread_id;
    return s->self;
}

/* Whether the state at ts (read through r) is the one its thread runs in
 * now, for a caller that holds the GIL (a Python-domain allocation): on
 * 3.9-3.11 it is gilstate.tstate_current, the GIL holder's; on 3.12+ its
 * `active` bit is set (cleared when the thread swaps it out or releases
 * the GIL).  1 where the version says neither. */
static int is_current_at(const struct stack_state *s, struct reader *r, uint64_t ts)
{
    const struct py_layout *l = &s->t.layout;
    if (l->rt_tstate_current != PY_NOFIELD) {
        uint64_t cur;
        return reader_ptr(r, agent.runtime + l->rt_tstate_current, &cur) == 0 && cur == ts;
    }
    if (l->ts_status != PY_NOFIELD) {
        uint32_t st;
        return reader_read(r, ts + l->ts_status, &st, sizeof st) == 0 &&
               (st & (uint32_t)l->ts_status_active) != 0;
    }
    return 1;
}

/* Remember an interpreter other than the main one where a thread of ours
 * runs, so that the frees of its thread states, and of itself (3.11+ keep
 * its first thread state inside it), are spotted too (pyhooks.c's
 * note_free): a state cached after it was freed would be read, and its
 * memory may be unmapped.  0 if the state must not be cached: the table
 * is full, or the interpreter was not in it yet (a state of it freed
 * between the walk that found it and now was not spotted: the next event
 * looks again, and finds only live ones). */
static int note_interp(struct reader *r, const struct py_layout *l, uint64_t ts)
{
    uint64_t interp;
    if (reader_ptr(r, ts + l->ts_interp, &interp) < 0 || !interp)
        return 0;
    if (interp == agent.main_interp)
        return 1;
    /* 3.14 allocates an interpreter from a block aligned inside (not
     * spotted by its address): not cached there (untested; slower) */
    if (l->major != 3 || l->minor > 13)
        return 0;
    int free_at = -1;
    for (int i = 0; i < AGENT_SUB_INTERPS; i++) {
        uint64_t cur = atomic_load_explicit(&agent_sub_interps[i], memory_order_relaxed);
        if (cur == interp)
            return 1;
        if (!cur && free_at < 0)
            free_at = i;
    }
    for (int i = free_at < 0 ? AGENT_SUB_INTERPS : free_at; i < AGENT_SUB_INTERPS; i++) {
        uint64_t cur = 0;
        if (atomic_compare_exchange_strong(&agent_sub_interps[i], &cur, interp)) {
            atomic_store(&agent_sub_interps_any, 1);
            return 0;
        }
        if (cur == interp)
            return 1;
    }
    return 0;
}

/* This thread's state: with `gil`, the current one if it can be found (a
 * thread in a sub-interpreter has a state in each interpreter it entered),
 * else the first one that names this thread.  *kept: 0 if it must not be
 * cached (its interpreter could not be remembered: note_interp). */
static uint64_t lookup_tstate(struct stack_state *s, int gil, int *kept)
{
    const struct py_layout *l = &s->t.layout;
    struct reader r = agent.safe_reads ? reader_remote(getpid()) : reader_local();
    uint64_t off, want = my_id(s, &off), interp, found = 0, first = 0, id;
    /* 3.9-3.11: the GIL holder's state is the one we run in, even one
     * that names another thread: the sub-interpreters module of 3.9-3.12
     * runs a string in an interpreter under its first state, whoever
     * created it, when another thread asks (3.12's case is not seen:
     * that state is active, but names its creator; 3.13 makes one per
     * thread) */
    if (gil && l->rt_tstate_current != PY_NOFIELD) {
        uint64_t cur;
        if (reader_ptr(&r, agent.runtime + l->rt_tstate_current, &cur) == 0 && cur &&
            reader_ptr(&r, cur + off, &id) == 0) {
            found = cur;
            s->tstate_id = id;
        }
    }
    if (!found && reader_ptr(&r, agent.runtime + l->rt_interpreters_head, &interp) == 0) {
        for (int ni = 0; interp && !found && ni < MAX_INTERPS; ni++) {
            uint64_t ts;
            if (reader_ptr(&r, interp + l->is_threads_head, &ts) < 0)
                break;
            for (int nt = 0; ts && nt < PY_MAX_THREADS; nt++) {
                if (reader_ptr(&r, ts + off, &id) < 0)
                    break;
                if (id == want) {
                    if (!gil || l->ts_status == PY_NOFIELD || is_current_at(s, &r, ts)) {
                        found = ts;
                        s->tstate_id = id;
                        break;
                    }
                    if (!first)
                        first = ts;
                }
                if (reader_ptr(&r, ts + l->ts_next, &ts) < 0)
                    break;
            }
            if (!found && reader_ptr(&r, interp + l->is_next, &interp) < 0)
                break;
        }
    }
    if (!found) {
        found = first;
        s->tstate_id = want;
    }
    *kept = !found || note_interp(&r, l, found);
    return found;
}

/* Python-domain events after a look that found no current state, before
 * the next look: such a look walks every interpreter's threads, and an
 * allocation in a Python domain without the GIL (a bug of its caller) or
 * in the middle of a swap would otherwise make one per event. */
#define CURRENT_SKIP 256

/* The cached thread state still holds: none freed since, and it still
 * names the thread it named (tstate_id) -- and, for a Python-domain
 * allocation (gil: its caller holds the GIL), it is the one the thread
 * runs in: on 3.9-3.11 the GIL holder's (which also says it is still
 * that state: the id is not read), on 3.12+ one whose `active` bit is set
 * (and which names that thread: a state freed in place -- 3.11+'s first
 * state of an interpreter is inside it -- may be another thread's now).
 * Inline: stack_capture's fast path asks it too. */
static inline int tstate_kept(struct stack_state *s, int gil)
{
    if (!s->tstate ||
        s->tstate_epoch != atomic_load_explicit(&agent_tstate_epoch, memory_order_relaxed))
        return 0;
    if (gil) {
        int current = 1;
        if (s->current_at) {
            uint64_t cur;
            memcpy(&cur, (const void *)(uintptr_t)s->current_at, sizeof cur);
            if (LIKELY(cur == s->tstate))
                return 1;
            current = 0;
        } else if (s->status_off) {
            uint32_t st;
            memcpy(&st, (const void *)(uintptr_t)(s->tstate + s->status_off), sizeof st);
            current = (st & s->status_active) != 0;
        }
        if (UNLIKELY(!current)) {
            if (!s->current_skip)
                return 0;
            s->current_skip--;  /* none current found lately: the id, below */
        }
    }
    uint64_t id;
    memcpy(&id, (const void *)(uintptr_t)(s->tstate + s->t.layout.ts_thread_id), sizeof id);
    return id == s->tstate_id;
}

static uint64_t find_tstate(struct stack_state *s, int gil)
{
    uint64_t epoch = atomic_load_explicit(&agent_tstate_epoch, memory_order_relaxed);
    if (tstate_kept(s, gil))
        return s->tstate;
    if (s->tstate_epoch == epoch && !s->tstate && s->miss_wait) {
        s->miss_wait--;                 /* not a Python thread (yet): ask again later */
        return 0;
    }
    int kept;
    s->tstate_epoch = epoch;
    s->tstate = lookup_tstate(s, gil, &kept);
    if (!kept)
        s->tstate_epoch = epoch - 1;    /* looked up again at the next event */
    if (s->tstate) {
        s->miss_backoff = 0;
        /* a look for another event may have found a state that is not
         * current (the first that names us): the next Python-domain event
         * checks it */
        s->current_skip = 0;
        if (gil) {
            struct reader r = agent.safe_reads ? reader_remote(getpid()) : reader_local();
            if (!is_current_at(s, &r, s->tstate))
                s->current_skip = CURRENT_SKIP;
        }
    } else {
        s->miss_backoff = s->miss_backoff ? s->miss_backoff * 2 : 4;
        if (s->miss_backoff > BACKOFF_MAX)
            s->miss_backoff = BACKOFF_MAX;
        s->miss_wait = s->miss_backoff;
    }
    return s->tstate;
}

/* ---- ids ---- */

static char *dup_n(const char *s, size_t n)
{
    char *d = agent_real.malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int emit_frame(struct agent_thread *th, const struct frame_entry *e, uint64_t ts)
{
    struct wire_frame r = {
        .id = e->id,
        .line = e->line > 0 ? (uint64_t)e->line : 0,
        .first_line = e->firstline > 0 ? (uint64_t)e->firstline : 0,
        .kind = (uint64_t)e->kind,
        .name = { e->name, strlen(e->name) },
        .file = { e->file, strlen(e->file) },
    };
    uint8_t *w = chunk_reserve(th, wire_size_frame(&r), ts);
    if (!w)
        return -1;
    chunk_commit(th, wire_put_frame(w, &r));
    return 0;
}

static int grow_frames(struct stack_state *s)
{
    size_t ncap = s->frames_cap ? s->frames_cap * 2 : 256;
    struct frame_entry *nf = agent_real.calloc(ncap, sizeof *nf);
    if (!nf)
        return -1;
    for (size_t i = 0; i < s->frames_cap; i++) {
        if (!s->frames[i].hash)
            continue;
        size_t j = s->frames[i].hash & (ncap - 1);
        while (nf[j].hash)
            j = (j + 1) & (ncap - 1);
        nf[j] = s->frames[i];
    }
    agent_real.free(s->frames);
    s->frames = nf;
    s->frames_cap = ncap;
    return 0;
}

/* The id of the frame (name, file, firstline, line, kind); 0 on failure. */
static uint32_t frame_intern(struct stack_state *s, struct agent_thread *th, const char *name,
                             const char *file, int firstline, int line, int kind, uint64_t ts)
{
    size_t nl = utf8_cut(name, strlen(name), WIRE_NAME_MAX);
    size_t fl = utf8_cut(file, strlen(file), WIRE_FILE_MAX);
    uint64_t h = mix64(util_hash_str_from(util_hash_str(name), file) ^
                     ((uint64_t)(uint32_t)line << 32 | (uint32_t)firstline) ^
                     (uint64_t)kind << 60) | 1;
    if ((s->frames_used + 1) * 2 > s->frames_cap && grow_frames(s) < 0)
        return 0;
    size_t i = h & (s->frames_cap - 1);
    for (; s->frames[i].hash; i = (i + 1) & (s->frames_cap - 1)) {
        struct frame_entry *e = &s->frames[i];
        if (e->hash == h && e->line == line && e->firstline == firstline && e->kind == kind &&
            strncmp(e->name, name, nl) == 0 && e->name[nl] == 0 &&
            strncmp(e->file, file, fl) == 0 && e->file[fl] == 0)
            return e->id;
    }
    struct frame_entry e = { h, s->next_frame, line, firstline, kind, dup_n(name, nl),
                             dup_n(file, fl) };
    if (!e.name || !e.file || emit_frame(th, &e, ts) < 0) {
        agent_real.free(e.name);
        agent_real.free(e.file);
        return 0;
    }
    s->next_frame++;
    s->frames[i] = e;
    s->frames_used++;
    return e.id;
}

static uint32_t marker_frame(struct stack_state *s, struct agent_thread *th,
                             enum py_marker m, uint64_t ts)
{
    if (m == PY_MARK_TRUNCATED)
        return frame_intern(s, th, "[truncated]", "", 0, 0, AGENT_FRAME_SYNTHETIC, ts);
    return frame_intern(s, th, "[unreadable]", "", 0, 0, AGENT_FRAME_SYNTHETIC, ts);
}

/* pos: py_raw_pos(f) */
static uint32_t frame_id(struct stack_state *s, struct agent_thread *th,
                         const struct py_raw_frame *f, int64_t pos, uint64_t ts)
{
    struct fast_entry *fe = &s->fast[mix64(f->code ^ ((uint64_t)pos << 40)) & (FAST_SIZE - 1)];
    uint64_t key = code_key(s, f->code);
    if (fe->id && fe->code == key && fe->pos == pos)
        return fe->id;          /* fe->pos widens: a position past INT32_MAX never matches */
    int line;
    const struct code_info *ci = py_resolve(&s->t, f, &line);
    if (!ci)
        return marker_frame(s, th, PY_MARK_UNREADABLE, ts);
    uint32_t id = ci->shim ? SHIM_ID
                           : frame_intern(s, th, ci->name, ci->filename, ci->firstlineno,
                                          line, AGENT_FRAME_PYTHON, ts);
    if (id && key && pos == (int32_t)pos)
        *fe = (struct fast_entry){ key, (int32_t)pos, id };
    return id;
}

static int grow_stacks(struct stack_state *s)
{
    size_t ncap = s->stacks_cap ? s->stacks_cap * 2 : 1024;
    struct stack_entry *ns = agent_real.calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < s->stacks_cap; i++) {
        if (!s->stacks[i].key)
            continue;
        size_t j = mix64(s->stacks[i].key) & (ncap - 1);
        while (ns[j].key)
            j = (j + 1) & (ncap - 1);
        ns[j] = s->stacks[i];
    }
    agent_real.free(s->stacks);
    s->stacks = ns;
    s->stacks_cap = ncap;
    return 0;
}

/* Room for the hints of stack ids up to `id`; -1 if none could be made
 * (the hints are then only not used). */
static int grow_hints(struct stack_state *s, uint32_t id)
{
    size_t ncap = s->hints_cap ? s->hints_cap : 1024;
    while (ncap <= id)
        ncap *= 2;
    struct stack_hint *nh = agent_real.realloc(s->hints, ncap * sizeof *nh);
    if (!nh)
        return -1;
    memset(nh + s->hints_cap, 0, (ncap - s->hints_cap) * sizeof *nh);
    s->hints = nh;
    s->hints_cap = ncap;
    return 0;
}

/* The id of (parent, frame, entry) in the stack table, made (and sent as
 * a STACK) if new; 0 on failure.  entry is part of the stack: where a
 * native stack's interpreter call goes (wire.h STACK). */
static uint32_t stack_find(struct stack_state *s, struct agent_thread *th, uint32_t parent,
                           uint32_t frame, int entry, uint64_t ts)
{
    uint64_t key = (uint64_t)parent << 32 | frame;
    if ((s->stacks_used + 1) * 2 > s->stacks_cap && grow_stacks(s) < 0)
        return 0;
    size_t i = mix64(key) & (s->stacks_cap - 1);
    for (; s->stacks[i].key; i = (i + 1) & (s->stacks_cap - 1))
        if (s->stacks[i].key == key && s->stacks[i].entry == entry)
            return s->stacks[i].id;
    uint8_t *w = chunk_reserve(th, WIRE_FIXED_STACK, ts);
    if (!w)
        return 0;
    uint32_t id = s->next_stack++;
    chunk_commit(th, wire_put_stack(w, &(struct wire_stack){ id, parent, frame,
                                                            (uint64_t)(entry != 0) }));
    s->stacks[i] = (struct stack_entry){ key, id, entry != 0 };
    s->stacks_used++;
    return id;
}

/* stack_find through the parent's hints.  Ids are made in order, so a
 * parent's is below its children's: hints that hold a child's id hold its
 * parent's. */
static uint32_t stack_intern(struct stack_state *s, struct agent_thread *th, uint32_t parent,
                             uint32_t frame, int entry, uint64_t ts)
{
    int hintable = frame < (1u << 31);      /* hk keeps frame's 31 low bits */
    uint32_t hk = frame << 1 | (entry != 0);
    if (hintable && parent < s->hints_cap) {
        const struct stack_hint *h = &s->hints[parent];
        for (int j = 0; j < HINT_WAYS; j++)
            if (h->key[j] == hk)
                return h->id[j];
    }
    uint32_t id = stack_find(s, th, parent, frame, entry, ts);
    if (!id || !hintable || (id >= s->hints_cap && grow_hints(s, id) < 0))
        return id;
    assert(parent < id);
    struct stack_hint *h = &s->hints[parent];
    int j = 0;
    while (j < HINT_WAYS && h->key[j])
        j++;
    if (j == HINT_WAYS)
        j = (int)(frame & (HINT_WAYS - 1));     /* full: replace one */
    h->key[j] = hk;
    h->id[j] = id;
    return id;
}

/* ---- the shadow (evalhook.c): where a walk may stop ---- */

/* The newest evaluation whose frame a walk found since the last walk was
 * redone: 1 + its index, or 0 if none.  Its frame is then at the same
 * level as then, and every level below it is as last walked (the
 * evaluation still runs, so its callers wait).  Usually the top one, or
 * the one below when a new call was just pushed. */
static uint32_t shadow_top(const struct stack_state *s, const struct agent_shadow *sh)
{
    for (uint32_t i = sh->depth; i > 0; i--) {
        const struct shadow_entry *e = &sh->entries[i - 1];
        if (e->gen == sh->gen)
            return e->level < s->n_last ? i : 0;
    }
    return 0;
}

/* After a walk of `levels` levels, scratch[0..n) innermost first: stamp
 * the entries whose frames it found with their levels.  A walk that
 * stopped at entry top - 1 stamps the entries above it; a whole walk
 * starts a new generation (the old stamps may describe another chain) and
 * stamps all, unless it was cut short (its levels are not the chain's).
 * The entries are in the chain's order: one pass over both, top down and
 * innermost up; an entry whose frame is not met (another greenlet's, a
 * frame swapped in) stays unstamped, and so do those below it. */
static void shadow_stamp(struct stack_state *s, struct agent_shadow *sh, uint32_t top,
                         size_t levels, int n, int stopped, enum py_marker end)
{
    if (!sh->depth)
        return;
    if (!stopped) {
        if (!++sh->gen)
            sh->gen = 1;
        if (end != PY_MARK_NONE)
            return;
    }
    uint32_t j = sh->depth;
    int i = 0, lim = stopped == 1 ? n - 1 : n;  /* stopped == 1: scratch[n-1] is top's */
    for (; j > top && i < lim; i++) {
        struct shadow_entry *e = &sh->entries[j - 1];
        if (s->scratch[i].addr == e->frame) {
            e->level = (uint32_t)(levels - 1 - (size_t)i);
            e->gen = sh->gen;
            j--;
        }
    }
    for (; j > top; j--)
        sh->entries[j - 1].gen = 0;
}

/* ---- the walk ---- */

/* The same frame at the same place: with the same code, the same
 * instruction pointer (or f_lasti) is the same position. */
static int raw_eq(const struct py_raw_frame *a, const struct py_raw_frame *b)
{
    return a->addr == b->addr && a->code == b->code && a->instr == b->instr;
}

/* The same, for interpreter frames (3.11+), whose instruction pointer is
 * an address inside their code object (its bytecode, or 2 bytes before it
 * while not started): two code objects alive at once do not overlap, and
 * one freed since the last walk emptied that walk (agent_code_epoch), so
 * the same pointer is the same code.  One compare a level less. */
static int raw_eq_ip(const struct py_raw_frame *a, const struct py_raw_frame *b)
{
    return a->addr == b->addr && a->instr == b->instr;
}

/* Where the frame at `frame` is now, read in place, into f (a copy of
 * its last walk: the rest stays): its instruction, and for frame objects
 * its code (an interpreter frame's instruction pointer says the code). */
static inline void place_of(const struct py_layout *l, uint64_t frame, struct py_raw_frame *f)
{
    const uint8_t *fp = (const uint8_t *)(uintptr_t)frame;
    if (l->frame_model == PY_FRAMES_OBJECT) {
        int32_t lasti;
        memcpy(&lasti, fp + l->fr_lasti, sizeof lasti);
        memcpy(&f->code, fp + l->fr_code, sizeof f->code);
        f->code &= ~(uint64_t)3;
        f->instr = (uint64_t)(int64_t)lasti;
    } else {
        memcpy(&f->instr, fp + l->fr_instr, sizeof f->instr);
    }
}

/* The frame at `frame` is at the place last walked: raw_eq or raw_eq_ip
 * without a walk (the addresses are equal). */
static inline int same_place(const struct py_layout *l, uint64_t frame,
                             const struct py_raw_frame *last)
{
    struct py_raw_frame now = *last;
    place_of(l, frame, &now);
    return now.instr == last->instr && now.code == last->code;
}

/* The levels table's slot for a frame of code `code` at pos over the
 * stack `parent`, and whether it holds that level (ck: code_key(code)):
 * capture()'s and moved_within()'s one lookup. */
static inline struct level_entry *level_slot(struct stack_state *s, uint64_t code, int64_t pos,
                                             uint32_t parent)
{
    return &s->levels[mix64(code ^ ((uint64_t)pos << 40) ^ ((uint64_t)parent << 20)) &
                      (LEVEL_SIZE - 1)];
}

static inline int level_holds(const struct level_entry *le, uint64_t ck, int64_t pos,
                              uint32_t parent, int entry)
{
    return le->id && le->code == ck && le->pos == pos && le->parent == parent &&
           le->entry == (uint32_t)(entry != 0);
}

/* The next case: the same frame, stamped, moved on to another place (a
 * loop's next line): the levels below are as last walked (the shadow's
 * promise), so the stack is the innermost level's entry in the levels
 * table over its caller's id -- what capture() finds after a walk of one
 * frame and a compare of every level below.  0: not there (capture()
 * then interns it).  json_dumps (3.11): a sixth of the stacks taken,
 * ~600 instructions each in capture(). */
static inline uint32_t moved_within(struct stack_state *s, struct agent_shadow *sh,
                                    uint64_t frame, size_t k)
{
    const struct py_layout *l = &s->t.layout;
    struct py_raw_frame f = s->last[k];
    place_of(l, frame, &f);
    int64_t pos = py_raw_pos(l, &f);
    uint32_t parent = k ? s->last_stack[k - 1] : 0;
    const struct level_entry *le = level_slot(s, f.code, pos, parent);
    uint64_t ck = code_key(s, f.code);
    if (!level_holds(le, ck, pos, parent, f.entry))
        return 0;
    s->last[k] = f;
    s->last_stack[k] = le->id;
    sh->levels += k + 1;
    sh->walked += 1;                /* one frame read: evalhook.c weighs it */
    return le->id;
}

/* capture()'s `how`: the event's gil (stack_capture), and whether
 * tstate_kept() has just said yes (the fast path asked it: not twice) */
#define CAPTURE_GIL 1
#define CAPTURE_KEPT 2

static __attribute__((noinline)) uint32_t capture(struct agent_thread *th, uint64_t ts, int how)
{
    if (atomic_load_explicit(&agent_finalizing, memory_order_relaxed) || !agent.python)
        return 0;
    struct stack_state *s = th->stack;
    if (!s && !(s = th->stack = stack_new()))
        return 0;

    uint64_t ce = atomic_load_explicit(&agent_code_epoch, memory_order_relaxed);
    if (UNLIKELY(ce != s->code_epoch)) {
        /* a code object was freed: its address may now hold another.  The
         * code cache checks each entry's identity itself (codecache.h); the
         * (code, position) -> frame shortcut and the last walk cannot */
        s->tag += TAG_ONE;
        if (UNLIKELY(!s->tag)) {        /* wrapped: old tags would match again */
            memset(s->fast, 0, FAST_SIZE * sizeof *s->fast);
            memset(s->levels, 0, LEVEL_SIZE * sizeof *s->levels);
            s->tag = TAG_ONE;
        }
        s->n_last = 0;
        s->code_epoch = ce;
    }

    uint64_t tstate = how & CAPTURE_KEPT ? s->tstate : find_tstate(s, how & CAPTURE_GIL), frame;
    if (!tstate || py_thread_frame(&s->t, tstate, &frame) < 0 || !frame)
        return 0;
    struct agent_shadow *sh = &th->shadow;
    if (UNLIKELY(atomic_load_explicit(&agent_eval_paused, memory_order_relaxed) |
                 atomic_load_explicit(&agent_eval_owed, memory_order_relaxed)))
        evalhook_capture();
    enum py_marker end;
    int n = 0, met = 0, stopped = 0;
    size_t base = 0;            /* stopped: the levels below, as last walked */
    uint32_t top = shadow_top(s, sh);
    if (top) {
        const struct shadow_entry *e = &sh->entries[top - 1];
        base = e->level;
        for (;;) {
            n = py_walk_raw_to(&s->t, frame, e->frame, s->scratch, s->cap, &end, &met);
            /* else room for the frames above it, and the levels below */
            if ((met ? base + (size_t)n <= s->cap : end != PY_MARK_TRUNCATED) ||
                deeper(s, met ? base + (size_t)n : 0) < 0)
                break;
        }
        stopped = met && base + (size_t)n <= s->cap ? met : 0;
        if (stopped == 1)
            s->scratch[n - 1].entry = 1;    /* an evaluation began there (3.12+: its shim) */
    }
    if (!stopped) {
        /* a walk that missed the frame, but was not cut short, is the whole walk */
        int have = top && !met && end != PY_MARK_TRUNCATED;
        top = 0;
        base = 0;
        for (;; have = 0) {
            if (!have)
                n = py_walk_raw(&s->t, frame, s->scratch, s->cap, &end);
            if (end != PY_MARK_TRUNCATED || (size_t)n < s->cap || deeper(s, 0) < 0)
                break;
        }
    }
    size_t m = stopped ? 0 : end != PY_MARK_NONE, levels = m + base + (size_t)n;
    if (!levels)
        return 0;
    sh->levels += levels;       /* evalhook.c weighs what the walks were spared */
    sh->walked += (size_t)n;

    size_t common = 0;
    if (stopped || (end == s->last_end && s->n_last >= m)) {
        /* root first: scratch is innermost first, last root first; a walk
         * that stopped has the levels below its stop as last walked */
        size_t lim = levels < s->n_last ? levels : s->n_last;
        const struct py_raw_frame *now = s->scratch + (levels - 1);
        common = stopped ? base : m;
        if (s->t.layout.frame_model == PY_FRAMES_OBJECT) {
            while (common < lim && raw_eq(now - common, &s->last[common]))
                common++;
        } else {
            while (common < lim && raw_eq_ip(now - common, &s->last[common]))
                common++;
        }
    }
    uint32_t parent = common ? s->last_stack[common - 1] : 0;
    for (size_t k = common; k < levels; k++) {
        uint32_t fid;
        struct level_entry *le = NULL;
        int64_t pos = 0;
        uint64_t ck = 0;            /* code_key() of the level's code */
        if (k < m) {
            fid = marker_frame(s, th, end, ts);
            s->last[k] = (struct py_raw_frame){ .instr = (uint64_t)end };
        } else {
            const struct py_raw_frame *f = &s->scratch[levels - 1 - k];
            s->last[k] = *f;
            pos = py_raw_pos(&s->t.layout, f);
            le = level_slot(s, f->code, pos, parent);
            ck = code_key(s, f->code);
            if (level_holds(le, ck, pos, parent, f->entry)) {
                s->last_stack[k] = parent = le->id;
                continue;
            }
            fid = frame_id(s, th, f, pos, ts);
        }
        uint32_t from = parent;
        if (fid != SHIM_ID)
            parent = fid ? stack_intern(s, th, parent, fid, s->last[k].entry, ts) : 0;
        if (!parent && fid != SHIM_ID) {
            s->n_last = 0;          /* out of memory or switched off */
            return 0;
        }
        s->last_stack[k] = parent;
        /* a shim keeps its caller's id; 0 (a shim at the root) is no id */
        if (le && parent && ck && pos == (int32_t)pos)
            *le = (struct level_entry){ ck, (int32_t)pos, from,
                                        (uint32_t)(s->last[k].entry != 0), parent };
    }
    s->n_last = levels;
    s->last_end = end;
    shadow_stamp(s, sh, top, levels, n, stopped, end);
    return parent;
}

/* The commonest case first, in a function of its own (capture's prologue
 * was ~18 instructions an event): the allocation comes from the frame the
 * last walk ended in, the newest evaluation's, stamped, at the place last
 * walked -- a C function allocating, a loop.  The same checks as
 * capture's own (the thread state is still ours, no code object freed),
 * read in place. */
uint32_t stack_capture(struct agent_thread *th, uint64_t ts, int gil)
{
    struct stack_state *s = th->stack;
    struct agent_shadow *sh = &th->shadow;
    if (LIKELY(s && sh->depth &&
               s->code_epoch == atomic_load_explicit(&agent_code_epoch, memory_order_relaxed) &&
               !atomic_load_explicit(&agent_finalizing, memory_order_relaxed) && tstate_kept(s, gil))) {
        const struct py_layout *l = &s->t.layout;
        const struct shadow_entry *e = &sh->entries[sh->depth - 1];
        uint64_t frame;     /* py_thread_frame, in place */
        memcpy(&frame, (const void *)(uintptr_t)(s->tstate + l->ts_frame), sizeof frame);
        if (frame && l->cframe_current_frame != PY_NOFIELD)      /* 3.11/3.12 */
            memcpy(&frame, (const void *)(uintptr_t)(frame + l->cframe_current_frame),
                   sizeof frame);
        if (frame && e->frame == frame && e->gen == sh->gen &&
            (size_t)e->level + 1 == s->n_last) {
            if (same_place(l, frame, &s->last[e->level])) {
                sh->levels += e->level + 1;
                return s->last_stack[e->level];
            }
            uint32_t id = moved_within(s, sh, frame, e->level);
            if (id)
                return id;
        }
        return capture(th, ts, (gil ? CAPTURE_GIL : 0) | CAPTURE_KEPT);
    }
    return capture(th, ts, gil ? CAPTURE_GIL : 0);
}
