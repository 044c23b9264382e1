/*
 * remote_exec.c -- Python source run by another process's main thread
 * through CPython's pending calls (remote_exec.h).
 *
 * Why pending calls and not a direct call of PyRun_SimpleString from the
 * stopped thread: a thread stopped anywhere may hold malloc's lock, the
 * loader's, the import lock or none of the GIL; a pending call runs where
 * CPython runs signal handlers, which may do anything.  Py_AddPendingCall
 * itself is made for being called from any thread without the GIL, takes
 * one lock of its own and allocates nothing, so calling it from the
 * stopped thread is safe unless that very thread holds that lock: the
 * functions that do are looked up and the thread is never used inside one.
 * The page for the source comes from an injected mmap system call (no
 * lock), not from malloc.  3.14+ has sys.remote_exec (PEP 768), which is
 * the supported way there; it is not wired up (untested here).
 */
#include "cpython/remote_exec.h"
#include "proc/elf.h"
#include "proc/inject.h"
#include "proc/maps.h"
#include "proc/proc_path.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

enum { PAGE = 4096, RETRIES = 200 };

/* Functions that hold the pending-calls lock while they run (names of
 * 3.9-3.13; the static ones are found only where .symtab was kept). */
static const char *const lock_holders[] = {
    "Py_AddPendingCall", "_PyEval_AddPendingCall", "make_pending_calls",
    "_PyEval_MakePendingCalls", "Py_MakePendingCalls", "_pop_pending_call",
    "_push_pending_call",
};
enum { NHOLDERS = sizeof lock_holders / sizeof lock_holders[0] };

struct range {
    uint64_t lo, hi;
};

struct entry_points {
    uint64_t add_pending, run_string, syscall_insn;
    struct range busy[NHOLDERS];
};

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

const char *py_remote_exec_unsupported(const struct py_target *t)
{
    if (t->major == 3 && t->minor >= 9 && t->minor <= 13)
        return NULL;
    if (t->major == 3 && t->minor >= 14)
        return "memory attach is not supported on Python 3.14+ yet (it would use "
               "sys.remote_exec); start the program with 'stetho run --memory'";
    return "memory attach needs Python 3.9 to 3.13";
}

/* A `syscall` instruction (0f 05) in the first executable mapping of libc:
 * any two such bytes do, the CPU decodes from where we point it. */
static uint64_t find_syscall_insn(pid_t pid, const struct map_list *maps)
{
    uint8_t buf[65536];
    for (size_t i = 0; i < maps->n; i++) {
        const struct map_entry *m = &maps->v[i];
        const char *base = strrchr(m->path, '/');
        if (m->perms[2] != 'x' || !base || strncmp(base + 1, "libc", 4) != 0 ||
            (base[5] != '.' && base[5] != '-'))
            continue;
        for (uint64_t at = m->start; at < m->end; at += sizeof buf - 1) {
            size_t len = m->end - at < sizeof buf ? (size_t)(m->end - at) : sizeof buf;
            struct iovec local = { buf, len }, remote = { (void *)at, len };
            if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)len)
                break;
            for (size_t j = 0; j + 1 < len; j++)
                if (buf[j] == 0x0f && buf[j + 1] == 0x05)
                    return at + j;
        }
    }
    return 0;
}

static int find_entry_points(const struct py_target *t, struct entry_points *ep, char *err,
                             size_t errlen)
{
    memset(ep, 0, sizeof *ep);
    struct map_list maps;
    if (maps_read(t->pid, &maps) < 0)
        return fail(err, errlen, "cannot read the mappings of process %d: %s", (int)t->pid,
                    strerror(errno));
    int rc = -1;
    const struct map_entry *first = maps_first_of(&maps, t->binary);
    char full[4096];
    struct elf_file *ef = NULL;
    if (!first || proc_root_path(t->pid, t->binary, full, sizeof full) < 0 ||
        elf_open(full, &ef) < 0) {
        fail(err, errlen, "cannot read the symbols of %s", t->binary);
        goto out;
    }
    uint64_t bias = elf_load_bias(ef, first->start), v, size;
    if (elf_symbol(ef, "Py_AddPendingCall", &v, &size) == 0)
        ep->add_pending = bias + v;
    if (elf_symbol(ef, "PyRun_SimpleString", &v, &size) == 0)
        ep->run_string = bias + v;
    for (int i = 0; i < NHOLDERS; i++)
        if (elf_symbol(ef, lock_holders[i], &v, &size) == 0 && size)
            ep->busy[i] = (struct range){ bias + v, bias + v + size };
    elf_close(ef);
    if (!ep->add_pending || !ep->run_string) {
        fail(err, errlen, "%s exports no Py_AddPendingCall/PyRun_SimpleString: memory "
             "attach is not supported on this interpreter", t->binary);
        goto out;
    }
    ep->syscall_insn = find_syscall_insn(t->pid, &maps);
    if (!ep->syscall_insn) {
        fail(err, errlen, "process %d has no libc mapped that stetho can use", (int)t->pid);
        goto out;
    }
    rc = 0;
out:
    maps_free(&maps);
    return rc;
}

static int in_busy(const struct entry_points *ep, uint64_t pc)
{
    for (int i = 0; i < NHOLDERS; i++)
        if (pc >= ep->busy[i].lo && pc < ep->busy[i].hi)
            return 1;
    return 0;
}

static int ptrace_failed(const struct py_target *t, char *err, size_t errlen)
{
    int e = errno;
    if (e == EPERM || e == EACCES) {
        int scope = proc_ptrace_scope();
        if (scope > 0)
            return fail(err, errlen, "cannot attach to process %d: ptrace is restricted "
                        "(kernel.yama.ptrace_scope=%d); run stetho as root, or set that "
                        "sysctl to %s", (int)t->pid, scope, scope >= 3 ? "0 (needs a reboot "
                        "at 3)" : "0");
        return fail(err, errlen, "cannot attach to process %d: not permitted (is it traced "
                    "by a debugger already? run stetho as the program's user or as root; "
                    "in a container add the SYS_PTRACE capability)", (int)t->pid);
    }
    if (e == ESRCH)
        return fail(err, errlen, "process %d exited", (int)t->pid);
    return fail(err, errlen, "cannot attach to process %d: %s", (int)t->pid, strerror(e));
}

int py_remote_exec(const struct py_target *t, const char *source, char *err, size_t errlen)
{
    const char *why = py_remote_exec_unsupported(t);
    if (why)
        return fail(err, errlen, "%s", why);
    size_t len = strlen(source) + 1;
    if (len > PAGE)
        return fail(err, errlen, "internal: remote source too long");
    struct entry_points ep;
    if (find_entry_points(t, &ep, err, errlen) < 0)
        return -1;

    struct inject in;
    for (int tries = 0;; tries++) {
        if (inject_begin(&in, t->pid) < 0)
            return ptrace_failed(t, err, errlen);
        if (!in_busy(&ep, inject_pc(&in)))
            break;
        inject_end(&in);
        if (tries == RETRIES)
            return fail(err, errlen, "process %d is always busy in its pending calls",
                        (int)t->pid);
        nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
    }
    int rc = -1;
    uint64_t page;
    const uint64_t mmap_args[6] = { 0, PAGE, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0 };
    if (inject_syscall(&in, ep.syscall_insn, SYS_mmap, mmap_args, &page) < 0) {
        fail(err, errlen, "process %d: the injected mmap failed: %s", (int)t->pid,
             strerror(errno));
        goto out;
    }
    if (page > (uint64_t)-4096) {
        fail(err, errlen, "process %d could not map a page: %s", (int)t->pid,
             strerror((int)-(int64_t)page));
        goto out;
    }
    struct iovec local = { (void *)source, len }, remote = { (void *)page, len };
    if (process_vm_writev(t->pid, &local, 1, &remote, 1, 0) != (ssize_t)len) {
        fail(err, errlen, "cannot write into process %d: %s", (int)t->pid, strerror(errno));
        goto out;
    }
    uint64_t queued;
    if (inject_call(&in, ep.add_pending, ep.run_string, page, 2000, &queued) < 0) {
        fail(err, errlen, "process %d: Py_AddPendingCall did not return: %s", (int)t->pid,
             strerror(errno));
        goto out;
    }
    if ((int)queued != 0) {
        fail(err, errlen, "process %d's pending-call queue is full (or it is shutting "
             "down); try again", (int)t->pid);
        goto out;
    }
    rc = 0;
out:
    if (inject_end(&in) < 0 && rc == 0)
        rc = fail(err, errlen, "process %d exited while stetho held it", (int)t->pid);
    return rc;
}
