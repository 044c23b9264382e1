/*
 * framewin.h -- the memory around a thread's frames, read a few pages at a
 * time, for one walk of one stack.
 *
 * Contract: 3.11+ keeps a thread's frames one after another in its data
 * stack, each caller just below its callee, so a walk that reads the pages
 * below a frame in one call finds most callers already read; 3.9/3.10's
 * frame objects come from the allocator's pools, handed out in address
 * order, and a recursion's callers are often just below too.  A framewin
 * holds up to FRAMEWIN_MAX such windows for the stack being walked:
 * framewin_reset() at the start of every walk (memory read on an earlier
 * walk is never given out), framewin_get() the bytes of one frame, from a
 * window or from a new one (it reads only from the frame's own page down,
 * in whole pages, and stops at the first page it cannot read).  NULL means
 * "not from a window": the caller reads the frame on its own, as before.
 * framewin_reread_iov() and framewin_again() let a stability check read
 * every window again in one batched read and compare.  Never used on the
 * local reader (the agent reads its own frames in place).
 */
#ifndef STETHO_CPYTHON_FRAMEWIN_H
#define STETHO_CPYTHON_FRAMEWIN_H

#include <stddef.h>
#include <stdint.h>
#include "proc/reader.h"

#define FRAMEWIN_MAX 32             /* windows per walk */
#define FRAMEWIN_PAGES 16           /* pages per window at most */

struct framewin;

struct framewin *framewin_new(void);
void framewin_free(struct framewin *w);
void framewin_reset(struct framewin *w);

/* [addr, addr+len) from a window (reading one if no window holds it), or
 * NULL.  Valid until the next framewin_get or framewin_reset. */
const uint8_t *framewin_get(struct framewin *w, struct reader *rd, uint64_t addr, size_t len);

/* 1 if a window of this walk holds [addr, addr+len) and has handed out
 * that address or a lower one (what a re-read covers). */
int framewin_holds(struct framewin *w, uint64_t addr, size_t len);

/* One piece per window, reading again what it handed out (from its lowest
 * address given to its top) into a second copy: returns how many were put
 * in iov (room for FRAMEWIN_MAX). */
size_t framewin_reread_iov(struct framewin *w, struct reader_iov *iov);

/* [addr, addr+len) from that second copy, if a window held it; NULL if not
 * (or the piece was not read again). */
const uint8_t *framewin_again(const struct framewin *w, const struct reader_iov *iov,
                              uint64_t addr, size_t len);

#endif
