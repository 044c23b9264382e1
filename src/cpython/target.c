/*
 * target.c -- find the interpreter in a process and choose how to read it.
 */
#include "cpython/target.h"
#include "cpython/threadnames.h"
#include "cpython/framewin.h"
#include "cpython/layout_debug.h"
#include "proc/elf.h"
#include "proc/maps.h"
#include "proc/proc_path.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#define MIN_MINOR 9
#define MAX_TESTED_MINOR 13

enum py_status py_fail(struct py_error *err, enum py_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "python3.11", "libpython3.9.so.1.0", "python3.12d" -> major/minor. */
static int version_from_name(const char *path, int *major, int *minor)
{
    const char *b = base_name(path);
    const char *p = strstr(b, "python");
    if (!p)
        return -1;
    return sscanf(p, "python%d.%d", major, minor) == 2 ? 0 : -1;
}

/* Is `path` a file that may hold the runtime: the executable or a libpython? */
static int is_candidate(const char *path, const char *exe)
{
    return path[0] == '/' && (strcmp(path, exe) == 0 || strstr(base_name(path), "libpython"));
}

static enum py_status perm_error(struct py_error *err, pid_t pid)
{
    int scope = proc_ptrace_scope();
    if (scope > 0)
        return py_fail(err, PY_EPERM, "no permission to read process %d: ptrace is "
                       "restricted (kernel.yama.ptrace_scope=%d); run stetho as root, start "
                       "the program with 'stetho run', or set that sysctl to 0",
                       (int)pid, scope);
    return py_fail(err, PY_EPERM, "no permission to read process %d: run stetho as the "
                   "program's user or as root; in a container, add the SYS_PTRACE "
                   "capability (docker run --cap-add SYS_PTRACE)", (int)pid);
}

/* 3.9/3.10 have no Py_Version: find PY_VERSION ("3.9.18") among the file's
 * read-only strings, for the minor version its name gives. */
static uint64_t version_from_rodata(struct elf_file *ef, const char *path)
{
    int major, minor;
    const char *data;
    size_t size;
    if (version_from_name(path, &major, &minor) < 0 ||
        elf_section(ef, ".rodata", &data, &size) < 0)
        return 0;
    char want[16];
    int wl = snprintf(want, sizeof want, "%d.%d.", major, minor);
    for (size_t i = 0; i + (size_t)wl < size; i++) {
        /* the literal may share its bytes with the tail of a longer string
         * (the linker merges them), e.g. the install prefix ".../3.9.18" */
        if ((i && ((data[i - 1] >= '0' && data[i - 1] <= '9') || data[i - 1] == '.')) ||
            memcmp(data + i, want, (size_t)wl) != 0)
            continue;
        size_t j = i + (size_t)wl;
        int micro = 0, digits = 0;
        while (j < size && data[j] >= '0' && data[j] <= '9' && digits < 3)
            micro = micro * 10 + (data[j++] - '0'), digits++;
        if (digits && j < size && data[j] == 0)
            return ((uint64_t)major << 24) | ((uint64_t)minor << 16) | ((uint64_t)micro << 8);
    }
    return ((uint64_t)major << 24) | ((uint64_t)minor << 16) | 0xff00;   /* micro unknown */
}

/* Find the file with _PyRuntime and its load bias. */
static enum py_status find_runtime(struct py_target *t, const struct map_list *maps,
                                   const char *exe, uint64_t *runtime, uint64_t *version_hex,
                                   uint64_t *code_type, struct py_error *err)
{
    for (size_t i = 0; i < maps->n; i++) {
        const char *path = maps->v[i].path;
        if (!is_candidate(path, exe))
            continue;
        /* look at each file once: its lowest mapping */
        const struct map_entry *first = maps_first_of(maps, path);
        if (first != &maps->v[i])
            continue;
        char full[PATH_MAX];
        proc_root_path(t->pid, path, full, sizeof full);
        struct elf_file *ef;
        if (elf_open(full, &ef) < 0)
            continue;
        uint64_t value, size;
        if (elf_symbol(ef, "_PyRuntime", &value, &size) < 0) {
            elf_close(ef);
            continue;
        }
        uint64_t bias = elf_load_bias(ef, first->start);
        *runtime = bias + value;
        *version_hex = 0;
        if (elf_symbol(ef, "Py_Version", &value, &size) == 0) {
            uint32_t v;
            if (reader_read(&t->rd, bias + value, &v, sizeof v) == 0)
                *version_hex = v;
        }
        if (!*version_hex)
            *version_hex = version_from_rodata(ef, path);
        *code_type = elf_symbol(ef, "PyCode_Type", &value, &size) == 0 ? bias + value : 0;
        snprintf(t->binary, sizeof t->binary, "%s", path);
        elf_close(ef);
        return PY_OK;
    }
    return py_fail(err, PY_ENOTPYTHON,
                   "process %d (%s) is not a CPython process: no _PyRuntime in its "
                   "executable or a libpython", (int)t->pid, base_name(exe));
}

enum py_status py_target_init(struct py_target *t, pid_t pid, struct reader rd,
                              int major, int minor, int micro, uint64_t runtime,
                              uint64_t code_type, struct py_error *err)
{
    memset(t, 0, sizeof *t);
    t->pid = pid;
    t->rd = rd;
    t->runtime = runtime;
    t->code_type = code_type;
    t->major = major;
    t->minor = minor;
    t->micro = micro;
    t->tid_offset = -1;
    t->walk_retries = 3;
    if (micro >= 0)
        snprintf(t->version, sizeof t->version, "%d.%d.%d", major, minor, micro);
    else
        snprintf(t->version, sizeof t->version, "%d.%d", major, minor);

    if (major != 3 || minor < MIN_MINOR)
        return py_fail(err, PY_EVERSION,
                       "Python %s is not supported (stetho reads CPython 3.%d to 3.%d)",
                       t->version, MIN_MINOR, MAX_TESTED_MINOR);
    if (minor < 13) {
        const struct py_layout *l = py_layout_table(major, minor);
        if (!l)
            return py_fail(err, PY_EVERSION, "Python %s: no layout table was generated",
                           t->version);
        t->layout = *l;
    } else {
        const struct py_layout *fb = py_layout_table(3, minor);
        if (!fb)
            fb = py_layout_table(3, MAX_TESTED_MINOR);
        char why[200];
        if (!fb || py_layout_from_debug(&t->rd, runtime, major, minor, fb, &t->layout,
                                        why, sizeof why) < 0) {
            int readable = errno != EPERM;
            if (!readable)
                return PY_EPERM;
            return py_fail(err, PY_EVERSION, "Python %s is not supported: %s",
                           t->version, fb ? why : "no fallback layout");
        }
    }
    t->codes = codecache_new(1 << 16);
    if (!t->codes)
        return py_fail(err, PY_EREAD, "out of memory");
    return PY_OK;
}

enum py_status py_target_open(struct py_target *t, pid_t pid, struct py_error *err)
{
    memset(t, 0, sizeof *t);
    t->pid = pid;
    if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
        return py_fail(err, PY_ENOPROC, "no process with pid %d", (int)pid);

    char exe[PATH_MAX];
    if (proc_exe_path(pid, exe, sizeof exe) < 0) {
        if (errno == ENOENT || errno == ESRCH)
            return py_fail(err, PY_ENOPROC, "no process with pid %d", (int)pid);
        return perm_error(err, pid);
    }
    struct map_list maps;
    if (maps_read(pid, &maps) < 0) {
        if (errno == ENOENT || errno == ESRCH)
            return py_fail(err, PY_ENOPROC, "no process with pid %d", (int)pid);
        return perm_error(err, pid);
    }
    struct reader rd = reader_remote(pid);
    t->rd = rd;
    uint64_t runtime = 0, vhex = 0, code_type = 0;
    enum py_status st = find_runtime(t, &maps, exe, &runtime, &vhex, &code_type, err);
    maps_free(&maps);
    if (st != PY_OK)
        return st;

    uint64_t probe;
    if (reader_read(&rd, runtime, &probe, sizeof probe) < 0) {
        if (errno == EPERM)
            return perm_error(err, pid);
        if (errno == ESRCH)
            return py_fail(err, PY_ENOPROC, "process %d exited", (int)pid);
        return py_fail(err, PY_EREAD, "cannot read process %d: %s", (int)pid, strerror(errno));
    }

    int major = 0, minor = 0, micro = -1;
    if (vhex) {
        major = (int)((vhex >> 24) & 0xff);
        minor = (int)((vhex >> 16) & 0xff);
        micro = (int)((vhex >> 8) & 0xff);
        if (micro == 0xff)
            micro = -1;
    } else if (version_from_name(t->binary, &major, &minor) < 0 &&
               version_from_name(exe, &major, &minor) < 0) {
        return py_fail(err, PY_EVERSION, "cannot tell the Python version of process %d (%s)",
                       (int)pid, t->binary);
    }
    char binary[PATH_MAX];
    memcpy(binary, t->binary, sizeof binary);
    st = py_target_init(t, pid, rd, major, minor, micro, runtime, code_type, err);
    memcpy(t->binary, binary, sizeof binary);
    snprintf(t->exe, sizeof t->exe, "%s", exe);
    if (st == PY_EPERM)
        return perm_error(err, pid);
    if (st != PY_OK)
        return st;

    uint64_t interp;
    if (reader_ptr(&t->rd, runtime + t->layout.rt_interpreters_head, &interp) < 0 || !interp) {
        py_target_close(t);
        return py_fail(err, PY_ENOTREADY, "the Python interpreter in process %d is not "
                       "running (not initialised yet, or finalised)", (int)pid);
    }
    return PY_OK;
}

void py_target_close(struct py_target *t)
{
    codecache_free(t->codes);
    t->codes = NULL;
    framewin_free(t->win);
    t->win = NULL;
    py_threadnames_free(t->names);
    t->names = NULL;
}
