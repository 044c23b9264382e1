/*
 * proc_path.c -- /proc/PID/exe and /proc/PID/root helpers.
 */
#include "proc/proc_path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int proc_exe_path(pid_t pid, char *buf, size_t len)
{
    char link[64];

    if (len == 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
    ssize_t r = readlink(link, buf, len);
    if (r < 0)
        return -1;
    /* readlink does not terminate, and fills the buffer when truncating. */
    if ((size_t)r >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    buf[r] = '\0';
    return 0;
}

int proc_root_path(pid_t pid, const char *path, char *out, size_t len)
{
    int n = snprintf(out, len, "/proc/%d/root%s", (int)pid, path);
    if (n >= 0 && (size_t)n < len && access(out, F_OK) == 0)
        return 0;
    if (strlen(path) >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(out, path, strlen(path) + 1);
    return 0;
}

int proc_ptrace_scope(void)
{
    int scope = 0;
    FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "r");
    if (f) {
        if (fscanf(f, "%d", &scope) != 1)
            scope = 0;
        fclose(f);
    }
    return scope;
}
