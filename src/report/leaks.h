/*
 * leaks.h -- `stetho leaks CAPTURE`: where memory is leaking, a few lines
 * each -- the leak suspects (stacks whose held memory kept rising,
 * model/growth.h), what was still held at exit, and the temporary
 * allocations -- with the commands to dig further.  `stetho stats` shows
 * the same (leaks_text after its own, leaks_json as its "leaks" key).
 *
 * The garbage collector's part: its counters per generation (the GC
 * records the sampler wrote), the time the [gc] frame took (per thread,
 * the longest run of samples in it), and a warning when it took a large
 * share of the time or left objects uncollectable.
 *
 * Contract: reads the capture and the report model; a capture without
 * memory says so in one line (JSON: "memory": false) and still has the
 * GC part.  `path` is the capture's
 * file name, for the commands shown (NULL: none shown, as in `stats`).  0, or -1 when out of memory (write
 * errors are the caller's to check).
 */
#ifndef STETHO_REPORT_LEAKS_H
#define STETHO_REPORT_LEAKS_H

#include <stdio.h>
#include "capture/capture.h"

int leaks_text(const struct capture *c, const char *path, FILE *out);
int leaks_json(const struct capture *c, FILE *out);
/* leaks_json with every string safe inside a <script> element (the HTML
 * report's "leaks" key). */
int leaks_json_script(const struct capture *c, FILE *out);

#endif
