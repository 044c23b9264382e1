/*
 * resident.c -- RSS from statm, present pages from pagemap.
 */
#include "proc/resident.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PM_PRESENT (1ull << 63)        /* Documentation/admin-guide/mm/pagemap.rst */
#define PM_BATCH 4096                  /* entries per read: 32 KiB */

static uint64_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (uint64_t)p : 4096;
}

/* statm's second field (resident pages) from its text, 0 if malformed. */
static uint64_t statm_resident(const char *text)
{
    char *end;
    strtoull(text, &end, 10);
    if (end == text || *end != ' ')
        return 0;
    const char *second = end + 1;
    unsigned long long resident = strtoull(second, &end, 10);
    return end == second ? 0 : (uint64_t)resident * page_size();
}

static int statm_open(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* The resident bytes statm says now, read from offset 0 of an open statm;
 * -1 if it cannot be read (the process is gone). */
static int64_t statm_read(int fd)
{
    char buf[160];
    ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
    if (r <= 0)
        return -1;
    buf[r] = 0;
    return (int64_t)statm_resident(buf);
}

uint64_t proc_rss(pid_t pid)
{
    int fd = statm_open(pid);
    if (fd < 0)
        return 0;
    int64_t bytes = statm_read(fd);
    close(fd);
    return bytes > 0 ? (uint64_t)bytes : 0;
}

static void rss_files_drop(struct rss_files *f, size_t i)
{
    close(f->fd[i]);
    f->n--;
    memmove(f->pid + i, f->pid + i + 1, (f->n - i) * sizeof *f->pid);
    memmove(f->fd + i, f->fd + i + 1, (f->n - i) * sizeof *f->fd);
}

uint64_t rss_files_read(struct rss_files *f, pid_t pid)
{
    size_t i = 0;
    while (i < f->n && f->pid[i] != pid)
        i++;
    if (i == f->n) {
        int fd = statm_open(pid);
        if (fd < 0)
            return 0;
        if (f->n == RSS_FILES_MAX)
            rss_files_drop(f, 0);
        i = f->n++;
        f->pid[i] = pid;
        f->fd[i] = fd;
    }
    int64_t bytes = statm_read(f->fd[i]);
    if (bytes < 0) {
        rss_files_drop(f, i);
        return 0;
    }
    return (uint64_t)bytes;
}

void rss_files_close(struct rss_files *f)
{
    while (f->n)
        rss_files_drop(f, f->n - 1);
}

int pagemap_open(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
    return open(path, O_RDONLY | O_CLOEXEC);
}

int64_t pagemap_resident(int fd, uint64_t addr, uint64_t len)
{
    uint64_t page = page_size(), first = addr / page, end = (addr + len + page - 1) / page;
    uint64_t entries[PM_BATCH], present = 0;
    for (uint64_t p = first; p < end;) {
        uint64_t n = end - p < PM_BATCH ? end - p : PM_BATCH;
        ssize_t r = pread(fd, entries, n * sizeof *entries, (off_t)(p * sizeof *entries));
        if (r <= 0)
            return -1;
        size_t got = (size_t)r / sizeof *entries;
        for (size_t i = 0; i < got; i++)
            present += (entries[i] & PM_PRESENT) != 0;
        p += got;
    }
    uint64_t bytes = present * page;
    return (int64_t)(bytes < len ? bytes : len);
}
