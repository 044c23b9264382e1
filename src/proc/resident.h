/*
 * resident.h -- how much of a process's memory is resident.
 *
 * Contract: proc_rss() is the resident set of a process (/proc/PID/statm),
 * in bytes, 0 if it is gone.  pagemap_open() opens /proc/PID/pagemap for
 * reading (-1 with errno if it cannot: ESRCH/ENOENT when the process is
 * gone, EACCES/EPERM when not permitted); pagemap_resident() counts the
 * bytes of whole pages in [addr, addr + len) that are present in RAM now
 * (pages swapped out or never touched are not), or -1 if the pagemap could
 * not be read.  Reading costs 8 bytes per page of the range: callers bound
 * the ranges they measure.
 */
#ifndef STETHO_PROC_RESIDENT_H
#define STETHO_PROC_RESIDENT_H

#include <stdint.h>
#include <sys/types.h>

uint64_t proc_rss(pid_t pid);

int pagemap_open(pid_t pid);
int64_t pagemap_resident(int fd, uint64_t addr, uint64_t len);

#endif
