/*
 * resident.c -- RSS from statm, present pages from pagemap.
 */
#include "proc/resident.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PM_PRESENT (1ull << 63)        /* Documentation/admin-guide/mm/pagemap.rst */
#define PM_BATCH 4096                  /* entries per read: 32 KiB */

/* PAGEMAP_SCAN (Linux 6.7, include/uapi/linux/fs.h; Debian 12's headers
 * predate it): the kernel walks the range and returns only the runs of
 * pages in the categories asked for.  A read costs 8 bytes per page and the
 * kernel's walk fills them one by one even where no page table exists: the
 * 32 MiB OpenBLAS reserves per thread and never touches were most of
 * stetho's own CPU in the kernel on the bench's pipeline.  The scan skips
 * such holes whole and answers in a few runs. */
struct scan_region {
    uint64_t start, end, categories;
};
struct scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
_Static_assert(sizeof(struct scan_region) == 24 && sizeof(struct scan_arg) == 96,
               "the kernel's struct page_region and struct pm_scan_arg");
#define SCAN_IOCTL _IOWR('f', 16, struct scan_arg)
#define SCAN_IS_PRESENT (1u << 3)
#define SCAN_REGIONS 64

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

/* Present bytes in [start, end) (page aligned) by PAGEMAP_SCAN; -1 if the
 * kernel has no such ioctl (or refuses it, or answers what we did not ask
 * for): the caller reads instead. */
static int64_t scan_present(int fd, uint64_t start, uint64_t end)
{
    struct scan_region vec[SCAN_REGIONS];
    uint64_t bytes = 0;
    while (start < end) {
        struct scan_arg a = {
            .size = sizeof a, .start = start, .end = end,
            .vec = (uint64_t)(uintptr_t)vec, .vec_len = SCAN_REGIONS,
            .category_mask = SCAN_IS_PRESENT, .return_mask = SCAN_IS_PRESENT,
        };
        int n = ioctl(fd, SCAN_IOCTL, &a);
        if (n < 0 || n > SCAN_REGIONS || a.walk_end <= start || a.walk_end > end)
            return -1;
        for (int i = 0; i < n; i++)
            if (vec[i].start >= start && vec[i].end <= a.walk_end && vec[i].start < vec[i].end)
                bytes += vec[i].end - vec[i].start;
        start = a.walk_end;
    }
    return (int64_t)bytes;
}

int64_t pagemap_resident(int fd, uint64_t addr, uint64_t len, int *scan)
{
    uint64_t page = page_size(), first = addr / page, end = (addr + len + page - 1) / page;
    if (*scan) {
        int64_t scanned = scan_present(fd, first * page, end * page);
        if (scanned >= 0)
            return scanned < (int64_t)len ? scanned : (int64_t)len;
        /* an older kernel (ENOTTY), or one that refuses the arguments:
         * it will again, so this pagemap is read from now on.  A process
         * that is gone fails the read below as well. */
        *scan = 0;
    }
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
