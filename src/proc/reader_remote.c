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

struct reader reader_remote(pid_t pid)
{
    struct reader r = { .read = remote_read, .ctx = (void *)(intptr_t)pid, .reads = 0 };
    return r;
}
