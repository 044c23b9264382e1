/*
 * reader_local.c -- read our own address space: a plain memcpy.
 *
 * For the in-process agent, which walks the calling thread's own frames:
 * those are changed only by that thread, which is busy calling us, so what
 * is read is consistent.  Unlike the other readers this one cannot survive
 * a bad address; callers that read what other threads change (the
 * interpreter's thread list) use reader_remote(getpid()) where allowed.
 */
#include "proc/reader.h"

static int local_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
    (void)ctx;
    return reader_local_copy(addr, dst, len);
}

struct reader reader_local(void)
{
    struct reader r = { .read = local_read, .ctx = NULL, .reads = 0, .local = 1 };
    return r;
}
