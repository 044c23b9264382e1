/*
 * proc_path.h -- paths of a process's files, as seen from our side.
 *
 * Contract: proc_exe_path() gives the target of /proc/PID/exe (a path in the
 * process's own mount namespace; may end in " (deleted)").  proc_root_path()
 * turns a path the process sees (from its maps, say) into one we can open:
 * "/proc/PID/root" + path, which reaches into a container's filesystem, or
 * the plain path when that does not exist or is not accessible.  Both return
 * 0, or -1 with errno set (ENAMETOOLONG if buf/out is too small; for
 * proc_exe_path also ENOENT/ESRCH: no such process, EACCES).
 * proc_ptrace_scope() gives kernel.yama.ptrace_scope, 0 where Yama is
 * absent or the file unreadable (for the line that says how to fix a
 * refused attach).
 */
#ifndef STETHO_PROC_PROC_PATH_H
#define STETHO_PROC_PROC_PATH_H

#include <stddef.h>
#include <sys/types.h>

int proc_exe_path(pid_t pid, char *buf, size_t len);
int proc_root_path(pid_t pid, const char *path, char *out, size_t len);
int proc_ptrace_scope(void);

#endif
