/*
 * maps.h -- the memory mappings of a process, from /proc/PID/maps.
 *
 * Contract: maps_read() fills a heap-allocated list (free with maps_free());
 * returns 0, or -1 with errno set (ENOENT/ESRCH: no such process, EACCES;
 * a process with no mappings -- exited, or a kernel thread -- gives ESRCH).
 * Paths are as the kernel prints them (may end in " (deleted)"; pseudo
 * entries such as "[heap]" kept; anonymous mappings have path "").
 */
#ifndef STETHO_PROC_MAPS_H
#define STETHO_PROC_MAPS_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

struct map_entry {
    uint64_t start, end, offset;
    char perms[5];          /* "r-xp" */
    char *path;
};

struct map_list {
    struct map_entry *v;
    size_t n;
};

int maps_read(pid_t pid, struct map_list *out);
int maps_parse(const char *text, struct map_list *out); /* for tests */
void maps_free(struct map_list *m);

/* The lowest-addressed mapping (normally file offset 0) of the file `path`. */
const struct map_entry *maps_first_of(const struct map_list *m, const char *path);

#endif
