/*
 * intern.h -- the capture writer's intern tables: string -> id,
 * (function, file, line, first_line, kind) -> id and (parent, frame) -> id.
 * Ids are dense from 1, in the order things were first seen, which is the
 * order the writer defines them in the file.
 */
#ifndef STETHO_CAPTURE_INTERN_H
#define STETHO_CAPTURE_INTERN_H

#include <stddef.h>
#include <stdint.h>

/* Open addressing, linear probing; slot id 0 = empty.  The hash is kept so
 * growing never has to look at the keys again. */
struct idtab {
    struct idslot { uint32_t hash, id; } *slots;
    size_t cap;                 /* a power of two, or 0 */
};

struct ikey_frame {
    uint32_t function, file;
    int32_t line, first_line;
    uint8_t kind;
    uint32_t module;
    uint64_t addr;
};
/* Two ids: a stack's (parent, frame), a module's (path, build-id). */
struct ikey_pair { uint32_t a, b; };
struct pairs {
    struct ikey_pair *keys;     /* [id - 1] */
    uint32_t n;
    size_t cap;
    struct idtab tab;
};

struct intern {
    struct istr { char *s; size_t len; } *strs;             /* [id - 1] */
    struct ikey_frame *frames;
    uint32_t nstrs, nframes;
    size_t strs_cap, frames_cap;
    struct idtab strtab, frametab;
    struct pairs stacks, modules;
};

void intern_init(struct intern *t);
void intern_free(struct intern *t);
/* Each returns the key's id, setting *fresh when it was just added, or 0
 * when out of memory or out of ids. */
uint32_t intern_string(struct intern *t, const char *s, size_t len, int *fresh);
uint32_t intern_frame(struct intern *t, const struct ikey_frame *k, int *fresh);
uint32_t intern_pair(struct pairs *t, uint32_t a, uint32_t b, int *fresh);

#endif
