/*
 * test_resident.c -- rss_files_read (proc/resident.h): the same figure as
 * proc_rss, fresh at every read of the open file, 0 and forgotten for a
 * process gone, and bounded to RSS_FILES_MAX open files.  pagemap_resident:
 * the present pages of a mapping untouched, touched in a pattern of more
 * runs than one scan returns, and whole, each as a plain read of
 * /proc/self/pagemap counts them -- through PAGEMAP_SCAN where the kernel
 * has it, and again through pagemap_resident's own read (what older
 * kernels get), so both ways are checked on a kernel that scans.
 */
#include "check.h"
#include "proc/resident.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MB (1024ull * 1024ull)

/* A child that waits for a signal; its pid, or -1. */
static pid_t parked_child(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    return pid;
}

static void test_self(void)
{
    struct rss_files f = { 0 };
    uint64_t a = rss_files_read(&f, getpid()), b = proc_rss(getpid());
    CHECK(a > 0);
    CHECK(a + MB > b && b + MB > a);
    CHECK_EQ_INT(f.n, 1);
    /* the same open file, read again: the pages touched since count */
    size_t len = 32 * MB;
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    if (m != MAP_FAILED) {
        memset(m, 1, len);
        uint64_t c = rss_files_read(&f, getpid());
        CHECK(c >= a + 30 * MB);
        munmap(m, len);
    }
    CHECK_EQ_INT(f.n, 1);
    rss_files_close(&f);
    CHECK_EQ_INT(f.n, 0);
}

static void test_gone_and_bounded(void)
{
    struct rss_files f = { 0 };
    enum { KIDS = RSS_FILES_MAX + 2 };
    pid_t kid[KIDS];
    int made = 0;
    for (; made < KIDS; made++)
        if ((kid[made] = parked_child()) < 0)
            break;
    CHECK_EQ_INT(made, KIDS);
    for (int i = 0; i < made; i++)
        CHECK(rss_files_read(&f, kid[i]) > 0);
    CHECK_EQ_INT(f.n, RSS_FILES_MAX);            /* the oldest were closed */
    CHECK(f.pid[f.n - 1] == kid[made - 1]);
    pid_t last = kid[made - 1];
    for (int i = 0; i < made; i++) {
        kill(kid[i], SIGKILL);
        waitpid(kid[i], NULL, 0);
    }
    size_t before = f.n;
    CHECK_EQ_INT(rss_files_read(&f, last), 0);  /* gone: 0, and forgotten */
    CHECK_EQ_INT(f.n, before - 1);
    rss_files_close(&f);
}

/* The oracle: present pages in [addr, addr + len) by reading each entry. */
static int64_t present_by_read(uint64_t addr, uint64_t len)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), n = 0;
    for (uint64_t p = addr / page; p < (addr + len + page - 1) / page; p++) {
        uint64_t e;
        if (pread(fd, &e, sizeof e, (off_t)(p * sizeof e)) != (ssize_t)sizeof e) {
            close(fd);
            return -1;
        }
        n += e >> 63;
    }
    close(fd);
    return (int64_t)(n * page);
}

/* start: pagemap_resident's flag to begin with (1: PAGEMAP_SCAN where the
 * kernel has it; 0: its read). */
static void test_pagemap(int start)
{
    int scan = start;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    size_t len = 16 * MB;
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    if (m == MAP_FAILED)
        return;
    madvise(m, len, MADV_NOHUGEPAGE);           /* one page per touch: the pattern holds */
    int fd = pagemap_open(getpid());
    CHECK(fd >= 0);
    uint64_t a = (uint64_t)(uintptr_t)m;
    CHECK_EQ_INT(pagemap_resident(fd, a, len, &scan), 0);
    /* every other page of the first 2 MiB: 256 runs, several scans' worth */
    for (size_t off = 0; off < 2 * MB; off += 2 * page)
        m[off] = 1;
    CHECK_EQ_INT(pagemap_resident(fd, a, len, &scan), (int64_t)(MB));
    CHECK_EQ_INT(pagemap_resident(fd, a, len, &scan), present_by_read(a, len));
    /* an unaligned range: whole pages from the one addr is in */
    CHECK_EQ_INT(pagemap_resident(fd, a + 3 * page + 17, 10 * page, &scan), 5 * (int64_t)page);
    memset(m, 2, len);
    CHECK_EQ_INT(pagemap_resident(fd, a, len, &scan), (int64_t)len);
    CHECK_EQ_INT(pagemap_resident(fd, a + 100, len - 100, &scan), (int64_t)len - 100);   /* capped */
    if (!start)
        CHECK_EQ_INT(scan, 0);                 /* asked to read: never scanned */
    close(fd);
    munmap(m, len);
}

int main(void)
{
    test_pagemap(1);
    test_pagemap(0);
    test_self();
    test_gone_and_bounded();
    return CHECK_DONE();
}
