/*
 * census.h -- live Python objects by type: one census of one process, made
 * by reading the type of each live object-allocator block (cpython/
 * objtype.h) and written as TYPES records (capture.h cap_type_count).
 *
 * Contract: census_begin(pid), census_add() for each live block the agent
 * reported from PyObject_Malloc's domain (with the capture stack that
 * allocated it and what it stands for: one block, or a sampled block's
 * estimated count and bytes), census_end() to read what is still pending
 * and write one record per (type, stack).  Blocks are read in batches
 * (one process_vm_readv per batch).  A block whose type does not check
 * out, or cannot be read (freed and unmapped since), is not counted.
 * census_end() returns the objects counted (0 and nothing written when
 * out of memory: a census with types missing would mislead).  Memory: the batch,
 * the type cache and the (type, stack) table of one census; a census_new()
 * is used by one thread.
 */
#ifndef STETHO_MEMORY_CENSUS_H
#define STETHO_MEMORY_CENSUS_H

#include <stdint.h>
#include <sys/types.h>
#include "capture/capture.h"

struct census;

struct census *census_new(struct capture_writer *w);
void census_free(struct census *c);

void census_begin(struct census *c, pid_t pid);
/* size: the block's own size; count, bytes: what it stands for. */
void census_add(struct census *c, uint64_t addr, uint64_t size, uint64_t count,
                uint64_t bytes, uint32_t stack);
uint64_t census_end(struct census *c, uint64_t t_ns);

#endif
