/*
 * wire.h -- the agent's events on the wire: chunks and the records in
 * them, described once (the X-macro lists below) and turned into types,
 * encoders and a decoder from that description.
 *
 * Contract: the agent writes with the wire_put_*() encoders (static inline,
 * no allocation, no libc call but memcpy: they run on its hot path) into a
 * buffer with room for wire_size_*() bytes; stetho and the tests read with
 * wire_chunk_open() (wire.c) and wire_next() (inline), which check every
 * varint (over-long ones too, capture/varint.h), every length against the
 * bytes left, and the record type, but not what the values mean (ids
 * defined, allocator in range: that is for the consumer).  The Python decoder of
 * the tests (tests/agent/decode.py) is checked against this one
 * (tests/agent/wire_dump.c, tests/agent/test_wire.py).
 *
 * Transport (agent/protocol.h): whole chunks of at most AGENT_CHUNK_MAX
 * bytes, each sent with one write(2) to a FIFO, so chunks of many threads
 * and processes never interleave (the kernel keeps writes of up to
 * PIPE_BUF bytes whole), or copied into one slot of the ring.
 *
 * A chunk: struct agent_chunk_header, then records until `len` bytes.
 * Each thread has its own chunks and its own id spaces: frame and stack ids
 * are per (pid, tid), dense from 1, defined (FRAME, STACK records) before
 * their first use in that thread's stream.  A record is its type byte, then
 * its fields in order: U, an unsigned LEB128 varint; S, a varint length and
 * that many bytes (UTF-8, no NUL); D, the varint of the zigzag of the
 * field's difference from the chunk's previous D field of the same name
 * (from 0 for the first), modulo 2^64.  The events' addresses and times
 * are D fields: a thread's blocks come mostly from a few pools and arenas,
 * so an address takes 1-3 bytes where it took 6-7; a time gains where
 * stamps are precise (several threads recording: 3-4 bytes down to 1-2;
 * a thread alone stamps a chunk's events with its start, one byte
 * either way).  Measured (docs/memory.md, Transport): 10.7 -> 8.0 bytes
 * an event on json_dumps, 13.1 -> 7.8 with two threads; what the ring
 * carries, not what the agent or stetho spend per event.
 *
 *   FRAME       a frame of this stream: line and first_line are 0 if
 *               unknown; kind is enum agent_frame_kind; name and file are
 *               cut (UTF-8 safe) to WIRE_NAME_MAX and WIRE_FILE_MAX bytes
 *   STACK       a stack of this stream: its innermost frame and the stack
 *               of its caller (parent 0: the root); entry 1 if that frame
 *               is the outermost of its interpreter call (walker.h
 *               py_frame.entry: where native/merge.c puts it)
 *   ALLOC       a block: allocator (enum agent_allocator), address, size,
 *               stack (0 = no Python frames: a [native] root of the thread),
 *               native (--native: the NATIVE stack of the allocator's
 *               caller; 0 = none)
 *   FREE        the block at addr goes back to the allocator's family;
 *               allocator | WIRE_TEMPORARY: the block was the last one its
 *               thread allocated (memray's "temporary"; the agent tells,
 *               since some of the thread's allocations arrive as TEMPS)
 *   ALLOC_LOCAL an ALLOC (same fields) whose block is freed later in this
 *               same chunk, by a FREE_LOCAL: it never needs a place among
 *               the live blocks (exact mode; never for a mapping)
 *   FREE_LOCAL  the FREE of the block of the chunk's index-th allocation
 *               record (ALLOC or ALLOC_LOCAL, counted from 0), which must
 *               be an ALLOC_LOCAL not freed yet; allocator as in FREE
 *   TEMPS       `count` blocks, `bytes` in all, each allocated and freed
 *               by this thread while it recorded alone and before its
 *               chunk was sent (exact mode, agent/nursery.h): allocator,
 *               stack as in ALLOC, size_class the bit length of each
 *               one's size (0 for 0 bytes, at most WIRE_TEMPS_CLASS_MAX),
 *               `temporary` of them freed as the thread's last allocation.
 *               Applied as that many ALLOCs and FREEs: every figure is
 *               theirs but the heap's height in between (a peak can miss
 *               what a thread's nursery held, NURSERY_SLOTS blocks of at
 *               most WIRE_TEMPS_SIZE_MAX bytes)
 *   FINALIZING  the interpreter began to finalize (the program's own code
 *               is over: what is live now leaked)
 *   GC_PAUSE    one collection of the garbage collector, timed from
 *               gc.callbacks' "start" to its "stop" (agent/gcpause.c): the
 *               generation, the objects collected and uncollectable, how
 *               long it took; dt_ns is its end
 *   SAMPLED     from now on ALLOC records of this thread are Poisson
 *               samples by bytes with this mean; one of `size` bytes stands
 *               for size / (1 - exp(-size / mean)) bytes (docs/memory.md);
 *               FREE records then come only for sampled blocks
 *   CALLS       exact call counts (`run --calls`, src/agent/calls.h), only
 *               on a process's calls stream (tid WIRE_CALLS_TID): the
 *               figures so far -- cProfile's: all calls, the recursive ones
 *               among them, cumulative and own time in ns -- of the
 *               function `callee` (caller 0) or of the edge caller ->
 *               callee (frame ids of that stream; a C function's FRAME has
 *               kind NATIVE).  Cumulative: a record replaces the last one
 *               of its (caller, callee); the agent sends what changed
 *               every second and at exit, so a process killed loses at
 *               most its last second.
 *   NATIVE      a native stack of this stream (--native, agent/native.c):
 *               its innermost instruction pointer (a return address) and
 *               the native stack of its caller (parent 0: the root)
 *   MODULE      an ELF module of this process mapped at [start, end) (its
 *               first mapping's start: what libdwfl reports a module at),
 *               path as loaded; flags WIRE_MODULE_*.  Sent in a stream
 *               before the first NATIVE record whose pc falls in it, so
 *               stetho can name the pcs even after the process is gone.
 *   RESIDENT    the bytes of whole pages of the mapping recorded at addr
 *               (an ALLOC of allocator MMAP, in any stream of the process)
 *               that were resident at dt_ns, measured by the agent with
 *               mincore() (agent/mappings.c): sent before the mapping is
 *               unmapped or replaced, after a partial unmap, and for every
 *               live one when the interpreter finalizes or the process
 *               exits, so its resident part is known however late stetho
 *               decodes.  A record of its own, not a field of FREE: it is
 *               also sent where there is no free (finalizing, exit, a cut
 *               that leaves the mapping), and FREE is on the hot path.
 *
 * dt_ns: nanoseconds since the chunk header's t_ns (CLOCK_MONOTONIC), so
 * stetho can order events in time.  A FREE of an address stetho never saw
 * allocated (made before the agent's hooks, or in another thread whose
 * chunk has not arrived yet) is for stetho to reconcile.
 *
 * Chunk flags: AGENT_CHUNK_NEW_STREAM is set on the first chunk of a
 * thread's stream: its (pid, tid) is new, or reused (a kernel tid of an
 * exited thread, a forked child's, an exec'd image's): forget the ids
 * defined under it before.
 *
 * Changing a record's fields changes the bytes on the wire: bump
 * AGENT_VERSION, and tests/agent/decode.py's table (test_wire.py fails
 * until they agree).
 */
#ifndef STETHO_WIRE_WIRE_H
#define STETHO_WIRE_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture/varint.h"

#define AGENT_CHUNK_MAX 4096
#define AGENT_MAGIC 0x5354u         /* "ST" */
#define AGENT_VERSION 7

/* The longest name and file a FRAME carries, so one always fits a chunk. */
#define WIRE_NAME_MAX 512
#define WIRE_FILE_MAX 2048

struct agent_chunk_header {
    uint16_t magic;                 /* AGENT_MAGIC */
    uint8_t version;                /* AGENT_VERSION */
    uint8_t flags;
    uint16_t len;                   /* whole chunk, header included */
    uint16_t reserved;
    int32_t pid, tid;
    uint64_t t_ns;                  /* CLOCK_MONOTONIC at the chunk's start */
};

/* The header is sent as the agent's memory holds it: these are the bytes
 * (little-endian "<HBBHHiiQ") every reader expects. */
_Static_assert(sizeof(struct agent_chunk_header) == 24, "chunk header is 24 bytes");
_Static_assert(offsetof(struct agent_chunk_header, len) == 4, "len at byte 4");
_Static_assert(offsetof(struct agent_chunk_header, pid) == 8, "pid at byte 8");
_Static_assert(offsetof(struct agent_chunk_header, t_ns) == 16, "t_ns at byte 16");
_Static_assert(AGENT_CHUNK_MAX <= 4096, "a chunk must be one atomic FIFO write (PIPE_BUF)");
_Static_assert(AGENT_CHUNK_MAX <= UINT16_MAX, "the header's len holds a chunk's size");

#define AGENT_CHUNK_NEW_STREAM 0x01u

/* MODULE flags: the module holding the interpreter (_PyRuntime), the
 * program's executable (native/merge.h tells their frames apart). */
#define WIRE_MODULE_INTERPRETER 0x01u
#define WIRE_MODULE_EXECUTABLE 0x02u

/* The tid of a process's calls stream: no thread has it (kernel tids
 * start at 1), and the counts are the process's, merged over threads. */
#define WIRE_CALLS_TID 0

/* ---- the description ----
 *
 * WIRE_RECORDS(REC, U, S, D): REC(NAME, type byte, name, fields), the
 * fields as U(field), S(field) and D(field) in the order they are sent
 * (a D field's name is a member of struct wire_last).  The rarer records'
 * times and addresses stay U: only the events' are worth the state. */
#define WIRE_RECORDS(REC, U, S, D)                                                 \
    REC(FRAME, 1, frame, U(id) U(line) U(first_line) U(kind) S(name) S(file))     \
    REC(STACK, 2, stack, U(id) U(parent) U(frame) U(entry))                       \
    REC(ALLOC, 3, alloc, U(allocator) D(addr) U(size) U(stack) D(dt_ns) U(native)) \
    REC(FREE, 4, free, U(allocator) D(addr) D(dt_ns))                             \
    REC(FINALIZING, 5, finalizing, U(dt_ns))                                      \
    REC(SAMPLED, 6, sampled, U(mean))                                             \
    REC(GC_PAUSE, 7, gc_pause, U(generation) U(collected) U(uncollectable)        \
        U(duration_ns) U(dt_ns))                                                  \
    REC(CALLS, 8, calls, U(caller) U(callee) U(calls) U(rec_calls) U(cum_ns) U(own_ns)) \
    REC(NATIVE, 9, native, U(id) U(parent) U(pc))                                 \
    REC(MODULE, 10, module, U(start) U(end) U(flags) S(path))                     \
    REC(ALLOC_LOCAL, 11, alloc_local, U(allocator) D(addr) U(size) U(stack) D(dt_ns) \
        U(native))                                                                \
    REC(FREE_LOCAL, 12, free_local, U(allocator) U(index) D(dt_ns))                \
    REC(RESIDENT, 13, resident, U(addr) U(bytes) U(dt_ns))                       \
    REC(TEMPS, 14, temps, U(allocator) U(stack) U(size_class) U(count) U(bytes)   \
        U(temporary))

/* Which allocator an event came through (for `stetho stats`): X(NAME,
 * value, name).  A FREE names the family: MALLOC for free() whatever
 * allocated the block, MMAP for munmap (of any mapping: stetho drops frees
 * of unknown addresses), the domain for Python's.  REALLOC: the new block
 * (the old one is a FREE); MEMALIGN: posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc; MMAP: anonymous mmap / mremap. */
/* An anonymous mapping (allocator MMAP) of at least this many bytes counts
 * by its resident pages (RESIDENT records, stetho's pagemap reads); a
 * smaller one counts whole, as a malloc'd block of its size does (glibc
 * maps those from 128 KiB up).  Small ones come and go fast -- CPython 3.11+
 * maps its frames' data stack 16 KiB at a time, ~170 a second on a deep
 * recursion -- and measuring each (the agent flushing its chunk at the
 * mmap and calling mincore() at the munmap, stetho reading its pagemap)
 * cost a deep-stack program 5-10 % in sampled mode; what it can miscount is
 * a few pages each.  What is reserved and never touched is large
 * (OpenBLAS's 32 MiB buffers): that is what this keeps apart.  Agent and
 * stetho decide by the same size: the ALLOC's. */
#define WIRE_MAPPING_MEASURED_MIN (1u << 20)

#define AGENT_ALLOCATOR_LIST(X)          \
    X(MALLOC, 0, "malloc")               \
    X(CALLOC, 1, "calloc")               \
    X(REALLOC, 2, "realloc")             \
    X(MEMALIGN, 3, "memalign")           \
    X(MMAP, 4, "mmap")                   \
    X(PYMEM_RAW, 5, "pymem_raw")         \
    X(PYMEM, 6, "pymem")                 \
    X(PYOBJECT, 7, "pyobject")

/* A FRAME's kind (as capture.h's cap_frame_kind): X(NAME, value, name).
 * NATIVE is not sent yet; SYNTHETIC is a marker: "[truncated]" (deeper
 * than the agent reads) or "[unreadable]". */
#define AGENT_FRAME_KIND_LIST(X)         \
    X(PYTHON, 0, "python")               \
    X(NATIVE, 1, "native")               \
    X(SYNTHETIC, 2, "synthetic")

/* FREE and FREE_LOCAL: the block was its thread's last allocation. */
#define WIRE_TEMPORARY 0x40u
/* A size's class: its bit length (0 for 0 bytes), the size histogram's
 * bucket and TEMPS's size_class alike. */
static inline uint32_t wire_size_class(uint64_t size)
{
    return size ? 64u - (uint32_t)__builtin_clzll(size) : 0;
}

/* TEMPS: the blocks it sums are at most this big (size_class <= 10). */
#define WIRE_TEMPS_SIZE_MAX 512u
#define WIRE_TEMPS_CLASS_MAX 10u
_Static_assert((1u << WIRE_TEMPS_CLASS_MAX) > WIRE_TEMPS_SIZE_MAX &&
                   (1u << (WIRE_TEMPS_CLASS_MAX - 1)) <= WIRE_TEMPS_SIZE_MAX,
               "a TEMPS block's bit length is at most WIRE_TEMPS_CLASS_MAX");

/* The most allocation records a chunk holds (each is at least its type
 * byte and six one-byte varints): FREE_LOCAL's index is below it. */
#define WIRE_ALLOCS_MAX ((AGENT_CHUNK_MAX - 24) / 7)

/* ---- what the description makes ---- */

#define WIRE_ENUM_REC_(NAME, code, name, fields) AGENT_REC_##NAME = code,
enum agent_record { WIRE_RECORDS(WIRE_ENUM_REC_, , , ) };
#undef WIRE_ENUM_REC_

#define WIRE_COUNT_(...) +1
enum { AGENT_RECORDS = 0 WIRE_RECORDS(WIRE_COUNT_, , , ) };
enum { AGENT_ALLOCATORS = 0 AGENT_ALLOCATOR_LIST(WIRE_COUNT_) };
enum { AGENT_FRAME_KINDS = 0 AGENT_FRAME_KIND_LIST(WIRE_COUNT_) };
#undef WIRE_COUNT_

#define WIRE_ENUM_(NAME, value, name) AGENT_ALLOC_##NAME = value,
enum agent_allocator { AGENT_ALLOCATOR_LIST(WIRE_ENUM_) };
#undef WIRE_ENUM_
#define WIRE_ENUM_(NAME, value, name) AGENT_FRAME_##NAME = value,
enum agent_frame_kind { AGENT_FRAME_KIND_LIST(WIRE_ENUM_) };
#undef WIRE_ENUM_

/* Values are dense from 0, so the counts index name tables; record types
 * dense from 1 and fit the type byte. */
#define WIRE_DENSE_(NAME, value, name) \
    _Static_assert(value < AGENT_ALLOCATORS, #NAME " is dense");
AGENT_ALLOCATOR_LIST(WIRE_DENSE_)
#undef WIRE_DENSE_
_Static_assert(WIRE_TEMPORARY >= AGENT_ALLOCATORS && WIRE_TEMPORARY < 0x80,
               "a free's temporary bit is no allocator's, and keeps it one byte");
#define WIRE_DENSE_(NAME, value, name) \
    _Static_assert(value < AGENT_FRAME_KINDS, #NAME " is dense");
AGENT_FRAME_KIND_LIST(WIRE_DENSE_)
#undef WIRE_DENSE_
#define WIRE_DENSE_(NAME, code, name, fields) \
    _Static_assert(code >= 1 && code <= AGENT_RECORDS, #NAME " is dense from 1");
WIRE_RECORDS(WIRE_DENSE_, , , )
#undef WIRE_DENSE_

/* A string field: bytes that are not NUL-terminated.  Decoded ones point
 * into the chunk. */
struct wire_bytes {
    const char *p;
    size_t len;
};

#define WIRE_U_FIELD_(f) uint64_t f;
#define WIRE_S_FIELD_(f) struct wire_bytes f;
#define WIRE_STRUCT_(NAME, code, name, fields) struct wire_##name { fields };
WIRE_RECORDS(WIRE_STRUCT_, WIRE_U_FIELD_, WIRE_S_FIELD_, WIRE_U_FIELD_)
#undef WIRE_STRUCT_

/* The agent makes an ALLOC an ALLOC_LOCAL by rewriting its type byte in
 * place (agent/local.h): same fields, so the same bytes after it. */
_Static_assert(sizeof(struct wire_alloc) == sizeof(struct wire_alloc_local) &&
                   offsetof(struct wire_alloc, stack) == offsetof(struct wire_alloc_local, stack) &&
                   offsetof(struct wire_alloc, dt_ns) == offsetof(struct wire_alloc_local, dt_ns) &&
                   offsetof(struct wire_alloc, native) ==
                       offsetof(struct wire_alloc_local, native),
               "ALLOC_LOCAL has ALLOC's fields, in ALLOC's order (the bytes are the same)");
_Static_assert(sizeof(struct agent_chunk_header) == 24, "WIRE_ALLOCS_MAX counts 24 bytes");

/* One decoded record: `type` says which member holds it. */
#define WIRE_MEMBER_(NAME, code, name, fields) struct wire_##name name;
struct wire_record {
    enum agent_record type;
    union {
        WIRE_RECORDS(WIRE_MEMBER_, , , )
    } u;
};
#undef WIRE_MEMBER_

/* WIRE_FIXED_<NAME>: the most bytes a record takes besides its strings'
 * bytes; wire_size_<name>(r): the most bytes r takes. */
#define WIRE_FIXED_U_(f) + VARINT_MAX
#define WIRE_FIXED_(NAME, code, name, fields) WIRE_FIXED_##NAME = 1 fields,
enum { WIRE_RECORDS(WIRE_FIXED_, WIRE_FIXED_U_, WIRE_FIXED_U_, WIRE_FIXED_U_) };
#undef WIRE_FIXED_

#define WIRE_NONE_(f)
#define WIRE_SIZE_S_(f) + r->f.len
#define WIRE_SIZE_(NAME, code, name, fields)                                \
    static inline size_t wire_size_##name(const struct wire_##name *r)     \
    {                                                                       \
        (void)r;                                                            \
        return (size_t)WIRE_FIXED_##NAME fields;                            \
    }
WIRE_RECORDS(WIRE_SIZE_, WIRE_NONE_, WIRE_SIZE_S_, WIRE_NONE_)
#undef WIRE_SIZE_

/* The longest FRAME fits a fresh chunk (which may start with SAMPLED); so
 * does the longest MODULE (its path cut to WIRE_FILE_MAX). */
_Static_assert(sizeof(struct agent_chunk_header) + WIRE_FIXED_SAMPLED + WIRE_FIXED_FRAME +
                   WIRE_NAME_MAX + WIRE_FILE_MAX <= AGENT_CHUNK_MAX,
               "a FRAME record must fit in a chunk");
_Static_assert(sizeof(struct agent_chunk_header) + WIRE_FIXED_SAMPLED + WIRE_FIXED_MODULE +
                   WIRE_FILE_MAX <= AGENT_CHUNK_MAX,
               "a MODULE record must fit in a chunk");

/* What a chunk's D fields are sent relative to: the last of each name (0
 * at the chunk's start). */
struct wire_last {
    uint64_t addr, dt_ns;
};

/* ---- encoding ----
 *
 * wire_put_<name>_after(w, last, r) writes r at w and returns the end,
 * each D field relative to *last's, which it then replaces.
 * wire_put_<name>(w, r): the same for a record with no D field, or the
 * first of its chunk. */

#define WIRE_PUT_U_(f) w = varint_put(w, r->f);
#define WIRE_PUT_S_(f)                  \
    w = varint_put(w, r->f.len);        \
    memcpy(w, r->f.p, r->f.len);        \
    w += r->f.len;
#define WIRE_PUT_D_(f)                                          \
    w = varint_put(w, zigzag((int64_t)(r->f - last->f)));       \
    last->f = r->f;
#define WIRE_PUT_(NAME, code, name, fields)                                              \
    static inline uint8_t *wire_put_##name##_after(uint8_t *w, struct wire_last *last,   \
                                                   const struct wire_##name *r)          \
    {                                                                                    \
        (void)last;                                                                      \
        *w++ = (uint8_t)AGENT_REC_##NAME;                                                \
        fields return w;                                                                 \
    }                                                                                    \
    static inline uint8_t *wire_put_##name(uint8_t *w, const struct wire_##name *r)      \
    {                                                                                    \
        struct wire_last first = { 0, 0 };                                               \
        return wire_put_##name##_after(w, &first, r);                                    \
    }
WIRE_RECORDS(WIRE_PUT_, WIRE_PUT_U_, WIRE_PUT_S_, WIRE_PUT_D_)
#undef WIRE_PUT_

/* A chunk's header at the start of `chunk` (len bytes in all). */
static inline void wire_put_header(uint8_t *chunk, uint8_t flags, size_t len, int32_t pid,
                                   int32_t tid, uint64_t t_ns)
{
    struct agent_chunk_header h = {
        .magic = AGENT_MAGIC,
        .version = AGENT_VERSION,
        .flags = flags,
        .len = (uint16_t)len,
        .pid = pid,
        .tid = tid,
        .t_ns = t_ns,
    };
    memcpy(chunk, &h, sizeof h);
}

/* ---- decoding ---- */

/* A cursor over a chunk's records: its bytes, and the last D fields read
 * (what the next ones are relative to). */
struct wire_cur {
    struct vcur v;
    struct wire_last last;
};

/* The header of a chunk of len bytes into *h, and a cursor over its
 * records into *c; -1 if the header is bad (magic, version, length). */
int wire_chunk_open(const uint8_t *chunk, size_t len, struct agent_chunk_header *h,
                    struct wire_cur *c);

/* A string field (wire_next's). */
static inline struct wire_bytes wire_get_bytes_(struct vcur *c)
{
    uint64_t n = vcur_varint(c);
    if (c->bad || n > vcur_left(c)) {
        c->bad = 1;
        c->p = c->end;
        return (struct wire_bytes){ NULL, 0 };
    }
    struct wire_bytes b = { (const char *)c->p, (size_t)n };
    c->p += n;
    return b;
}

/* Each record's fields, read in order: wire_get_<name>_() with every
 * test; wire_get_roomy_<name>_() for a record of varints only that has
 * room for its longest form (WIRE_FIXED_<NAME>) before the end.
 * WIRE_STRINGS_<NAME>: its string fields (their bytes have no bound). */
#define WIRE_NO_(f)
#define WIRE_ONE_(f) + 1
#define WIRE_STRINGS_(NAME, code, name, fields) WIRE_STRINGS_##NAME = 0 fields,
enum { WIRE_RECORDS(WIRE_STRINGS_, WIRE_NO_, WIRE_ONE_, WIRE_NO_) };
#undef WIRE_STRINGS_
#undef WIRE_ONE_
#undef WIRE_NO_
#define WIRE_GET_U_(f) x->f = vcur_varint(c);
#define WIRE_GET_S_(f) x->f = wire_get_bytes_(c);
#define WIRE_GET_D_(f) x->f = last->f += (uint64_t)unzigzag(vcur_varint(c));
#define WIRE_ROOMY_U_(f) x->f = vcur_varint_roomy(c);
#define WIRE_ROOMY_D_(f) x->f = last->f += (uint64_t)unzigzag(vcur_varint_roomy(c));
#define WIRE_GETTER_AS_(fn, name, fields)                                           \
    static inline void fn(struct vcur *c, struct wire_last *last, struct wire_##name *x) \
    {                                                                               \
        (void)last;                                                                 \
        fields                                                                      \
    }
#define WIRE_GETTER_(NAME, code, name, fields) WIRE_GETTER_AS_(wire_get_##name##_, name, fields)
#define WIRE_GETTER_ROOMY_(NAME, code, name, fields) \
    WIRE_GETTER_AS_(wire_get_roomy_##name##_, name, fields)
WIRE_RECORDS(WIRE_GETTER_, WIRE_GET_U_, WIRE_GET_S_, WIRE_GET_D_)
/* (a record with strings never takes this one: its strings read checked) */
WIRE_RECORDS(WIRE_GETTER_ROOMY_, WIRE_ROOMY_U_, WIRE_GET_S_, WIRE_ROOMY_D_)
#undef WIRE_GETTER_
#undef WIRE_GETTER_ROOMY_
#undef WIRE_GETTER_AS_
#undef WIRE_GET_U_
#undef WIRE_GET_S_
#undef WIRE_GET_D_
#undef WIRE_ROOMY_U_
#undef WIRE_ROOMY_D_

/* The next record at cur into *r: 1, or 0 at the end, or -1 if the record
 * is malformed (cur is then at its end).  Inline: stetho decodes every
 * event the agents send. */
static inline __attribute__((always_inline)) int
wire_next(struct wire_cur *cur, struct wire_record *r)
{
    /* cur itself, not a copy: a copy lives in memory anyway once a checked
     * read takes its address, and GCC copied it in and out with 16-byte
     * loads of (p, end) just after 8-byte stores of p, which no store
     * forwards: a stall per record, a fifth of memtrack_feed's samples
     * (perf, json_dumps). */
    struct vcur *c = &cur->v;
    if (c->bad)
        return -1;
    if (c->p >= c->end)
        return 0;
    uint8_t type = *c->p++;
    r->type = (enum agent_record)type;
    /* A record of varints only (every event) with room for its longest
     * form before the chunk's end -- nearly all of them: chunks are 4 KiB,
     * records ~11 bytes -- is read without an end test per byte. */
    size_t left = vcur_left(c);
    switch (type) {
#define WIRE_CASE_(NAME, code, name, fields)                                   \
    case AGENT_REC_##NAME:                                                     \
        if (WIRE_STRINGS_##NAME == 0 && left >= (size_t)WIRE_FIXED_##NAME - 1) \
            wire_get_roomy_##name##_(c, &cur->last, &r->u.name);               \
        else                                                                   \
            wire_get_##name##_(c, &cur->last, &r->u.name);                     \
        break;
        WIRE_RECORDS(WIRE_CASE_, , , )
#undef WIRE_CASE_
    default:
        c->bad = 1;
    }
    if (c->bad)
        c->p = c->end;          /* a roomy read stops inside the record (vcur_take_) */
    return c->bad ? -1 : 1;
}

/* Names (wire.c), for tools and messages: "frame", "malloc", "python"; NULL if the
 * value is not one. */
const char *wire_record_name(uint64_t type);
const char *wire_allocator_name(uint64_t allocator);
const char *wire_frame_kind_name(uint64_t kind);

#endif
