/*
 * unwind_dw.c -- native stacks with elfutils' libdwfl.
 *
 * libdwfl does the work we must not write ourselves: it reads each module's
 * CFI (.eh_frame, .debug_frame, also from separate debug files found by
 * build-id), falls back to frame pointers where there is none, and finds
 * symbols in .symtab, .dynsym or MiniDebugInfo.  It is attached with
 * assume_ptrace_stopped: the caller holds the threads (freeze.h), so libdwfl
 * only reads their registers and memory and never stops or resumes them.
 */
#include "native/unwind.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct native_session {
    Dwfl_Callbacks callbacks;   /* libdwfl keeps a pointer to it */
    char *debuginfo_path;       /* NULL: the default search path */
    Dwfl *dwfl;
};

struct native_session *native_open(pid_t pid, char *err, size_t errlen)
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
    dwfl_report_begin(s->dwfl);
    int r = dwfl_linux_proc_report(s->dwfl, pid);
    dwfl_report_end(s->dwfl, NULL, NULL);
    if (r == 0)
        r = dwfl_linux_proc_attach(s->dwfl, pid, true);
    if (r != 0) {
        snprintf(err, errlen, "cannot read the native modules of process %d: %s", (int)pid,
                 r > 0 ? strerror(r) : dwfl_errmsg(-1));
        native_close(s);
        return NULL;
    }
    return s;
}

struct walk {
    struct native_session *s;
    struct native_frame *out;
    size_t n, max;
};

static void describe(struct native_session *s, struct native_frame *f, Dwarf_Addr look)
{
    Dwfl_Module *m = dwfl_addrmodule(s->dwfl, look);
    if (!m)
        return;
    f->module = dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    GElf_Off off;
    GElf_Sym sym;
    f->symbol = dwfl_module_addrinfo(m, look, &off, &sym, NULL, NULL, NULL);
    Dwarf_Addr bias;
    if (dwfl_module_getelf(m, &bias))
        f->addr = look - bias;
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(m, &bits, &vaddr);
    for (int i = 0; i < len && i < 20; i++)
        snprintf(f->build_id + 2 * i, 3, "%02x", bits[i]);
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
    describe(w->s, f, activation ? pc : pc - 1);
    return DWARF_CB_OK;
}

size_t native_unwind(struct native_session *s, pid_t tid, struct native_frame *out, size_t max)
{
    struct walk w = { s, out, 0, max };
    /* -1 also when the unwind ends where no CFI or frame pointer leads on:
     * the frames gathered so far are the stack as far as it can be told */
    (void)dwfl_getthread_frames(s->dwfl, tid, on_frame, &w);
    return w.n;
}

void native_close(struct native_session *s)
{
    if (!s)
        return;
    dwfl_end(s->dwfl);
    free(s->debuginfo_path);
    free(s);
}
