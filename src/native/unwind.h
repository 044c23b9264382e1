/*
 * unwind.h -- the native (C/C++) stack of a thread of another process.
 *
 * Contract: native_open() prepares a process for unwinding (its modules
 * read from /proc/PID/maps, their ELF and debug files found as gdb would);
 * NULL with a one-line message in err when it cannot, including when this
 * stetho was built without elfutils (then the message says so).
 * native_unwind() unwinds one thread that the caller holds ptrace-stopped
 * (freeze.h): it never stops or resumes a thread itself.  Frames come
 * innermost first, each with its module, the address inside the module's
 * ELF file (what addr2line -e MODULE takes, so it can be symbolized later
 * or elsewhere), the module's build-id and, where the module has symbols,
 * the function.  Strings stay valid until native_close().  Returns the
 * number of frames (0 if none could be read); at most max.  Modules mapped
 * after native_open() are found when a frame falls outside every known one:
 * the maps are read again and the thread unwound anew (a read that finds
 * no new module makes the next one wait longer, up to a second).
 */
#ifndef STETHO_NATIVE_UNWIND_H
#define STETHO_NATIVE_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct native_frame {
    uint64_t pc;            /* in the process; a caller's return address */
    uint64_t addr;          /* in the module's ELF file (the call's address
                               for callers), 0 if no module */
    const char *module;     /* the module's path as mapped, NULL if none */
    const char *symbol;     /* the function, NULL if unknown */
    char build_id[41];      /* hex, "" if none (truncated past 20 bytes) */
};

struct native_session;

/* NULL, or why this stetho cannot take native stacks at all. */
const char *native_unsupported(void);
struct native_session *native_open(pid_t pid, char *err, size_t errlen);
size_t native_unwind(struct native_session *s, pid_t tid, struct native_frame *out, size_t max);
void native_close(struct native_session *s);

#endif
