/*
 * threads.c -- list a process's threads and read their names.
 */
#include "proc/threads.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* A directory entry name that is a positive decimal pid, else 0. */
static pid_t parse_pid(const char *s)
{
    long v = 0;

    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000)
            return 0;
        v = v * 10 + (*s - '0');
    }
    return (pid_t)v;
}

int threads_list(pid_t pid, pid_t **tids, size_t *n)
{
    char path[64];
    pid_t *v = NULL;
    size_t len = 0, cap = 0;
    struct dirent *de;

    *tids = NULL;
    *n = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        pid_t tid = parse_pid(de->d_name);
        if (tid <= 0)
            continue;
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            pid_t *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                free(v);
                closedir(d);
                errno = ENOMEM;
                return -1;
            }
            v = nv;
            cap = ncap;
        }
        v[len++] = tid;
    }
    int err = errno;    /* readdir's, if it failed */
    closedir(d);
    if (err) {
        free(v);
        errno = err;
        return -1;
    }
    if (len == 0) {     /* the process exited while we looked */
        free(v);
        errno = ESRCH;
        return -1;
    }
    qsort(v, len, sizeof *v, cmp_pid);
    *tids = v;
    *n = len;
    return 0;
}

int thread_name(pid_t pid, pid_t tid, char *buf, size_t len)
{
    char path[96];
    char tmp[256];

    if (len == 0) {
        errno = EINVAL;
        return -1;
    }
    snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t r;
    do
        r = read(fd, tmp, sizeof tmp - 1);
    while (r < 0 && errno == EINTR);
    int err = errno;
    close(fd);
    if (r < 0) {
        errno = err;
        return -1;
    }
    size_t k = (size_t)r;
    if (k > 0 && tmp[k - 1] == '\n')
        k--;
    if (k > len - 1)
        k = len - 1;
    memcpy(buf, tmp, k);
    buf[k] = '\0';
    return 0;
}
