/*
 * reader_image.h -- record the reads a walk makes, and replay them later.
 *
 * Contract: a recording reader forwards to an inner reader and keeps every
 * successful read; image_save() writes them with a small header describing
 * the target (so a test can rebuild it without the process).  image_load()
 * reads such a file back (bounded, validated: a bad file gives NULL and
 * errno, never a crash) and reader_image() serves reads that fall wholly
 * inside one recorded range; anything else fails with EFAULT, like a hole
 * in a real address space.
 *
 * File: "STHIMG1\n", then little-endian i32 pid, major, minor, micro,
 * u64 runtime, u64 code_type, then records of u64 addr, u32 len, len bytes.
 */
#ifndef STETHO_PROC_READER_IMAGE_H
#define STETHO_PROC_READER_IMAGE_H

#include <stdint.h>
#include <stdio.h>
#include "proc/reader.h"

struct image_meta {
    int32_t pid, major, minor, micro;
    uint64_t runtime, code_type;
};

struct image;

struct image *image_new(void);
struct image *image_load(const char *path, struct image_meta *meta);
int image_save(const struct image *img, const struct image_meta *meta, const char *path);
void image_free(struct image *img);

/* Serve reads from img. */
struct reader reader_image(struct image *img);

/* Forward to inner (which must outlive the result) and record into img. */
struct reader reader_recording(struct image *img, struct reader *inner);

#endif
