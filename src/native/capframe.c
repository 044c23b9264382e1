/*
 * capframe.c -- a native frame as a capture frame (see capframe.h).
 */
#include "native/capframe.h"

#include <stdio.h>
#include <string.h>

uint32_t native_capture_frame(struct capture_writer *w, const struct native_frame *f)
{
    char name[512];
    const char *mod = f->module ? strrchr(f->module, '/') : NULL;
    mod = mod ? mod + 1 : f->module;
    if (f->symbol)
        snprintf(name, sizeof name, "%.*s", (int)strcspn(f->symbol, "@"), f->symbol);
    else if (mod)
        snprintf(name, sizeof name, "%s+0x%llx", mod, (unsigned long long)f->addr);
    else
        snprintf(name, sizeof name, "0x%llx", (unsigned long long)f->pc);
    return capw_frame(w, name, f->module ? f->module : "", 0, 0, CAP_FRAME_NATIVE);
}
