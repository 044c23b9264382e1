/*
 * symbolize_dw.c -- a capture's native frames resolved again with libdwfl
 * (symbolize.h).
 *
 * Each module is opened offline (dwfl_report_offline: the file, not a
 * process), one at a time; its build-id is checked against the recorded
 * one before anything is taken from it, so a binary rebuilt since (same
 * path, other code) never renames frames.  The recorded address is inside
 * the module's ELF file; libdwfl places the module at some bias, added
 * back before each lookup.
 */
#include "native/symbolize.h"
#include "native/resolve.h"
#include "model/capinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEBUG_ROOT "/usr/lib/debug/.build-id/"

/* The module at path, if its build-id is build_id (hex); NULL otherwise. */
static Dwfl_Module *open_checked(Dwfl *d, const char *path, const char *build_id)
{
    dwfl_report_begin(d);
    Dwfl_Module *m = dwfl_report_offline(d, path, path, -1);
    dwfl_report_end(d, NULL, NULL);
    if (!m)
        return NULL;
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(m, &bits, &vaddr);
    char hex[2 * 64 + 1] = "";
    for (int i = 0; i < len && i < 64; i++)
        snprintf(hex + 2 * i, 3, "%02x", bits[i]);
    /* the capture keeps at most 20 bytes of it (unwind.h) */
    size_t n = strlen(build_id);
    return len > 0 && n >= 2 && !strncmp(hex, build_id, n) ? m : NULL;
}

/* Appends a copy of s to c's strings: its id, or 0 when out of memory. */
static uint32_t add_string(struct capture *c, size_t *cap, const char *s)
{
    if (c->nstrings >= UINT32_MAX)
        return 0;
    if (c->nstrings == *cap) {
        size_t ncap = *cap * 2 + 64;
        char **p = realloc(c->strings, ncap * sizeof *p);
        if (!p)
            return 0;
        c->strings = p;
        *cap = ncap;
    }
    char *copy = strdup(s);
    if (!copy)
        return 0;
    c->strings[c->nstrings] = copy;
    return (uint32_t)c->nstrings++;
}

/* The frames of module mod resolved from m: how many, or -1 (memory). */
static long resolve_frames(struct capture *c, size_t *cap, uint32_t mod, Dwfl_Module *m)
{
    Dwarf_Addr bias = 0;
    if (!dwfl_module_getelf(m, &bias))
        return 0;
    long n = 0;
    for (size_t id = 1; id < c->nframes; id++) {
        struct cap_frame *f = &c->frames[id];
        if (f->module != mod || f->kind != CAP_FRAME_NATIVE)
            continue;
        struct native_place p;
        native_resolve(m, f->addr + bias, &p);
        uint32_t fn = p.function ? add_string(c, cap, p.function) : 0;
        uint32_t file = p.file ? add_string(c, cap, p.file) : 0;
        free(p.function);
        if ((p.function && !fn) || (p.file && !file))
            return -1;
        if (fn)
            f->function = fn;
        if (file) {
            f->file = file;
            f->line = p.line;
            f->first_line = p.first_line;
        }
        n += fn || file;
    }
    return n;
}

int native_symbolize(struct capture *c, size_t *found, size_t *resolved, char *err,
                     size_t errlen)
{
    static const Dwfl_Callbacks offline = {
        .find_elf = dwfl_build_id_find_elf,
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_offline_section_address,
    };
    size_t cap = c->nstrings;       /* the reader's array is at least this big */
    *found = *resolved = 0;
    for (uint32_t mod = 1; mod < c->nmodules; mod++) {
        const char *path = capture_string(c, c->modules[mod].path);
        const char *build_id = capture_string(c, c->modules[mod].build_id);
        if (!build_id || strlen(build_id) < 4)
            continue;
        char debug[sizeof DEBUG_ROOT + 2 * 64 + 16];
        snprintf(debug, sizeof debug, DEBUG_ROOT "%.2s/%s.debug", build_id, build_id + 2);
        const char *where[] = { path, debug };
        for (size_t k = 0; k < 2; k++) {
            if (!where[k])
                continue;
            Dwfl *d = dwfl_begin(&offline);
            if (!d) {
                snprintf(err, errlen, "cannot start elfutils: %s", dwfl_errmsg(-1));
                return -1;
            }
            Dwfl_Module *m = open_checked(d, where[k], build_id);
            long n = m ? resolve_frames(c, &cap, mod, m) : 0;
            dwfl_end(d);
            if (n < 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            if (m) {
                ++*found;
                *resolved += (size_t)n;
                break;
            }
        }
    }
    return 0;
}
