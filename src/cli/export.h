/*
 * export.h -- rendering a capture file into an export format's file, for
 * `stetho export` and for `stetho run -o NAME.EXT` (the formats
 * themselves are src/export/).
 *
 * Contract: as the other cli/ helpers, a failure prints one line
 * "stetho: ..." and returns -1; nothing half written is left behind.
 */
#ifndef STETHO_CLI_EXPORT_H
#define STETHO_CLI_EXPORT_H

#include "export/export.h"

/* Export the capture file to output in format; 0, or -1 after a one-line
 * error on stderr. */
int export_to_file(const char *capture_path, const char *format, const char *output);

#endif
