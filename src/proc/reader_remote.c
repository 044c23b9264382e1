/*
 * reader_remote.c -- read another process's memory with process_vm_readv.
 *
 * One call per read, no caching: the frame walker decides what to read.
 * The pid lives in the ctx pointer itself, so the reader needs no
 * allocation and no cleanup.
 */
#include "proc/reader.h"

#include <errno.h>
#include <sys/uio.h>

static int remote_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
    pid_t pid = (pid_t)(intptr_t)ctx;
    struct iovec local = { .iov_base = dst, .iov_len = len };
    struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };

    if (len == 0)
        return 0;
    ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (r < 0)
        return -1;
    /* A partial read means a page in the range is not mapped: the value
     * would be half garbage, so it is a failure like any bad address. */
    if ((size_t)r != len) {
        errno = EFAULT;
        return -1;
    }
    return 0;
}

/* Up to BATCH pieces per system call.  process_vm_readv stops at the first
 * piece it cannot read: the pieces before it are whole, that one failed,
 * and the ones after it are tried again in the next call. */
#define BATCH 64

static void remote_readv(void *ctx, struct reader_iov *iov, size_t n)
{
    pid_t pid = (pid_t)(intptr_t)ctx;
    size_t i = 0;
    while (i < n) {
        struct iovec local[BATCH], remote[BATCH];
        size_t k = 0, want = 0;
        for (; k < BATCH && i + k < n; k++) {
            local[k] = (struct iovec){ iov[i + k].dst, iov[i + k].len };
            remote[k] = (struct iovec){ (void *)(uintptr_t)iov[i + k].addr, iov[i + k].len };
            want += iov[i + k].len;
        }
        ssize_t got = process_vm_readv(pid, local, k, remote, k, 0);
        if (got < 0)
            got = 0;
        size_t done = 0, j = 0;
        for (; j < k && done + iov[i + j].len <= (size_t)got; j++) {
            done += iov[i + j].len;
            iov[i + j].ok = 1;
        }
        if ((size_t)got == want) {
            i += k;
            continue;
        }
        iov[i + j].ok = 0;          /* the piece it stopped in */
        i += j + 1;
    }
}

_Static_assert(READER_PREFIX_MAX <= BATCH, "a prefix read is one system call");

/* One call: process_vm_readv itself stops at the first piece it cannot
 * read, and the pieces before it are whole. */
static size_t remote_readv_prefix(void *ctx, struct reader_iov *iov, size_t n)
{
    pid_t pid = (pid_t)(intptr_t)ctx;
    struct iovec local[BATCH], remote[BATCH];
    if (n > READER_PREFIX_MAX)
        n = READER_PREFIX_MAX;
    if (!n)
        return 0;
    for (size_t k = 0; k < n; k++) {
        local[k] = (struct iovec){ iov[k].dst, iov[k].len };
        remote[k] = (struct iovec){ (void *)(uintptr_t)iov[k].addr, iov[k].len };
    }
    ssize_t got = process_vm_readv(pid, local, n, remote, n, 0);
    size_t done = 0, k = 0;
    for (; got > 0 && k < n && done + iov[k].len <= (size_t)got; k++)
        done += iov[k].len;
    return k;
}

struct reader reader_remote(pid_t pid)
{
    struct reader r = { .read = remote_read, .ctx = (void *)(intptr_t)pid, .reads = 0,
                        .readv = remote_readv, .readv_prefix = remote_readv_prefix };
    return r;
}
