/*
 * format.h -- the numbers of the capture file format, shared by the writer
 * and the reader: header layouts, record types, sample flag bits, limits,
 * and the little-endian and CRC-32 helpers.  docs/capture-format.md is the
 * prose version of this file; change both together.
 */
#ifndef STETHO_CAPTURE_FORMAT_H
#define STETHO_CAPTURE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* File header: magic (8 bytes), u32 version, u32 flags. */
#define CAPF_MAGIC "STETHO\0C"          /* 'C': a capture, among stetho files */
#define CAPF_MAGIC_LEN 8
#define CAPF_HEADER_LEN 16
#define CAPF_VERSION 1

/* Block header: u32 magic, u32 raw length, u32 compressed length, u32 crc. */
#define CAPF_BLOCK_MAGIC 0x4b4c4253u    /* "SBLK" read as a little-endian u32 */
#define CAPF_BLOCK_HEADER_LEN 16
#define CAPF_BLOCK_MAX (64u << 20)      /* cap on both lengths, for readers */

/* The whole file's block payloads form one zstd stream whose window is kept
 * small, so a reader's memory stays bounded whatever the file claims. */
#define CAPF_WINDOW_LOG 21
#define CAPF_WINDOW_LOG_MAX 23

/* Writer limits, so one record always fits a block with room to spare. */
#define CAPF_BLOCK_TARGET (256u << 10)  /* flush once the raw block is this big */
#define CAPF_STRING_MAX (1u << 20)      /* longer strings are cut (UTF-8 safe) */
#define CAPF_RECORD_MAX (16u << 20)     /* argv entries past this are dropped */

/* Sanity bound for readers: a sampling interval of at most an hour.  (Times
 * are any uint64; consumers must not assume they are small.) */
#define CAPF_TIME_MAX_INTERVAL 3600000000000ull

enum capf_record {
    CAPF_STRING = 1,
    CAPF_FRAME = 2,
    CAPF_STACK = 3,
    CAPF_PROCESS = 4,
    CAPF_PROCESS_EXIT = 5,
    CAPF_THREAD = 6,
    CAPF_SAMPLE = 7,
    CAPF_META = 8,
    CAPF_END = 9,
    CAPF_TIMELINE = 10,
    CAPF_MEM_ALLOCS = 11,
    CAPF_MEM_PEAK = 12,
    CAPF_MEM_PEAK_STACK = 13,
    CAPF_MEM_STACK = 14,
    CAPF_MEM_TOTALS = 15,
    CAPF_MEM_GROWTH = 16,       /* a stack's live bytes over the run (format 1.1) */
    CAPF_GC = 17,               /* the garbage collector's counters (format 1.1) */
    CAPF_CALLS = 18,      /* exact call counts (format 1.1) */
    CAPF_TYPES = 19,            /* a type's part of an object census (format 1.1) */
    CAPF_GC_PAUSE = 20,         /* one collection, timed by the agent (format 1.1) */
    CAPF_MEM_LIVE = 21,         /* what a stack holds now, when it changed (format 1.1) */
    CAPF_MODULE = 22,           /* a native frame's module (format 1.2) */
};

/* MEM_GROWTH bounds, for readers: buckets per record and their width. */
#define CAPF_GROWTH_MAX 4096
#define CAPF_GROWTH_MAX_NS (1ull << 50)

/* SAMPLE flags.  Bits 0..6 say which of the seven time components are
 * present (non-zero): user, sys, then the CAP_WAIT_* kinds in order.  Bits
 * 7..9 hold 1 + the index of a component left out because it is the wall
 * time minus the others (0: none left out).  The writer leaves out the
 * largest, so what remains is small. */
#define CAPF_COMPONENTS (2 + 5)
#define CAPF_S_MASK 0x7fu
#define CAPF_S_IMPLIED_SHIFT 7
#define CAPF_S_PID (1u << 10)           /* pid differs from the previous sample */
#define CAPF_S_WALL (1u << 11)          /* wall given, not predicted */
#define CAPF_S_ALL 0xfffu               /* other bits: a layout not known here */

/* Wall time prediction: a thread's wall time is usually the time since its
 * previous sample, so both sides remember, per block, the last sample time
 * of the thread in each slot (tid mod CAPF_THREAD_SLOTS). */
#define CAPF_THREAD_SLOTS 256

struct capf_last {
    int used;
    int32_t pid, tid;
    uint64_t t_ns;
};

static inline struct capf_last *capf_slot(struct capf_last *slots, int32_t tid)
{
    return &slots[(uint32_t)tid % CAPF_THREAD_SLOTS];
}

/* 1 and *wall = the predicted wall time, or 0 when there is none. */
static inline int capf_predict(struct capf_last *slots, int32_t pid, int32_t tid,
                               uint64_t t_ns, uint64_t *wall)
{
    const struct capf_last *l = capf_slot(slots, tid);

    if (!l->used || l->pid != pid || l->tid != tid)
        return 0;
    *wall = t_ns - l->t_ns;
    return 1;
}

static inline void capf_remember(struct capf_last *slots, int32_t pid, int32_t tid,
                                 uint64_t t_ns)
{
    *capf_slot(slots, tid) = (struct capf_last){ 1, pid, tid, t_ns };
}

static inline uint32_t capf_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void capf_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* CRC-32 as zlib's crc32() computes it (reflected, polynomial 0xEDB88320),
 * four bits at a time: a 16-entry table is fast enough for blocks of a few
 * hundred KiB and needs no table built at run time. */
static inline uint32_t capf_crc32(const uint8_t *p, size_t n)
{
    static const uint32_t t[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    uint32_t c = 0xffffffffu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        c = (c >> 4) ^ t[c & 15];
        c = (c >> 4) ^ t[c & 15];
    }
    return ~c;
}

#endif
