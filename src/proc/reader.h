/*
 * reader.h -- an abstract "read bytes at an address" used by the frame walker.
 *
 * Contract: read(ctx, addr, dst, len) copies exactly len bytes from addr in
 * some address space into dst and returns 0, or returns -1 with errno set if
 * any byte could not be read (dst is then unspecified).  Implementations:
 * remote (process_vm_readv, reader_remote.c), replay (a recorded image, for
 * tests, reader_image.c), and local (our own memory, for the in-process
 * agent, reader_local.c: it faults on a bad address).
 * A reader never blocks for long and never crashes on a bad address.
 */
#ifndef STETHO_PROC_READER_H
#define STETHO_PROC_READER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* One piece of a batched read. */
struct reader_iov {
    uint64_t addr;
    void *dst;
    size_t len;
    int ok;             /* set by reader_readv */
};

struct reader {
    int (*read)(void *ctx, uint64_t addr, void *dst, size_t len);
    void *ctx;
    uint64_t reads;     /* number of read calls, for cost accounting */
    /* optional: many reads at once (one system call for the remote
     * reader); sets each iov's ok.  NULL: reader_readv loops over read. */
    void (*readv)(void *ctx, struct reader_iov *iov, size_t n);
    /* optional: pieces read in order up to the first that fails, in one
     * system call (remote, at most READER_PREFIX_MAX pieces); returns how
     * many were read whole.  NULL: reader_readv_prefix loops over read. */
    size_t (*readv_prefix)(void *ctx, struct reader_iov *iov, size_t n);
    /* 1: the addresses are ours (reader_local): what is read may be read
     * in place, with plain loads, rather than copied out by read */
    int local;
};

/* The local reader's read (reader_local.c), here so that reader_read does
 * it inline: the agent reads through it on every allocation. */
static inline int reader_local_copy(uint64_t addr, void *dst, size_t len)
{
    if (addr < 4096) {          /* a NULL pointer plus a field offset */
        errno = EFAULT;
        return -1;
    }
    memcpy(dst, (const void *)(uintptr_t)addr, len);
    return 0;
}

static inline int reader_read(struct reader *r, uint64_t addr, void *dst, size_t len)
{
    r->reads++;
    if (r->local)
        return reader_local_copy(addr, dst, len);
    return r->read(r->ctx, addr, dst, len);
}

static inline void reader_readv(struct reader *r, struct reader_iov *iov, size_t n)
{
    if (!n)
        return;
    r->reads++;
    if (r->readv) {
        r->readv(r->ctx, iov, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        iov[i].ok = r->read(r->ctx, iov[i].addr, iov[i].dst, iov[i].len) == 0;
}

#define READER_PREFIX_MAX 64

/* The leading pieces of iov[0..n) that can be read, n <= READER_PREFIX_MAX:
 * returns how many were read whole, in order; the rest are not tried (a
 * read reaching into unmapped memory costs no extra call). */
static inline size_t reader_readv_prefix(struct reader *r, struct reader_iov *iov, size_t n)
{
    if (!n)
        return 0;
    r->reads++;
    if (r->readv_prefix)
        return r->readv_prefix(r->ctx, iov, n);
    size_t k = 0;
    while (k < n && r->read(r->ctx, iov[k].addr, iov[k].dst, iov[k].len) == 0)
        k++;
    return k;
}

static inline int reader_ptr(struct reader *r, uint64_t addr, uint64_t *out)
{
    return reader_read(r, addr, out, sizeof *out);
}

/* A reader of process `pid`'s memory via process_vm_readv. */
struct reader reader_remote(pid_t pid);

/* A reader of our own memory (memcpy), for the in-process agent: it
 * faults on a bad address, see reader_local.c. */
struct reader reader_local(void);

#endif
