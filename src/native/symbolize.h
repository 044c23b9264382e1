/*
 * symbolize.h -- a loaded capture's native frames resolved again, later or
 * on another machine, from the binaries found by their build-id
 * (`--symbolize` of the reports).
 *
 * Contract: native_symbolize() looks for each module of c with a build-id:
 * the file at its recorded path if that file has the same build-id, else
 * the separate debug file /usr/lib/debug/.build-id/XX/REST.debug; its
 * debug information may also be in such a file (found the same way).
 * Modules found nowhere, or without a build-id, keep what was recorded.
 * Each native frame of a module found gets, in place, what the binary says
 * at its recorded address: the function (C++ demangled) where it has a
 * symbol there, the source file and lines where it has debug information;
 * what it cannot say stays as recorded.  New strings are appended to
 * c->strings.  0 with *found (modules) and *resolved (frames) set; -1 with
 * a one-line reason in err when memory runs out or this stetho was built
 * without elfutils (c may then be partly resolved, still consistent).
 */
#ifndef STETHO_NATIVE_SYMBOLIZE_H
#define STETHO_NATIVE_SYMBOLIZE_H

#include <stddef.h>
#include "capture/capture.h"

int native_symbolize(struct capture *c, size_t *found, size_t *resolved, char *err,
                     size_t errlen);

#endif
