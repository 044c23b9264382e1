/*
 * location.h -- what a frame's file path says about it: is it the user's
 * code, the standard library, or an installed library; which module it is;
 * how to show it briefly.
 *
 * Contract: decided by the path alone, as the profiled interpreter's sys.path is not
 * recorded: "<frozen ...>" and anything under ".../lib/python3.N/" is the
 * standard library, unless it is under site-packages or dist-packages,
 * which are installed libraries.
 */
#ifndef STETHO_MODEL_LOCATION_H
#define STETHO_MODEL_LOCATION_H

#include <stddef.h>

enum loc_class {
    LOC_USER = 0,
    LOC_STDLIB = 1,
    LOC_LIBRARY = 2,
};

enum loc_class loc_classify(const char *file);

/* The top-level module or package of `file` ("threading", "requests",
 * "importlib"), written into buf (always NUL-terminated); returns buf. */
char *loc_module(const char *file, char *buf, size_t len);

/* `file` as shown in reports: inside the standard library or a
 * site-packages directory, the part after it ("asyncio/events.py");
 * under `cwd` (may be NULL), the part after it; otherwise unchanged.
 * Returns a pointer into `file`. */
const char *loc_short(const char *file, const char *cwd);

#endif
