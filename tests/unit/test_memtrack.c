/*
 * test_memtrack.c -- agent event streams in, per-stack memory metrics out:
 * allocated, peak (what each stack held when the heap peaked), leaked (live
 * when finalizing began), temporary, sampled estimates, malformed chunks
 * refused, anonymous mappings counted by their resident pages (real
 * mappings of this process, measured through its own pagemap, or as the
 * agent measured them: RESIDENT), blocks
 * freed within their chunk (ALLOC_LOCAL, FREE_LOCAL) counted exactly as an
 * ALLOC and a FREE, growth points (a bucket's value whether or not its
 * stack was visited at its end), a thread's ids forgotten when its tid starts a new
 * stream, and --native's merge of a native stack (pcs of this
 * very program, named from its own symbols) with a Python one.  Chunks are
 * built with the agent's encoders (wire.h).
 */
#include "check.h"
#include "wire/wire.h"
#include "capture/capture.h"
#include "memory/memtrack.h"

#include <link.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct chunk {
    uint8_t b[AGENT_CHUNK_MAX];
    size_t n;
    struct wire_last last;          /* the chunk's last D fields (wire.h) */
    uint64_t last_alloc;            /* as the agent's: a free of it is a temporary */
};

static void begin_at(struct chunk *c, int32_t pid, int32_t tid, uint64_t t_ns)
{
    c->n = sizeof(struct agent_chunk_header);
    c->last = (struct wire_last){ 0, 0 };
    c->last_alloc = 0;
    wire_put_header(c->b, 0, c->n, pid, tid, t_ns);
}

static void begin(struct chunk *c, int32_t pid, int32_t tid)
{
    begin_at(c, pid, tid, 1000);
}

static void frame(struct chunk *c, uint64_t id, const char *name, uint64_t line)
{
    struct wire_frame r = { id, line, line, AGENT_FRAME_PYTHON, { name, strlen(name) },
                            { "prog.py", 7 } };
    c->n = (size_t)(wire_put_frame(c->b + c->n, &r) - c->b);
}

static void stack(struct chunk *c, uint64_t id, uint64_t parent, uint64_t fr)
{
    c->n = (size_t)(wire_put_stack(c->b + c->n, &(struct wire_stack){ id, parent, fr, 0 }) - c->b);
}

/* A one-frame stack: frame `id` named `name`, and stack `id` of it alone. */
static void root(struct chunk *c, uint64_t id, const char *name, uint64_t line)
{
    frame(c, id, name, line);
    stack(c, id, 0, id);
}

static void alloc_by(struct chunk *c, uint64_t allocator, uint64_t addr, uint64_t size,
                     uint64_t st)
{
    struct wire_alloc r = { allocator, addr, size, st, 0, 0 };
    c->n = (size_t)(wire_put_alloc_after(c->b + c->n, &c->last, &r) - c->b);
    c->last_alloc = addr;
}

/* WIRE_TEMPORARY if addr was the chunk's last allocation (the agent's
 * test, per thread; a test's thread starts afresh with each chunk). */
static uint64_t temporary(struct chunk *c, uint64_t addr)
{
    if (c->last_alloc != addr)
        return 0;
    c->last_alloc = 0;
    return WIRE_TEMPORARY;
}

static void alloc(struct chunk *c, uint64_t addr, uint64_t size, uint64_t st)
{
    alloc_by(c, AGENT_ALLOC_MALLOC, addr, size, st);
}

static void free_by(struct chunk *c, uint64_t allocator, uint64_t addr)
{
    struct wire_free r = { allocator | temporary(c, addr), addr, 0 };
    c->n = (size_t)(wire_put_free_after(c->b + c->n, &c->last, &r) - c->b);
}

static void fre(struct chunk *c, uint64_t addr)
{
    free_by(c, AGENT_ALLOC_MALLOC, addr);
}

static void finalizing(struct chunk *c)
{
    c->n = (size_t)(wire_put_finalizing(c->b + c->n, &(struct wire_finalizing){ 0 }) - c->b);
}

static void sampled(struct chunk *c, uint64_t mean)
{
    c->n = (size_t)(wire_put_sampled(c->b + c->n, &(struct wire_sampled){ mean }) - c->b);
}

static void resident(struct chunk *c, uint64_t addr, uint64_t bytes)
{
    struct wire_resident r = { addr, bytes, 0 };
    c->n = (size_t)(wire_put_resident(c->b + c->n, &r) - c->b);
}

static void end(struct chunk *c)
{
    uint16_t len = (uint16_t)c->n;
    memcpy(c->b + offsetof(struct agent_chunk_header, len), &len, 2);
}

static void load(const char *path, struct capture *cap)
{
    char err[200];
    CHECK_EQ_INT(capture_load(path, cap, err, sizeof err), 0);
}

/* The run ends at end_ns: memtrack's last records written, the capture
 * closed, then read back into *cap. */
static void finish_and_load(struct memtrack *m, struct capture_writer *w, uint64_t end_ns,
                            const char *path, struct capture *cap)
{
    memtrack_finish(m, end_ns, 0, 0);
    memtrack_free(m);
    CHECK_EQ_INT(capw_close(w, end_ns), 0);
    load(path, cap);
}

/* metrics of the stack whose innermost frame is called `name` */
static const struct cap_mem_stack *by_name(const struct capture *cap, const char *name)
{
    for (size_t i = 0; i < cap->nmem; i++) {
        uint32_t fr = cap->stacks[cap->mem[i].stack].frame;
        if (!strcmp(cap->strings[cap->frames[fr].function], name))
            return &cap->mem[i];
    }
    return NULL;
}

/* The growth of the stack whose innermost frame is called `name`. */
static const struct cap_mem_growth *growth_of(const struct capture *cap, const char *name)
{
    for (size_t i = 0; i < cap->ngrowth; i++) {
        uint32_t fr = cap->stacks[cap->growth[i].stack].frame;
        if (!strcmp(cap->strings[cap->frames[fr].function], name))
            return &cap->growth[i];
    }
    return NULL;
}

static void check_growth(const struct capture *cap, const char *name, uint32_t n,
                         const uint64_t *want)
{
    const struct cap_mem_growth *g = growth_of(cap, name);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_EQ_INT(g->n, n);
    CHECK_EQ_INT(g->bucket_ns, 100000000);
    for (uint32_t i = 0; i < n && i < g->n; i++)
        CHECK_EQ_INT(g->live[i], want[i]);
}

/* Growth points over 3.5 s of ticks every 50 ms (70 buckets of 50 ms: one
 * merge into 100 ms ones): a stack that never changes after its first
 * point, one that changes now and then, and one whose process finalizes
 * midway (its points stop there).  A bucket's value is what the stack held
 * at its end, whether or not the stack was visited then (memtrack.c visits
 * only the stacks that moved, and fills the others in). */
static void growth_points(const char *path)
{
    const uint64_t ms = 1000000;
    struct capture_writer *w = capw_open(path, 10000000);
    struct memtrack *m = memtrack_new(w, 0);
    struct chunk c;
    begin_at(&c, 100, 11, ms / 2);
    root(&c, 1, "steady", 1);
    root(&c, 2, "moving", 2);
    alloc(&c, 0x1000, 100, 1);
    alloc(&c, 0x2000, 10, 2);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    begin_at(&c, 200, 21, ms / 2);
    root(&c, 1, "gone", 3);
    alloc(&c, 0x5000, 7, 1);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    for (uint64_t k = 1; k <= 70; k++) {
        /* just before the k-th tick, which ends bucket k - 1 */
        if (k == 10 || k == 20) {
            begin_at(&c, 100, 11, k * 50 * ms);
            if (k == 10)
                alloc(&c, 0x3000, 20, 2);           /* moving: 30 from bucket 9 */
            else
                fre(&c, 0x2000);                    /* moving: 20 from bucket 19 */
            end(&c);
            CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
        }
        if (k == 30) {
            begin_at(&c, 200, 21, k * 50 * ms);
            finalizing(&c);                         /* gone: buckets 0-28 only */
            end(&c);
            CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
        }
        memtrack_tick(m, k * 50 * ms + ms);
    }
    struct capture cap;
    finish_and_load(m, w, 3600 * ms, path, &cap);
    /* 64 buckets of 50 ms merged in pairs (each keeps its later value) into
     * 32 of 100 ms, then 3 more (ends at 3.3, 3.4 and 3.5 s) */
    uint64_t steady[35], moving[35], gone[15];
    for (int i = 0; i < 35; i++) {
        steady[i] = 100;
        moving[i] = i < 4 ? 10 : i < 9 ? 30 : 20;   /* 50 ms buckets 9 and 19 */
    }
    for (int i = 0; i < 15; i++)
        gone[i] = 7;                                /* 29 buckets, merged: 15 */
    check_growth(&cap, "steady", 35, steady);
    check_growth(&cap, "moving", 35, moving);
    check_growth(&cap, "gone", 15, gone);
    capture_free(&cap);
}

/* Three real mappings of ours: untouched, half touched, fully touched;
 * then the untouched one is touched and all are unmapped.  The heap counts
 * what is resident, the mapped figures keep the whole sizes.  A fourth,
 * small (under WIRE_MAPPING_MEASURED_MIN) and untouched, counts whole, as
 * any block, and in no mapped figure. */
static void mappings(const char *path)
{
    const size_t len = WIRE_MAPPING_MEASURED_MIN, small = len / 16;
    _Static_assert(WIRE_MAPPING_MEASURED_MIN % (32 * 4096) == 0, "whole pages, halves, sixteenths");
    uint8_t *r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = mmap(NULL, i == 3 ? small : len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(r[i] != MAP_FAILED);
        if (r[i] == MAP_FAILED)
            return;
    }
    memset(r[1], 1, len / 2);
    memset(r[2], 1, len);
    int32_t pid = (int32_t)getpid();
    struct capture_writer *w = capw_open(path, 10000000);
    struct memtrack *m = memtrack_new(w, 0);
    struct chunk c;
    begin(&c, pid, pid);
    root(&c, 1, "reserve", 1);
    root(&c, 2, "half", 2);
    root(&c, 3, "full", 3);
    root(&c, 4, "small", 4);
    for (int i = 0; i < 4; i++)
        alloc_by(&c, AGENT_ALLOC_MMAP, (uint64_t)(uintptr_t)r[i], i == 3 ? small : len,
                 (uint64_t)i + 1);
    alloc(&c, 0x1000, 1000, 1);                 /* an ordinary block counts whole */
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    struct cap_timeline_point now;
    memtrack_now(m, &now);                      /* not measured yet: nothing resident */
    CHECK_EQ_INT(now.heap_bytes, 1000 + small);
    CHECK_EQ_INT(now.mapped_bytes, 3 * len);
    memtrack_tick(m, 2000);
    memtrack_now(m, &now);
    CHECK_EQ_INT(now.mapped_bytes, 3 * len);
    CHECK_EQ_INT(now.mapped_resident_bytes, len / 2 + len);
    CHECK_EQ_INT(now.heap_bytes, 1000 + small + len / 2 + len);

    memset(r[0], 1, len);                       /* the reservation is used after all */
    memtrack_tick(m, 3000);
    memtrack_now(m, &now);
    CHECK_EQ_INT(now.heap_bytes, 1000 + small + 2 * len + len / 2);

    begin(&c, pid, pid);
    for (int i = 0; i < 4; i++)
        free_by(&c, AGENT_ALLOC_MMAP, (uint64_t)(uintptr_t)r[i]);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    memtrack_now(m, &now);
    CHECK_EQ_INT(now.heap_bytes, 1000);
    CHECK_EQ_INT(now.mapped_bytes, 0);
    CHECK_EQ_INT(now.mapped_resident_bytes, 0);
    memtrack_finish(m, 4000, 0, 0);
    memtrack_free(m);
    CHECK_EQ_INT(capw_close(w, 4000), 0);
    for (int i = 0; i < 4; i++)
        munmap(r[i], i == 3 ? small : len);

    struct capture cap;
    char err[200];
    CHECK_EQ_INT(capture_load(path, &cap, err, sizeof err), 0);
    CHECK_EQ_INT(cap.mem_totals.peak_heap_bytes, 1000 + small + 2 * len + len / 2);
    CHECK_EQ_INT(cap.mem_totals.peak_mapped_bytes, 3 * len);
    CHECK_EQ_INT(cap.mem_totals.peak_mapped_resident_bytes, 2 * len + len / 2);
    const struct cap_mem_stack *reserve = by_name(&cap, "reserve"), *half = by_name(&cap, "half");
    const struct cap_mem_stack *sm = by_name(&cap, "small");
    CHECK(reserve && half && sm);
    if (reserve && half && sm) {
        CHECK_EQ_INT(sm->peak_bytes, small);
        CHECK_EQ_INT(sm->peak_mapped_bytes, 0);
        CHECK_EQ_INT(reserve->peak_bytes, 1000 + len);     /* its block, and the mapping */
        CHECK_EQ_INT(reserve->peak_mapped_bytes, len);
        CHECK_EQ_INT(half->peak_bytes, len / 2);
        CHECK_EQ_INT(half->peak_mapped_bytes, len);
        CHECK_EQ_INT(reserve->leaked_bytes, 1000);
        CHECK_EQ_INT(reserve->leaked_mapped_bytes, 0);
    }
    capture_free(&cap);
}

/* The agent's own measures (RESIDENT) of a process stetho can no longer
 * read (a pid that does not exist: its ticks keep the last figure): each
 * is applied where it comes in the stream, sent by any thread of the
 * process, so the peak (before brief's unmap) and the leaks (at
 * finalizing) are what the agent saw; a figure for a mapping not known or
 * gone is dropped, one over the mapping's size is cut to it, and a sampled
 * mapping's is scaled by its weight. */
static void agent_residents(const char *path)
{
    const int32_t pid = 99999999;               /* above any pid_max: never a process */
    const uint64_t KEPT = 0x10000000, BRIEF = 0x20000000, K = 1024;
    struct capture_writer *w = capw_open(path, 10000000);
    struct memtrack *m = memtrack_new(w, 0);
    struct chunk c;
    begin(&c, pid, pid);
    root(&c, 1, "kept", 1);
    root(&c, 2, "brief", 2);
    alloc_by(&c, AGENT_ALLOC_MMAP, KEPT, 1024 * K, 1);
    alloc_by(&c, AGENT_ALLOC_MMAP, BRIEF, 2048 * K, 2);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    memtrack_tick(m, 2000);                     /* cannot read it: 0 still */
    struct cap_timeline_point now;
    memtrack_now(m, &now);
    CHECK_EQ_INT(now.heap_bytes, 0);
    begin(&c, pid, pid + 1);                    /* another thread unmaps brief */
    resident(&c, KEPT, 512 * K);
    resident(&c, BRIEF, 2048 * K);
    resident(&c, 0x30000000, 4096);            /* no such mapping */
    free_by(&c, AGENT_ALLOC_MMAP, BRIEF);
    resident(&c, BRIEF, 4096);                  /* gone */
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    memtrack_tick(m, 3000);                     /* keeps the agent's figure */
    memtrack_now(m, &now);
    CHECK_EQ_INT(now.heap_bytes, 512 * K);
    CHECK_EQ_INT(now.mapped_resident_bytes, 512 * K);
    CHECK_EQ_INT(now.mapped_bytes, 1024 * K);
    begin(&c, pid, pid);
    resident(&c, KEPT, 8192 * K);               /* over its size */
    finalizing(&c);
    resident(&c, KEPT, 4096);                   /* after: shutdown noise */
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);

    /* sampled: a 1 MiB mapping sampled with a mean of 1 MiB stands for
     * w = 1 MiB / (1 - e^-1) bytes; half of it resident counts w / 2 */
    const uint64_t mean = 1024 * K, size = WIRE_MAPPING_MEASURED_MIN;
    begin(&c, pid - 1, pid - 1);
    sampled(&c, mean);
    root(&c, 1, "sampled_map", 3);
    alloc_by(&c, AGENT_ALLOC_MMAP, KEPT, size, 1);
    resident(&c, KEPT, size / 2);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    struct capture cap;
    finish_and_load(m, w, 4000, path, &cap);
    const struct cap_mem_stack *kept = by_name(&cap, "kept"), *brief = by_name(&cap, "brief");
    const struct cap_mem_stack *smap = by_name(&cap, "sampled_map");
    CHECK(kept && brief && smap);
    if (kept && brief && smap) {
        CHECK_EQ_INT(kept->peak_bytes, 512 * K);
        CHECK_EQ_INT(brief->peak_bytes, 2048 * K);
        CHECK_EQ_INT(kept->leaked_bytes, 1024 * K);
        CHECK_EQ_INT(kept->leaked_mapped_bytes, 1024 * K);
        CHECK_EQ_INT(brief->leaked_bytes, 0);
        double wgt = (double)size / -expm1(-(double)size / (double)mean);
        uint64_t want = (uint64_t)((uint64_t)(wgt + 0.5) * 0.5 + 0.5);
        CHECK(smap->leaked_bytes + 1 >= want && smap->leaked_bytes <= want + 1);
    }
    CHECK_EQ_INT(cap.mem_totals.peak_mapped_resident_bytes, 2560 * K);
    CHECK(cap.mem_totals.peak_heap_bytes >= 2560 * K);
    capture_free(&cap);
}

/* A tid reused by a new thread (NEW_STREAM): the same agent stack id now
 * names another function, and its allocations are counted there, not
 * under what the id meant before (memtrack keeps each thread's stack ->
 * metrics row beside its id map: it must forget it with the ids). */
static void new_stream_ids(const char *path)
{
    struct capture_writer *w = capw_open(path, 10000000);
    struct memtrack *m = memtrack_new(w, 0);
    struct chunk c;
    begin(&c, 300, 21);
    root(&c, 1, "first_thread", 1);
    alloc(&c, 0x100, 10, 1);
    alloc(&c, 0x200, 10, 1);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    begin(&c, 300, 21);
    wire_put_header(c.b, AGENT_CHUNK_NEW_STREAM, c.n, 300, 21, 2000);
    root(&c, 1, "second_thread", 2);
    alloc(&c, 0x300, 7, 1);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    struct capture cap;
    finish_and_load(m, w, 3000, path, &cap);
    const struct cap_mem_stack *a = by_name(&cap, "first_thread"),
                               *b = by_name(&cap, "second_thread");
    CHECK(a && b);
    if (a && b) {
        CHECK_EQ_INT(a->alloc_bytes, 20);
        CHECK_EQ_INT(a->alloc_count, 2);
        CHECK_EQ_INT(b->alloc_bytes, 7);
        CHECK_EQ_INT(b->alloc_count, 1);
    }
    capture_free(&cap);
}

/* Many live blocks: the table grows several times over while records are
 * decoded ahead of their use; a bad record after good ones in a chunk
 * keeps the good ones (applied) and drops the rest.  Every figure is the
 * exact sum of what was sent. */
static void many_blocks(const char *path)
{
    enum { N = 300000, PER_CHUNK = 200 };
    struct capture_writer *w = capw_open(path, 10000000);
    struct memtrack *m = memtrack_new(w, 0);
    struct chunk c;
    begin(&c, 200, 200);
    root(&c, 1, "keep", 1);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    uint64_t sizes = 0, freed = 0;
    for (uint64_t i = 0; i < N; i += PER_CHUNK) {
        begin(&c, 200, 200);
        for (uint64_t k = i; k < i + PER_CHUNK; k++) {
            alloc(&c, 0x10000 + 48 * k, 16 + k % 64, 1);
            sizes += 16 + k % 64;
        }
        end(&c);
        CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    }
    for (uint64_t i = 0; i < N; i += 2 * PER_CHUNK) {     /* every other block */
        begin(&c, 200, 200);
        for (uint64_t k = i; k < i + 2 * PER_CHUNK; k += 2) {
            fre(&c, 0x10000 + 48 * k);
            freed += 16 + k % 64;
        }
        end(&c);
        CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    }
    struct cap_timeline_point now;
    memtrack_now(m, &now);
    CHECK_EQ_INT(now.heap_bytes, sizes - freed);
    /* two allocations, then a record of no known type: the two count */
    begin(&c, 200, 200);
    alloc(&c, 0x8000000, 1000, 1);
    alloc(&c, 0x8001000, 2000, 1);
    c.b[c.n++] = 0x7f;
    alloc(&c, 0x8002000, 4000, 1);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), -1);
    memtrack_now(m, &now);
    CHECK_EQ_INT(now.heap_bytes, sizes - freed + 3000);
    CHECK_EQ_INT(memtrack_events(m), 2 * N - N / 2 + 2);
    begin(&c, 200, 200);
    finalizing(&c);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    struct capture cap;
    finish_and_load(m, w, 1000, path, &cap);
    CHECK_EQ_INT(cap.mem_totals.alloc_count, N + 2);
    CHECK_EQ_INT(cap.mem_totals.alloc_bytes, sizes + 3000);
    CHECK_EQ_INT(cap.mem_totals.peak_heap_bytes, sizes);
    CHECK_EQ_INT(cap.mem_totals.leaked_bytes, sizes - freed + 3000);
    const struct cap_mem_stack *keep = by_name(&cap, "keep");
    CHECK(keep != NULL);
    if (keep)
        CHECK_EQ_INT(keep->leaked_bytes, sizes - freed + 3000);
    capture_free(&cap);
}

/* ---- --native: functions of ours stand for a C extension and the
 * interpreter loop; their names are what the merge looks at ---- */

__attribute__((noinline)) void PyMem_Malloc(void) { __asm__ volatile(""); }
__attribute__((noinline)) void c_leaf(void) { __asm__ volatile(""); }
__attribute__((noinline)) void c_mid(void) { __asm__ volatile(""); }
__attribute__((noinline)) void _PyEval_EvalFrameDefault(void) { __asm__ volatile(""); }
__attribute__((noinline)) void main_for_test(void) { __asm__ volatile(""); }

static int exe_range(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    uint64_t *r = arg, lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        lo = ph->p_vaddr < lo ? ph->p_vaddr : lo;
        hi = ph->p_vaddr + ph->p_memsz > hi ? ph->p_vaddr + ph->p_memsz : hi;
    }
    r[0] = info->dlpi_addr + (lo & ~4095ull);
    r[1] = info->dlpi_addr + ((hi + 4095) & ~4095ull);
    return 1;                           /* the first one is the program */
}

/* A return address into f: the merge looks up the call before it. */
static uint64_t ret_into(void (*f)(void))
{
    return (uint64_t)(uintptr_t)f + 1;
}

static void native_stacks(const char *path)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(len > 0);
    if (len <= 0)
        return;
    exe[len] = 0;
    uint64_t range[2];
    dl_iterate_phdr(exe_range, range);
    struct capture_writer *w = capw_open(path, 10000000);
    struct memtrack *m = memtrack_new(w, 0);
    struct chunk c;
    begin(&c, 300, 300);
    frame(&c, 1, "<module>", 1);
    frame(&c, 2, "f", 2);
    /* 3.11-style: f runs in <module>'s interpreter call */
    c.n = (size_t)(wire_put_stack(c.b + c.n, &(struct wire_stack){ 1, 0, 1, 1 }) - c.b);
    c.n = (size_t)(wire_put_stack(c.b + c.n, &(struct wire_stack){ 2, 1, 2, 0 }) - c.b);
    struct wire_module mod = { range[0], range[1], 0, { exe, (size_t)len } };
    c.n = (size_t)(wire_put_module(c.b + c.n, &mod) - c.b);
    /* root first: main_for_test (outside the interpreter call: it stays,
     * no interpreter's or libc's), the loop, c_mid, c_leaf, PyMem_Malloc */
    uint64_t pcs[] = { ret_into(main_for_test), ret_into(_PyEval_EvalFrameDefault),
                       ret_into(c_mid), ret_into(c_leaf), ret_into(PyMem_Malloc) };
    for (uint64_t i = 0; i < 5; i++)
        c.n = (size_t)(wire_put_native(c.b + c.n, &(struct wire_native){ i + 1, i, pcs[i] }) -
                       c.b);
    struct wire_alloc a = { AGENT_ALLOC_PYMEM, 0x1000, 4096, 2, 0, 5 };
    c.n = (size_t)(wire_put_alloc(c.b + c.n, &a) - c.b);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    /* a native id never defined: the chunk is refused */
    begin(&c, 300, 300);
    struct wire_alloc bad = { AGENT_ALLOC_MALLOC, 0x2000, 10, 2, 0, 99 };
    c.n = (size_t)(wire_put_alloc(c.b + c.n, &bad) - c.b);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), -1);
    uint64_t merged, partial;
    memtrack_native_stats(m, &merged, &partial);
    CHECK_EQ_INT(merged, 1);
    CHECK_EQ_INT(partial, 0);
    struct capture cap;
    finish_and_load(m, w, 1000, path, &cap);
    const struct cap_mem_stack *leaf = by_name(&cap, "c_leaf");
    CHECK(leaf != NULL);
    if (leaf) {
        CHECK_EQ_INT(leaf->alloc_bytes, 4096);
        /* innermost first: PyMem_Malloc hidden, the loop replaced by f and
         * <module> */
        static const char *const want[] = { "c_leaf", "c_mid", "f", "<module>", "main_for_test" };
        static const int native[] = { 1, 1, 0, 0, 1 };
        uint32_t st = leaf->stack;
        for (size_t i = 0; i < 5; i++) {
            CHECK(st != 0);
            if (!st)
                break;
            const struct cap_frame *fr = &cap.frames[cap.stacks[st].frame];
            CHECK_EQ_STR(cap.strings[fr->function], want[i]);
            CHECK_EQ_INT(fr->kind == CAP_FRAME_NATIVE, native[i]);
            /* its module is this program; its file the source where the
             * build has debug information, else the module's path */
            if (native[i]) {
                CHECK(fr->module != 0 && fr->module < cap.nmodules);
                if (fr->module && fr->module < cap.nmodules)
                    CHECK_EQ_STR(cap.strings[cap.modules[fr->module].path], exe);
                const char *file = cap.strings[fr->file];
                size_t n = strlen(file);
                CHECK(!strcmp(file, exe) ||
                      (n >= 15 && !strcmp(file + n - 15, "test_memtrack.c")));
            }
            st = cap.stacks[st].parent;
        }
        CHECK_EQ_INT(st, 0);
    }
    capture_free(&cap);
}

/* One random stream written twice: with ALLOC and FREE only, and as the
 * agent sends it, each block freed in the chunk it was allocated in as an
 * ALLOC_LOCAL and a FREE_LOCAL.  Addresses are reused at once, as pymalloc
 * does.  Every figure of the two captures is the same. */
struct live {
    uint64_t addr;
    size_t chunk, off;                  /* where its record is in the local stream */
    uint32_t index;
};

static void feed_both(struct memtrack *plain, struct memtrack *local, struct chunk *a,
                      struct chunk *b)
{
    end(a);
    end(b);
    CHECK_EQ_INT(memtrack_feed(plain, a->b, a->n), 0);
    CHECK_EQ_INT(memtrack_feed(local, b->b, b->n), 0);
}

/* Stacks 1-3 of thread 300, functions "one", "two" and "three", defined
 * in both streams (a, b) and fed; their names. */
static const char *const *three_stacks(struct memtrack *m1, struct memtrack *m2, struct chunk *a,
                                       struct chunk *b)
{
    static const char *const names[] = { "one", "two", "three" };
    begin(a, 300, 300);
    begin(b, 300, 300);
    for (uint64_t i = 1; i <= 3; i++) {
        frame(a, i, names[i - 1], i);
        frame(b, i, names[i - 1], i);
        stack(a, i, 0, i);
        stack(b, i, 0, i);
    }
    feed_both(m1, m2, a, b);
    return names;
}

/* m1 and m2, fed one stream sent two ways, finished: their captures (w1
 * at path, w2 at path2) agree on every figure; their heaps' peaks may
 * differ by peak_slack at most (the second's lower: TEMPS), else they are
 * equal, per stack too.  The first counted more than min_temporary
 * temporaries, and leaked something. */
static void same_figures(struct memtrack *m1, struct memtrack *m2, struct capture_writer *w1,
                         struct capture_writer *w2, const char *path, const char *path2,
                         const char *const *names, int nnames, uint64_t min_temporary,
                         uint64_t peak_slack)
{
    memtrack_finish(m1, 9000, 0, 0);
    memtrack_finish(m2, 9000, 0, 0);
    memtrack_free(m1);
    memtrack_free(m2);
    CHECK_EQ_INT(capw_close(w1, 9000), 0);
    CHECK_EQ_INT(capw_close(w2, 9000), 0);
    struct capture c1, c2;
    load(path, &c1);
    load(path2, &c2);
    const struct cap_mem_totals *t1 = &c1.mem_totals, *t2 = &c2.mem_totals;
    CHECK(t1->temporary_count > min_temporary && t1->leaked_bytes > 0);
    CHECK_EQ_INT(t1->alloc_bytes, t2->alloc_bytes);
    CHECK_EQ_INT(t1->alloc_count, t2->alloc_count);
    CHECK(t2->peak_heap_bytes <= t1->peak_heap_bytes &&
          t1->peak_heap_bytes <= t2->peak_heap_bytes + peak_slack);
    CHECK_EQ_INT(t1->leaked_bytes, t2->leaked_bytes);
    CHECK_EQ_INT(t1->temporary_count, t2->temporary_count);
    CHECK(!memcmp(t1->size_hist, t2->size_hist, sizeof t1->size_hist));
    CHECK(!memcmp(t1->by_allocator_bytes, t2->by_allocator_bytes, sizeof t1->by_allocator_bytes));
    CHECK(!memcmp(t1->by_allocator_count, t2->by_allocator_count, sizeof t1->by_allocator_count));
    CHECK_EQ_INT(c1.nmem, c2.nmem);
    for (int i = 0; i < nnames; i++) {
        const struct cap_mem_stack *s1 = by_name(&c1, names[i]), *s2 = by_name(&c2, names[i]);
        CHECK(s1 && s2);
        if (!s1 || !s2)
            continue;
        CHECK_EQ_INT(s1->alloc_bytes, s2->alloc_bytes);
        CHECK_EQ_INT(s1->alloc_count, s2->alloc_count);
        if (!peak_slack)        /* else the peaks' moments differ: any share */
            CHECK_EQ_INT(s1->peak_bytes, s2->peak_bytes);
        CHECK_EQ_INT(s1->leaked_bytes, s2->leaked_bytes);
        CHECK_EQ_INT(s1->temporary_count, s2->temporary_count);
    }
    capture_free(&c1);
    capture_free(&c2);
    unlink(path2);
}

static void local_pairs(const char *path)
{
    enum { CHUNKS = 3000, PER_CHUNK = 150, LIVE_MAX = 4096 };
    char path2[512];
    snprintf(path2, sizeof path2, "%s.2", path);
    struct capture_writer *w1 = capw_open(path, 10000000), *w2 = capw_open(path2, 10000000);
    struct memtrack *m1 = memtrack_new(w1, 0), *m2 = memtrack_new(w2, 0);
    static struct live live[LIVE_MAX];
    static uint64_t pool[LIVE_MAX];
    size_t nlive = 0, npool = 0, nlocal = 0;
    uint64_t next = 0x100000, rng = 88172645463325252ull;
    struct chunk a, b;
    const char *const *names = three_stacks(m1, m2, &a, &b);
    for (size_t ch = 1; ch <= CHUNKS; ch++) {
        begin(&a, 300, 300);
        begin(&b, 300, 300);
        uint32_t index = 0;
        for (int e = 0; e < PER_CHUNK; e++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            /* grows for a third of the run, then shrinks, then grows: peaks */
            int grow = ch < CHUNKS / 3 || ch > 2 * CHUNKS / 3 ? 60 : 40;
            if (nlive < LIVE_MAX && (nlive == 0 || (int)(rng % 100) < grow)) {
                uint64_t addr = npool && rng % 4 ? pool[--npool] : (next += 64);
                uint64_t size = 16 + (rng >> 8) % 200, st = 1 + (rng >> 20) % 3;
                live[nlive++] = (struct live){ addr, ch, b.n, index++ };
                alloc(&a, addr, size, st);
                alloc(&b, addr, size, st);
            } else {
                /* mostly the youngest blocks, as programs free them */
                size_t k = rng % 3 ? nlive - 1 - (rng >> 12) % (nlive < 8 ? nlive : 8)
                                   : (rng >> 12) % nlive;
                struct live l = live[k];
                live[k] = live[--nlive];
                if (npool < LIVE_MAX)
                    pool[npool++] = l.addr;
                fre(&a, l.addr);
                if (l.chunk == ch) {
                    b.b[l.off] = AGENT_REC_ALLOC_LOCAL;
                    struct wire_free_local r = { AGENT_ALLOC_MALLOC | temporary(&b, l.addr),
                                                 l.index, 0 };
                    b.n = (size_t)(wire_put_free_local_after(b.b + b.n, &b.last, &r) - b.b);
                    nlocal++;
                } else {
                    fre(&b, l.addr);
                }
            }
        }
        feed_both(m1, m2, &a, &b);
        if (ch % 500 == 0) {
            memtrack_tick(m1, 1000 + ch);
            memtrack_tick(m2, 1000 + ch);
        }
    }
    CHECK(nlocal > CHUNKS * PER_CHUNK / 10);  /* the case is exercised */
    CHECK_EQ_INT(memtrack_events(m1), memtrack_events(m2));
    struct cap_timeline_point n1, n2;
    memtrack_now(m1, &n1);
    memtrack_now(m2, &n2);
    CHECK_EQ_INT(n1.heap_bytes, n2.heap_bytes);
    begin(&a, 300, 300);
    begin(&b, 300, 300);
    finalizing(&a);
    finalizing(&b);
    feed_both(m1, m2, &a, &b);
    same_figures(m1, m2, w1, w2, path, path2, names, 3, 1, 0);
}

/* A FREE_LOCAL must name an ALLOC_LOCAL of its chunk not freed yet; an
 * ALLOC_LOCAL is never a mapping, nor sampled: else the chunk is refused. */
static void local_refused(const char *path)
{
    struct capture_writer *w = capw_open(path, 10000000);
    struct memtrack *m = memtrack_new(w, 0);
    struct chunk c;
    struct wire_free_local fl = { AGENT_ALLOC_MALLOC, 0, 0 };
    for (int bad = 0; bad < 6; bad++) {
        begin(&c, 400, 400 + bad);
        size_t at = c.n;
        alloc(&c, 0x1000, 10, 0);
        if (bad != 1)
            c.b[at] = AGENT_REC_ALLOC_LOCAL;
        if (bad == 3)
            alloc_by(&c, AGENT_ALLOC_MALLOC, 0x2000, 10, 0);
        fl.index = bad == 0 ? 1 : bad == 3 ? 1 : 0;
        if (bad == 4) {
            c.n = at;
            alloc_by(&c, AGENT_ALLOC_MMAP, 0x1000, 4096, 0);
            c.b[at] = AGENT_REC_ALLOC_LOCAL;
        }
        if (bad == 5) {
            c.n = at;
            sampled(&c, 1000);
            at = c.n;
            alloc(&c, 0x1000, 10, 0);
            c.b[at] = AGENT_REC_ALLOC_LOCAL;
        }
        c.n = (size_t)(wire_put_free_local(c.b + c.n, &fl) - c.b);
        if (bad == 2)                   /* freed twice */
            c.n = (size_t)(wire_put_free_local(c.b + c.n, &fl) - c.b);
        end(&c);
        /* 0: index past the chunk's allocations; 1: of an ALLOC; 3: of
         * an ALLOC after an ALLOC_LOCAL */
        CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), -1);
    }
    CHECK_EQ_INT(memtrack_dropped(m), 6);
    /* the good case, for contrast: each chunk counts its allocations from 0 */
    struct cap_timeline_point before, after;
    memtrack_now(m, &before);
    begin(&c, 400, 500);
    alloc(&c, 0x5000, 10, 0);
    size_t at = c.n;
    alloc(&c, 0x6000, 20, 0);
    c.b[at] = AGENT_REC_ALLOC_LOCAL;
    fl.index = 1;
    c.n = (size_t)(wire_put_free_local(c.b + c.n, &fl) - c.b);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    memtrack_now(m, &after);
    CHECK_EQ_INT(after.heap_bytes, before.heap_bytes + 10);
    CHECK_EQ_INT(memtrack_dropped(m), 6);
    memtrack_free(m);
    capw_close(w, 0);
}

static void temps(struct chunk *c, uint64_t allocator, uint64_t st, uint64_t cls, uint64_t count,
                  uint64_t bytes, uint64_t temporaries)
{
    struct wire_temps r = { allocator, st, cls, count, bytes, temporaries };
    c->n = (size_t)(wire_put_temps(c->b + c->n, &r) - c->b);
}

/* TEMPS (the agent's nursery, agent/nursery.h) stands for its ALLOCs and
 * FREEs: one stream with every small block allocated and freed as records
 * of their own, one with them summed per (stack, allocator, size class)
 * at each chunk's end, the same long-lived blocks in both.  Every figure
 * agrees but the peak, which may miss what was summed (at most the blocks
 * the nursery can hold). */
static void temps_as_pairs(const char *path)
{
    enum { CHUNKS = 400, PER_CHUNK = 60, KEYS = 3 * 2 * 11 };
    char path2[512];
    snprintf(path2, sizeof path2, "%s.2", path);
    struct capture_writer *w1 = capw_open(path, 10000000), *w2 = capw_open(path2, 10000000);
    struct memtrack *m1 = memtrack_new(w1, 0), *m2 = memtrack_new(w2, 0);
    const uint64_t allocators[] = { AGENT_ALLOC_PYOBJECT, AGENT_ALLOC_MALLOC };
    struct chunk a, b;
    const char *const *names = three_stacks(m1, m2, &a, &b);
    uint64_t rng = 88172645463325252ull, next = 0x100000, kept[64];
    size_t nkept = 0, summed = 0;
    for (size_t ch = 1; ch <= CHUNKS; ch++) {
        begin(&a, 300, 300);
        begin(&b, 300, 300);
        uint64_t count[KEYS] = { 0 }, bytes[KEYS] = { 0 }, temp[KEYS] = { 0 };
        for (int e = 0; e < PER_CHUNK; e++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            uint64_t st = 1 + rng % 3, al = (rng >> 8) % 2, size = (rng >> 12) % 513;
            uint64_t addr = (next += 1024), cls = wire_size_class(size);
            if ((rng >> 30) % 5 == 0) {         /* kept: in both as it is */
                alloc_by(&a, allocators[al], addr, size, st);
                alloc_by(&b, allocators[al], addr, size, st);
                if (nkept == 64) {
                    free_by(&a, allocators[al], kept[0]);
                    free_by(&b, allocators[al], kept[0]);
                    memmove(kept, kept + 1, 63 * sizeof *kept);
                    nkept--;
                }
                kept[nkept++] = addr;
                continue;
            }
            /* a young block: freed at once (a temporary) or after another */
            alloc_by(&a, allocators[al], addr, size, st);
            int at_once = (rng >> 40) % 2;
            if (!at_once)
                alloc_by(&a, allocators[al], addr + 512, 0, st);
            free_by(&a, allocators[al], addr);
            size_t k = (size_t)((st - 1) * 22 + al * 11 + cls);
            count[k]++;
            bytes[k] += size;
            temp[k] += (uint64_t)at_once;
            if (!at_once) {
                free_by(&a, allocators[al], addr + 512);     /* the last: a temporary */
                count[(st - 1) * 22 + al * 11]++;
                temp[(st - 1) * 22 + al * 11]++;
            }
        }
        for (size_t k = 0; k < KEYS; k++)
            if (count[k]) {
                temps(&b, allocators[k / 11 % 2], 1 + k / 22, k % 11, count[k], bytes[k],
                      temp[k]);
                summed++;
            }
        feed_both(m1, m2, &a, &b);
        if (ch % 100 == 0) {
            memtrack_tick(m1, 1000 + ch);
            memtrack_tick(m2, 1000 + ch);
        }
    }
    CHECK(summed > CHUNKS * 10);
    CHECK_EQ_INT(memtrack_events(m1), memtrack_events(m2));
    /* stream 1's heap rose by a young block (two at most) above stream 2's */
    same_figures(m1, m2, w1, w2, path, path2, names, 3, CHUNKS, 2 * 512);

    /* refused: a size class its bytes cannot have, more temporaries than
     * blocks, none at all, a mapping, an undefined stack, a sampled stream */
    struct capture_writer *w = capw_open(path, 10000000);
    struct memtrack *m = memtrack_new(w, 0);
    struct chunk c;
    begin(&c, 100, 11);
    root(&c, 1, "main", 1);
    temps(&c, AGENT_ALLOC_MALLOC, 1, 7, 2, 200, 1);     /* 2 x 100 B: class 7 */
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);
    const uint64_t bad[][6] = {
        { AGENT_ALLOC_MALLOC, 1, 7, 2, 126, 0 },        /* < 2 x 64 */
        { AGENT_ALLOC_MALLOC, 1, 7, 2, 256, 0 },        /* > 2 x 127 */
        { AGENT_ALLOC_MALLOC, 1, 7, 2, 200, 3 },
        { AGENT_ALLOC_MALLOC, 1, 0, 0, 0, 0 },
        { AGENT_ALLOC_MALLOC, 1, 11, 1, 1024, 0 },
        { AGENT_ALLOC_MMAP, 1, 7, 2, 200, 0 },
        { AGENT_ALLOCATORS, 1, 7, 2, 200, 0 },
        { AGENT_ALLOC_MALLOC, 2, 7, 2, 200, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        begin(&c, 100, 11);
        temps(&c, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], bad[i][5]);
        end(&c);
        CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), -1);
    }
    begin(&c, 100, 12);
    sampled(&c, 1000);
    root(&c, 1, "main", 1);
    temps(&c, AGENT_ALLOC_MALLOC, 1, 7, 2, 200, 1);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), -1);
    struct capture cap;
    finish_and_load(m, w, 6000, path, &cap);
    const struct cap_mem_stack *s = by_name(&cap, "main");
    CHECK(s && s->alloc_bytes == 200 && s->alloc_count == 2 && s->temporary_count == 1 &&
          s->peak_bytes == 0);
    CHECK_EQ_INT(cap.mem_totals.size_hist[7], 2);
    capture_free(&cap);
}

int main(void)
{
    char path[] = "/tmp/stetho-memtrack-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    struct capture_writer *w = capw_open(path, 10000000);
    struct memtrack *m = memtrack_new(w, 0);
    struct chunk c;

    /* thread 11: grow() allocates 3 blocks, spike() 1 big one; then spike's
     * block is freed (the peak is behind us), then grow frees one block */
    begin(&c, 100, 11);
    frame(&c, 1, "main", 1);
    frame(&c, 2, "grow", 10);
    frame(&c, 3, "spike", 20);
    stack(&c, 1, 0, 1);
    stack(&c, 2, 1, 2);
    stack(&c, 3, 1, 3);
    alloc(&c, 0x1000, 100, 2);
    alloc(&c, 0x2000, 100, 2);
    alloc(&c, 0x3000, 100, 2);
    alloc(&c, 0x9000, 1000, 3);
    fre(&c, 0x9000);
    fre(&c, 0x1000);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);

    /* thread 12 of the same process: a temporary (freed before its next
     * allocation), a block with no Python stack, and a free of a block of
     * thread 11 (cross-thread) */
    begin(&c, 100, 12);
    root(&c, 1, "temp", 30);
    alloc(&c, 0x5000, 50, 1);
    fre(&c, 0x5000);
    alloc(&c, 0x6000, 70, 0);
    fre(&c, 0x2000);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);

    /* finalizing: 0x3000 (grow) and 0x6000 ([native]) are leaked; later
     * events of that process are shutdown noise */
    begin(&c, 100, 11);
    finalizing(&c);
    fre(&c, 0x3000);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);

    /* another process with sampling: one 1-byte allocation sampled with a
     * mean of 1000 stands for about 1000 bytes */
    begin(&c, 200, 200);
    sampled(&c, 1000);
    root(&c, 1, "sampled_fn", 40);
    alloc(&c, 0x7000, 1, 1);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), 0);

    /* malformed: a stack naming an undefined frame; a bad length */
    begin(&c, 100, 13);
    stack(&c, 1, 0, 7);
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), -1);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n - 1), -1);
    CHECK_EQ_INT(memtrack_feed(m, c.b, 3), -1);
    CHECK_EQ_INT(memtrack_dropped(m), 3);

    memtrack_tick(m, 5000);
    struct capture cap;
    finish_and_load(m, w, 6000, path, &cap);
    CHECK(cap.has_memory);
    CHECK(cap.has_mem_totals);
    const struct cap_mem_stack *grow = by_name(&cap, "grow"), *spike = by_name(&cap, "spike"),
                               *temp = by_name(&cap, "temp"), *native = by_name(&cap, "[native]"),
                               *sampled = by_name(&cap, "sampled_fn");
    CHECK(grow && spike && temp && native && sampled);
    if (grow && spike && temp && native && sampled) {
        CHECK_EQ_INT(grow->alloc_bytes, 300);
        CHECK_EQ_INT(grow->alloc_count, 3);
        CHECK_EQ_INT(grow->peak_bytes, 300);        /* all three live at the peak */
        CHECK_EQ_INT(spike->peak_bytes, 1000);
        CHECK_EQ_INT(grow->leaked_bytes, 100);      /* 0x3000 */
        CHECK_EQ_INT(spike->leaked_bytes, 0);
        CHECK_EQ_INT(native->leaked_bytes, 70);
        CHECK_EQ_INT(native->tid, 12);
        CHECK_EQ_INT(temp->temporary_count, 1);
        CHECK_EQ_INT(temp->peak_bytes, 0);
        CHECK(sampled->alloc_bytes > 990 && sampled->alloc_bytes < 1010);
    }
    CHECK_EQ_INT(cap.mem_totals.peak_heap_bytes, 1300);
    /* 6 exact blocks, and the sampled one standing for about 1000 */
    CHECK(cap.mem_totals.alloc_count > 6 + 990 && cap.mem_totals.alloc_count < 6 + 1010);
    CHECK_EQ_INT(cap.mem_totals.temporary_count, 2);   /* temp, and spike (freed at once) */
    CHECK_EQ_INT(cap.ntimeline, 0);            /* the sampler thread's (cli/session.c) */
    capture_free(&cap);

    /* a run cut before its end: the intervals and peak written at the tick
     * are still there */
    w = capw_open(path, 10000000);
    m = memtrack_new(w, 0);
    begin(&c, 100, 11);
    root(&c, 1, "main", 1);
    alloc(&c, 0x1000, 500, 1);
    fre(&c, 0x1000);
    end(&c);
    memtrack_feed(m, c.b, c.n);
    /* a varint longer than 64 bits is refused, the chunk dropped: an
     * address 2^63 away from the last (the chunk's first: from 0) is the
     * longest there is */
    begin(&c, 100, 11);
    fre(&c, 1ull << 63);
    CHECK_EQ_INT(c.b[c.n - 2], 0x01);       /* the 10th byte of the address */
    c.b[c.n - 2] = 0x02;
    end(&c);
    CHECK_EQ_INT(memtrack_feed(m, c.b, c.n), -1);
    CHECK_EQ_INT(memtrack_dropped(m), 1);
    memtrack_tick(m, 5000);
    capw_flush(w);
    /* no finish, no close: as if stetho were killed here */
    load(path, &cap);
    CHECK(cap.truncated);
    CHECK(cap.has_memory);
    CHECK(!cap.has_mem_totals);
    CHECK_EQ_INT(cap.mem_totals.alloc_bytes, 500);
    CHECK_EQ_INT(cap.mem_totals.peak_heap_bytes, 500);
    capture_free(&cap);
    memtrack_free(m);
    capw_close(w, 0);
    growth_points(path);
    mappings(path);
    agent_residents(path);
    new_stream_ids(path);
    many_blocks(path);
    native_stacks(path);
    local_pairs(path);
    local_refused(path);
    temps_as_pairs(path);
    unlink(path);
    return CHECK_DONE();
}
