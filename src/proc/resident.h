/*
 * resident.h -- how much of a process's memory is resident.
 *
 * Contract: proc_rss() is the resident set of a process (/proc/PID/statm),
 * in bytes, 0 if it is gone.  pagemap_open() opens /proc/PID/pagemap for
 * reading (-1 with errno if it cannot: ESRCH/ENOENT when the process is
 * gone, EACCES/EPERM when not permitted); pagemap_resident() counts the
 * bytes of whole pages in [addr, addr + len) that are present in RAM now
 * (pages swapped out or never touched are not), or -1 if the pagemap could
 * not be read.  Through PAGEMAP_SCAN where the kernel has it (6.7+: it
 * skips what was never touched at once), else reading costs 8 bytes per
 * page of the range: callers bound the ranges they measure.  *scan (one
 * per open pagemap, 1 to begin with) says whether to try PAGEMAP_SCAN:
 * it is set to 0 once the kernel refuses it, so that later calls read at
 * once; 0 from the start reads always (the unit test's way to check the
 * read on a kernel that scans).
 */
#ifndef STETHO_PROC_RESIDENT_H
#define STETHO_PROC_RESIDENT_H

#include <stdint.h>
#include <sys/types.h>

uint64_t proc_rss(pid_t pid);

/* The same, read many times a second (the memory timeline, 100 a second):
 * /proc/PID/statm kept open per pid and read again from offset 0 (opening
 * it and parsing with stdio each time was ~5 % of stetho's own CPU on a
 * program that allocates little).  A pid whose read fails is closed and
 * dropped (gone; a new process under its number opens anew); past
 * RSS_FILES_MAX pids the oldest is closed.  Zeroed to begin with;
 * rss_files_close() closes what is open. */
#define RSS_FILES_MAX 64
struct rss_files {
    size_t n;
    pid_t pid[RSS_FILES_MAX];
    int fd[RSS_FILES_MAX];
};
uint64_t rss_files_read(struct rss_files *f, pid_t pid);
void rss_files_close(struct rss_files *f);

int pagemap_open(pid_t pid);
int64_t pagemap_resident(int fd, uint64_t addr, uint64_t len, int *scan);

#endif
