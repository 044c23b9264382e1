/*
 * unwind_dw.c -- native stacks with elfutils' libdwfl.
 *
 * libdwfl does the work we must not write ourselves: it reads each module's
 * CFI (.eh_frame, .debug_frame, also from separate debug files found by
 * build-id), falls back to frame pointers where there is none, and finds
 * symbols in .symtab, .dynsym or MiniDebugInfo.  It is attached with
 * assume_ptrace_stopped: the caller holds the threads (freeze.h), so libdwfl
 * only reads their registers and memory and never stops or resumes them.
 *
 * A session for copies (perf sampling) is attached instead with callbacks
 * of ours, what perf's unwind-libdw.c does: the initial registers are the
 * sample's, memory is read from the kernel's copy of the stack's top and,
 * outside it, from the live process, so no thread is ever stopped.
 *
 * Cost: libdwfl finds a symbol by scanning the module's symbol table, which
 * is most of the time of a sample in a big module (libpython), and a
 * source line by reading the line table of the address's compilation unit
 * (resolve.h); what an address was found to be is kept, so each address
 * is resolved once.
 */
#include "native/unwind.h"
#include "native/resolve.h"
#include "util/array.h"
#include "util/hash.h"
#include "util/kmap.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#define BACKOFF_MAX_NS 1000000000ull    /* maps read again at least this often
                                           when frames stay outside them */

struct native_session {
    Dwfl_Callbacks callbacks;   /* libdwfl keeps a pointer to it */
    char *debuginfo_path;       /* NULL: the default search path */
    Dwfl *dwfl;
    pid_t pid;
    int stale;                  /* a frame fell outside every known module */
    uint64_t reported_ns;       /* when the maps were last read */
    uint64_t backoff_ns;        /* before reading them again: 0 after a read
                                   that found new modules, growing while
                                   reads find none (a JIT, a bad frame) */
    size_t nmodules;
    struct kmap known;          /* address looked up -> index in seen */
    struct native_frame *seen;  /* what it was found to be (pc unused) */
    size_t nseen, cap_seen;
    uint64_t generation;        /* reads of the modules */
    int copies;                 /* attached for native_unwind_copy */
    /* the copy being unwound (copies only) */
    const struct native_regs *regs;
    const unsigned char *stack;
    uint64_t stack_lo;
    size_t stack_len;
    struct kmap texts;          /* (hash, length) -> index in text */
    char **text;                /* names and files made or copied here: kept
                                   until native_close, as frames of threads
                                   unwound before a re-read point to them */
    size_t ntext, cap_text;
};

const char *native_unsupported(void)
{
    return NULL;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Read the process's modules (again: libdwfl keeps the ones still mapped,
 * with what it knows of them). */
static int count_module(Dwfl_Module *m, void **userdata, const char *name, Dwarf_Addr start,
                        void *arg)
{
    (void)m, (void)userdata, (void)name, (void)start;
    ++*(size_t *)arg;
    return DWARF_CB_OK;
}

static int report(struct native_session *s)
{
    kmap_free(&s->known);           /* modules may have moved or gone */
    s->nseen = 0;
    s->generation++;
    dwfl_report_begin(s->dwfl);
    int r = dwfl_linux_proc_report(s->dwfl, s->pid);
    dwfl_report_end(s->dwfl, NULL, NULL);
    size_t n = 0;
    dwfl_getmodules(s->dwfl, count_module, &n, 0);
    if (n > s->nmodules || !s->reported_ns)
        s->backoff_ns = 0;
    else
        s->backoff_ns = s->backoff_ns * 2 + 10000000 > BACKOFF_MAX_NS
                            ? BACKOFF_MAX_NS : s->backoff_ns * 2 + 10000000;
    s->nmodules = n;
    s->stale = 0;
    s->reported_ns = now_ns();
    return r;
}

uint64_t native_generation(const struct native_session *s)
{
    return s->generation;
}

/* libdwfl and the process's modules, not yet attached to its threads. */
static struct native_session *session_new(pid_t pid, char *err, size_t errlen)
{
    struct native_session *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->callbacks.find_elf = dwfl_linux_proc_find_elf;
    s->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
    s->callbacks.debuginfo_path = &s->debuginfo_path;
    s->dwfl = dwfl_begin(&s->callbacks);
    if (!s->dwfl) {
        snprintf(err, errlen, "cannot start elfutils: %s", dwfl_errmsg(-1));
        free(s);
        return NULL;
    }
    s->pid = pid;
    return s;
}

static struct native_session *attached(struct native_session *s, int r, char *err, size_t errlen)
{
    if (r != 0) {
        snprintf(err, errlen, "cannot read the native modules of process %d: %s", (int)s->pid,
                 r > 0 ? strerror(r) : dwfl_errmsg(-1));
        native_close(s);
        return NULL;
    }
    return s;
}

struct native_session *native_open(pid_t pid, char *err, size_t errlen)
{
    struct native_session *s = session_new(pid, err, errlen);
    if (!s)
        return NULL;
    int r = report(s);
    if (r == 0)
        r = dwfl_linux_proc_attach(s->dwfl, pid, true);
    return attached(s, r, err, errlen);
}

/* The callbacks of a session for copies: one thread at a time, the one
 * native_unwind_copy() names (libdwfl never enumerates them here). */
static pid_t copy_next_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
    (void)dwfl, (void)arg, (void)thread_arg;
    return 0;
}

static bool copy_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg)
{
    (void)dwfl, (void)tid;
    *thread_arg = arg;
    return true;
}

static bool copy_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
    (void)dwfl;
    struct native_session *s = arg;
    if (s->stack && addr >= s->stack_lo && addr - s->stack_lo + sizeof *result <= s->stack_len) {
        memcpy(result, s->stack + (addr - s->stack_lo), sizeof *result);
        return true;
    }
    /* beyond the copy: the live process (the outer frames, which change
     * least; a word read at another moment at worst ends the unwind) */
    struct iovec local = { result, sizeof *result };
    struct iovec remote = { (void *)(uintptr_t)addr, sizeof *result };
    return process_vm_readv(s->pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof *result;
}

static bool copy_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
    const struct native_regs *regs = ((struct native_session *)arg)->regs;
    for (int i = 0; i < NATIVE_REG_PC; i++) {
        Dwarf_Word v = regs->r[i];
        if ((regs->known >> i & 1) && !dwfl_thread_state_registers(thread, i, 1, &v))
            return false;
    }
    dwfl_thread_state_register_pc(thread, regs->r[NATIVE_REG_PC]);
    return true;
}

static const Dwfl_Thread_Callbacks copy_callbacks = {
    .next_thread = copy_next_thread,
    .get_thread = copy_get_thread,
    .memory_read = copy_memory_read,
    .set_initial_registers = copy_set_initial_registers,
};

struct native_session *native_open_copy(pid_t pid, char *err, size_t errlen)
{
    struct native_session *s = session_new(pid, err, errlen);
    if (!s)
        return NULL;
    s->copies = 1;
    int r = report(s);
    if (r == 0 && !dwfl_attach_state(s->dwfl, NULL, pid, &copy_callbacks, s))
        r = -1;
    return attached(s, r, err, errlen);
}

struct walk {
    struct native_session *s;
    struct native_frame *out;
    size_t n, max;
};

/* The session's copy of the first n bytes of str, one per text; NULL
 * when out of memory. */
static const char *keep(struct native_session *s, const char *str, size_t n)
{
    int isnew = 0;
    uint32_t *slot = kmap_put(&s->texts, util_hash_bytes_from(UTIL_HASH_SEED, str, n), n,
                              (uint32_t)s->ntext, &isnew);
    if (slot && !isnew && *slot < s->ntext && !strncmp(s->text[*slot], str, n))
        return s->text[*slot];
    char *copy = strndup(str, n);
    if (!copy || ARRAY_RESERVE(s->text, s->ntext, s->cap_text) < 0) {
        free(copy);
        return NULL;
    }
    if (slot && isnew)
        *slot = (uint32_t)s->ntext;         /* a hash collision stays unindexed */
    s->text[s->ntext++] = copy;
    return copy;
}

static void describe(struct native_session *s, struct native_frame *f, Dwarf_Addr look)
{
    Dwfl_Module *m = dwfl_addrmodule(s->dwfl, look);
    if (!m) {
        s->stale = 1;
        return;
    }
    f->module = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    struct native_place place;
    native_resolve(m, look, &place);
    if (place.function)
        f->symbol = keep(s, place.function, strlen(place.function));
    free(place.function);
    if (place.file && (f->file = keep(s, place.file, strlen(place.file)))) {
        f->line = place.line;
        f->first_line = place.first_line;
    }
    Dwarf_Addr bias;
    if (dwfl_module_getelf(m, &bias))
        f->addr = look - bias;
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(m, &bits, &vaddr);
    for (int i = 0; i < len && i < 20; i++)
        snprintf(f->build_id + 2 * i, 3, "%02x", bits[i]);
}

/* f (pc set) described: from the cache, else looked up and kept. */
static void lookup(struct native_session *s, struct native_frame *f, Dwarf_Addr look)
{
    uint64_t pc = f->pc;
    int isnew;
    uint32_t *slot = kmap_put(&s->known, look, 0, (uint32_t)s->nseen, &isnew);
    if (slot && !isnew && *slot < s->nseen) {
        *f = s->seen[*slot];
        f->pc = pc;
        return;
    }
    describe(s, f, look);
    if (slot && ARRAY_RESERVE(s->seen, s->nseen, s->cap_seen) == 0)
        s->seen[s->nseen++] = *f;
    else if (slot)
        *slot = UINT32_MAX;             /* out of memory: looked up each time */
}

static int on_frame(Dwfl_Frame *state, void *arg)
{
    struct walk *w = arg;
    Dwarf_Addr pc;
    bool activation;
    if (w->n == w->max || !dwfl_frame_pc(state, &pc, &activation))
        return DWARF_CB_ABORT;
    struct native_frame *f = &w->out[w->n++];
    memset(f, 0, sizeof *f);
    f->pc = pc;
    /* a caller's pc is the return address, which may already be the next
     * function's first byte: look up the call instead */
    lookup(w->s, f, activation ? pc : pc - 1);
    return DWARF_CB_OK;
}

/* Unwind tid; when a frame fell outside every known module (an extension
 * imported since), read the maps again and unwind anew: a ptrace-held
 * thread and a copy are both still the same. */
static size_t unwind(struct native_session *s, pid_t tid, struct native_frame *out, size_t max)
{
    struct walk w = { s, out, 0, max };
    /* -1 also when the unwind ends where no CFI or frame pointer leads on:
     * the frames gathered so far are the stack as far as it can be told */
    (void)dwfl_getthread_frames(s->dwfl, tid, on_frame, &w);
    if (s->stale && now_ns() - s->reported_ns >= s->backoff_ns) {
        report(s);
        w.n = 0;
        (void)dwfl_getthread_frames(s->dwfl, tid, on_frame, &w);
    }
    return w.n;
}

size_t native_unwind(struct native_session *s, pid_t tid, struct native_frame *out, size_t max)
{
    return s->copies ? 0 : unwind(s, tid, out, max);
}

size_t native_unwind_copy(struct native_session *s, pid_t tid, const struct native_regs *regs,
                          const unsigned char *stack, size_t stack_len,
                          struct native_frame *out, size_t max)
{
    if (!s->copies || !(regs->known >> NATIVE_REG_PC & 1))
        return 0;
    int sp = regs->known >> NATIVE_REG_SP & 1;   /* the copy starts at sp */
    s->regs = regs;
    s->stack = sp ? stack : NULL;
    s->stack_len = sp && stack ? stack_len : 0;
    s->stack_lo = sp ? regs->r[NATIVE_REG_SP] : 0;
    size_t n = unwind(s, tid, out, max);
    s->regs = NULL;
    s->stack = NULL;
    return n;
}

struct native_session *native_open_modules(char *err, size_t errlen)
{
    /* pid 0: the proc finder opens a module by its path when it has no
     * process */
    return session_new(0, err, errlen);
}

int native_add_module(struct native_session *s, const char *path, uint64_t start, uint64_t end)
{
    dwfl_report_begin_add(s->dwfl);
    Dwfl_Module *m = dwfl_report_module(s->dwfl, path, start, end);
    dwfl_report_end(s->dwfl, NULL, NULL);
    /* addresses looked up before may have had no module: look again (the
     * strings of the ones kept stay valid, modules are only added) */
    kmap_free(&s->known);
    s->nseen = 0;
    s->generation++;
    return m ? 0 : -1;
}

void native_describe(struct native_session *s, uint64_t pc, int caller, struct native_frame *out)
{
    memset(out, 0, sizeof *out);
    out->pc = pc;
    lookup(s, out, caller && pc ? pc - 1 : pc);
}

void native_close(struct native_session *s)
{
    if (!s)
        return;
    dwfl_end(s->dwfl);
    kmap_free(&s->known);
    free(s->seen);
    kmap_free(&s->texts);
    for (size_t i = 0; i < s->ntext; i++)
        free(s->text[i]);
    free(s->text);
    free(s->debuginfo_path);
    free(s);
}
