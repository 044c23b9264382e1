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
 * the function (C++ names demangled) and, where it has debug information,
 * the source file and line (also the function's first line).  Each address is resolved once per session.
 * Strings stay valid until native_close().  Returns the
 * number of frames (0 if none could be read); at most max.  Modules mapped
 * after native_open() are found when a frame falls outside every known one:
 * the maps are read again and the thread unwound anew (a read that finds
 * no new module makes the next one wait longer, up to a second).
 *
 * Without stopping anything (perf sampling, native/perf.h): a session from
 * native_open_copy() never ptrace-attaches; native_unwind_copy() unwinds
 * one thread from registers and a copy of the top of its stack taken
 * earlier (by the kernel, at a perf sample), reading memory outside the
 * copy from the live process (process_vm_readv).  Registers not known
 * (e.g. only sp and pc, from /proc/PID/task/TID/syscall for a thread
 * blocked in a system call, whose stack holds still) are left undefined:
 * the unwind goes as far as the CFI needs nothing else.  A ptrace session
 * cannot unwind copies, nor a copy session ptrace-stopped threads (0).
 *
 * A session can also name the addresses of a process it never reads, from
 * a list of its modules (the memory agent's MODULE records, wire.h), so it
 * works after the process is gone: native_open_modules() makes one,
 * native_add_module() reports a module mapped at [start, end) from the ELF
 * file at path (a module overlapping one reported before is refused: -1),
 * native_describe() names one address as native_unwind() names a frame
 * (caller: pc is a return address, so its call is looked up), with the
 * same per-address cache: one place names native frames.
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
    const char *file;       /* the source file, NULL without debug info */
    int line;               /* its line, 0 if unknown */
    int first_line;         /* the function's first line, 0 if unknown */
    char build_id[41];      /* hex, "" if none (truncated past 20 bytes) */
};

struct native_session;

/* NULL, or why this stetho cannot take native stacks at all. */
const char *native_unsupported(void);
struct native_session *native_open(pid_t pid, char *err, size_t errlen);
size_t native_unwind(struct native_session *s, pid_t tid, struct native_frame *out, size_t max);
void native_close(struct native_session *s);

/* x86-64 registers in DWARF numbering (0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi,
 * 5 rdi, 6 rbp, 7 rsp, 8..15 r8..r15, 16 the pc). */
#define NATIVE_REG_SP 7
#define NATIVE_REG_PC 16
#define NATIVE_NREGS 17

struct native_regs {
    uint64_t r[NATIVE_NREGS];
    uint32_t known;         /* bit i: r[i] is set; the pc must be */
};

/* Changes whenever the modules are read again: frames of an older
 * generation (their strings) must not be used any more. */
uint64_t native_generation(const struct native_session *s);

struct native_session *native_open_copy(pid_t pid, char *err, size_t errlen);
size_t native_unwind_copy(struct native_session *s, pid_t tid, const struct native_regs *regs,
                          const unsigned char *stack, size_t stack_len,
                          struct native_frame *out, size_t max);

struct native_session *native_open_modules(char *err, size_t errlen);
int native_add_module(struct native_session *s, const char *path, uint64_t start, uint64_t end);
void native_describe(struct native_session *s, uint64_t pc, int caller, struct native_frame *out);

#endif
