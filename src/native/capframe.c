/*
 * capframe.c -- a native frame as a capture frame (capframe.h).
 */
#include "native/capframe.h"

#include <stdio.h>
#include <string.h>

uint32_t native_capture_frame(struct capture_writer *w, const struct native_frame *f)
{
    char name[512];
    const char *mod = f->module ? strrchr(f->module, '/') : NULL;
    mod = mod ? mod + 1 : f->module;
    const char *function = f->symbol;
    if (!function) {
        if (mod)
            snprintf(name, sizeof name, "%s+0x%llx", mod, (unsigned long long)f->addr);
        else
            snprintf(name, sizeof name, "0x%llx", (unsigned long long)f->pc);
        function = name;
    }
    uint32_t module = f->module ? capw_module(w, f->module, f->build_id) : 0;
    if (f->module && !module)
        return 0;
    const char *file = f->file ? f->file : f->module ? f->module : "";
    return capw_native_frame(w, function, file, f->file ? f->line : 0,
                             f->file ? f->first_line : 0, module, f->module ? f->addr : 0);
}
