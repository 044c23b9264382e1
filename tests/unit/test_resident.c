/*
 * test_resident.c -- rss_files_read (proc/resident.h): the same figure as
 * proc_rss, fresh at every read of the open file, 0 and forgotten for a
 * process gone, and bounded to RSS_FILES_MAX open files.
 */
#include "check.h"
#include "proc/resident.h"

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

int main(void)
{
    test_self();
    test_gone_and_bounded();
    return CHECK_DONE();
}
