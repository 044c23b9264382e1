/*
 * threads.h -- the threads of a process, from /proc/PID/task.
 *
 * Contract: threads_list() returns the thread ids sorted ascending in a
 * heap array the caller free()s (the list is a snapshot: threads may come
 * and go right after).  thread_name() gives /proc/PID/task/TID/comm without
 * its newline, truncated to fit buf.  Both return 0, or -1 with errno set
 * (ENOENT/ESRCH: no such process or thread, EACCES).
 */
#ifndef STETHO_PROC_THREADS_H
#define STETHO_PROC_THREADS_H

#include <stddef.h>
#include <sys/types.h>

int threads_list(pid_t pid, pid_t **tids, size_t *n);
int thread_name(pid_t pid, pid_t tid, char *buf, size_t len);

#endif
