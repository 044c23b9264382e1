/*
 * threadstat.c -- per-thread scheduler accounting from /proc, cheaply.
 *
 * Two or three small files per thread per sample; keeping them open and
 * pread()ing from offset 0 avoids an open/close pair each (procfs
 * regenerates the contents on every read from the start).
 */
#include "proc/threadstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { F_SCHEDSTAT, F_STAT, F_SYSCALL, NFILES };
static const char *const file_names[NFILES] = { "schedstat", "stat", "syscall" };

struct entry {
    pid_t tid;                  /* 0: free */
    int fd[NFILES];
    int used;                   /* read since the last sweep */
    /* /syscall as last read of the thread blocked, and its CPU time and
     * times switched in (schedstat) read just before: while both stay the
     * same the thread has not run since, so it is blocked where it was,
     * with the same arguments and user sp/pc -- no need to read it again
     * (that read is most of a blocked thread's cost: the kernel makes sure
     * the thread is off its CPU) */
    int kept;
    uint64_t kept_cpu, kept_runs;
    long kept_nr;
    uint64_t kept_arg0, kept_arg1, kept_sp, kept_pc;
};

struct threadstat {
    pid_t pid;
    struct entry *v;
    size_t n, cap;
};

struct threadstat *threadstat_new(pid_t pid)
{
    struct threadstat *ts = calloc(1, sizeof *ts);
    if (ts)
        ts->pid = pid;
    return ts;
}

static void entry_close(struct entry *e)
{
    for (int i = 0; i < NFILES; i++)
        if (e->fd[i] >= 0)
            close(e->fd[i]);
    e->tid = 0;
}

void threadstat_free(struct threadstat *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < ts->n; i++)
        if (ts->v[i].tid)
            entry_close(&ts->v[i]);
    free(ts->v);
    free(ts);
}

void threadstat_sweep(struct threadstat *ts)
{
    size_t k = 0;
    for (size_t i = 0; i < ts->n; i++) {
        struct entry *e = &ts->v[i];
        if (!e->used) {
            entry_close(e);
            continue;
        }
        e->used = 0;
        ts->v[k++] = *e;
    }
    ts->n = k;
}

static struct entry *get(struct threadstat *ts, pid_t tid)
{
    for (size_t i = 0; i < ts->n; i++)
        if (ts->v[i].tid == tid)
            return &ts->v[i];
    if (ts->n == ts->cap) {
        size_t ncap = ts->cap ? ts->cap * 2 : 16;
        struct entry *nv = realloc(ts->v, ncap * sizeof *nv);
        if (!nv)
            return NULL;
        ts->v = nv;
        ts->cap = ncap;
    }
    struct entry *e = &ts->v[ts->n];
    e->tid = tid;
    e->used = 0;
    e->kept = 0;
    for (int i = 0; i < NFILES; i++) {
        char path[96];
        snprintf(path, sizeof path, "/proc/%d/task/%d/%s", (int)ts->pid, (int)tid,
                 file_names[i]);
        e->fd[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (e->fd[i] < 0 && i != F_SYSCALL) {   /* syscall needs ptrace rights */
            for (int j = 0; j < i; j++)
                if (e->fd[j] >= 0)
                    close(e->fd[j]);
            return NULL;
        }
    }
    ts->n++;
    return e;
}

static ssize_t read_file(int fd, char *buf, size_t len)
{
    ssize_t n;
    do
        n = pread(fd, buf, len - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        buf[n] = 0;
    return n;
}

/* A decimal number at *p, then one space or the end of a line: the number
 * and *p past it; -1 if there is none.  By hand: sscanf was a quarter of
 * what reading these files costs stetho, and they are read every sample. */
static int parse_u64(const char **p, uint64_t *out)
{
    const char *q = *p;
    uint64_t v = 0;
    if (*q < '0' || *q > '9')
        return -1;
    for (; *q >= '0' && *q <= '9'; q++)
        v = v * 10 + (uint64_t)(*q - '0');      /* wraps on nonsense: no UB */
    if (*q != ' ' && *q != '\n' && *q != 0)
        return -1;
    *p = *q ? q + 1 : q;
    *out = v;
    return 0;
}

/* /schedstat: "on-CPU-ns run-queue-ns timeslices"; *runs = timeslices, or
 * UINT64_MAX if absent (then nothing is kept on it). */
static int parse_schedstat(const char *p, struct thread_times *t, uint64_t *runs)
{
    if (parse_u64(&p, &t->cpu_ns) < 0 || parse_u64(&p, &t->runq_ns) < 0)
        return -1;
    if (parse_u64(&p, runs) < 0)
        *runs = UINT64_MAX;
    return 0;
}

/* /stat: "tid (comm) S ppid ... utime stime ..."; comm may hold spaces and
 * parentheses, so parse from the last ')'. */
static int parse_stat(const char *buf, struct thread_times *t)
{
    const char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ' || !p[2])
        return -1;
    t->state = p[2];
    /* fields after the state: ppid pgrp session tty tpgid flags minflt
     * cminflt majflt cmajflt utime stime (utime is the 11th) */
    p += 3;
    for (int i = 0; i < 11; i++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    return parse_u64(&p, &t->utime) < 0 || parse_u64(&p, &t->stime) < 0 ? -1 : 0;
}

/* The thread is gone (or its tid was reused by a new one): close its files
 * so that the next read of that tid opens the new thread's. */
static int forget(struct threadstat *ts, struct entry *e)
{
    entry_close(e);
    *e = ts->v[--ts->n];
    return -1;
}

int threadstat_read(struct threadstat *ts, pid_t tid, struct thread_times *t)
{
    struct entry *e = get(ts, tid);
    char buf[1024];
    if (!e)
        return -1;
    e->used = 1;
    uint64_t runs;
    if (read_file(e->fd[F_SCHEDSTAT], buf, sizeof buf) <= 0 || parse_schedstat(buf, t, &runs) < 0)
        return forget(ts, e);
    if (read_file(e->fd[F_STAT], buf, sizeof buf) <= 0 || parse_stat(buf, t) < 0)
        return forget(ts, e);
    t->syscall = -1;
    t->syscall_arg0 = t->syscall_arg1 = 0;
    t->user_sp = t->user_pc = 0;
    if (t->state == 'R')
        return 0;
    if (e->kept && runs != UINT64_MAX && e->kept_cpu == t->cpu_ns && e->kept_runs == runs) {
        t->syscall = e->kept_nr;        /* not run since: blocked where it was */
        t->syscall_arg0 = e->kept_arg0;
        t->syscall_arg1 = e->kept_arg1;
        t->user_sp = e->kept_sp;
        t->user_pc = e->kept_pc;
        return 0;
    }
    e->kept = 0;
    /* "running", or "-1 sp pc" (blocked outside a syscall), or
     * "nr arg0 ... arg5 sp pc"; only worth asking when the thread sleeps */
    if (e->fd[F_SYSCALL] >= 0 && read_file(e->fd[F_SYSCALL], buf, sizeof buf) > 0) {
        long nr;
        unsigned long long a[8];
        int got = sscanf(buf, "%ld 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx",
                         &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5], &a[6], &a[7]);
        if (got >= 2 && nr >= 0) {
            t->syscall = nr;
            t->syscall_arg0 = a[0];
            t->syscall_arg1 = got >= 3 ? a[1] : 0;
        }
        if ((got == 9 && nr >= 0) || (got == 3 && nr < 0)) {
            t->user_sp = nr >= 0 ? a[6] : a[0];
            t->user_pc = nr >= 0 ? a[7] : a[1];
        }
        e->kept = got >= 1;             /* not "running" */
        e->kept_cpu = t->cpu_ns;
        e->kept_runs = runs;
        e->kept_nr = t->syscall;
        e->kept_arg0 = t->syscall_arg0;
        e->kept_arg1 = t->syscall_arg1;
        e->kept_sp = t->user_sp;
        e->kept_pc = t->user_pc;
    }
    return 0;
}

enum wait_class wait_classify(long nr, uint64_t arg0, uint64_t arg1)
{
    if (((nr == SYS_select || nr == SYS_pselect6) && arg0 == 0) ||
        ((nr == SYS_poll || nr == SYS_ppoll) && arg1 == 0))
        return WAITC_SLEEP;
    switch (nr) {
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
    case SYS_pause:
        return WAITC_SLEEP;
    case SYS_futex:
#ifdef SYS_futex_waitv
    case SYS_futex_waitv:
#endif
        return WAITC_FUTEX;
    case SYS_read: case SYS_write: case SYS_readv: case SYS_writev:
    case SYS_pread64: case SYS_pwrite64: case SYS_preadv: case SYS_pwritev:
    case SYS_preadv2: case SYS_pwritev2:
    case SYS_recvfrom: case SYS_sendto: case SYS_recvmsg: case SYS_sendmsg:
    case SYS_recvmmsg: case SYS_sendmmsg: case SYS_sendfile: case SYS_splice:
    case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6:
    case SYS_epoll_wait: case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_accept: case SYS_accept4: case SYS_connect:
    case SYS_open: case SYS_openat: case SYS_fsync: case SYS_fdatasync:
    case SYS_io_getevents:
#ifdef SYS_io_uring_enter
    case SYS_io_uring_enter:
#endif
        return WAITC_IO;
    default:
        return WAITC_OTHER;
    }
}
