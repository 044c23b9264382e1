/*
 * resolve.h -- what an address inside a module is: its function, source
 * file and lines; shared by the unwinder (while recording) and by
 * re-symbolizing a capture (later, from the binaries found by build-id).
 *
 * Contract: native_resolve() looks `look` (an address as libdwfl placed
 * the module m) up: function is the symbol without its version
 * ("clock_nanosleep@GLIBC_2.2.5" -> "clock_nanosleep"), C++ demangled, in
 * memory the caller frees, a PLT stub as "<function>@plt", NULL if m has
 * no symbol there (or memory ran out); file, line and first_line (the line
 * of the function's entry) come from m's debug information, also a
 * separate file found by build-id:
 * file NULL and lines 0 without it.  file points into libdw's data, valid
 * while m is.  Only built with elfutils.
 */
#ifndef STETHO_NATIVE_RESOLVE_H
#define STETHO_NATIVE_RESOLVE_H

#include <elfutils/libdwfl.h>

struct native_place {
    char *function;
    const char *file;
    int line, first_line;
};

void native_resolve(Dwfl_Module *m, Dwarf_Addr look, struct native_place *out);

#endif
