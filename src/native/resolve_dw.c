/*
 * resolve_dw.c -- an address's function and source line with libdwfl
 * (resolve.h).
 *
 * libdwfl finds the symbol by scanning the module's symbol table and the
 * line by reading the line table of the address's compilation unit: the
 * callers keep what an address was found to be, so each is looked up once.
 */
#include "native/resolve.h"
#include "native/demangle.h"

#include <stdlib.h>
#include <string.h>

void native_resolve(Dwfl_Module *m, Dwarf_Addr look, struct native_place *out)
{
    memset(out, 0, sizeof *out);
    GElf_Off off = 0;
    GElf_Sym sym;
    const char *name = dwfl_module_addrinfo(m, look, &off, &sym, NULL, NULL, NULL);
    if (name) {
        char *plain = strndup(name, strcspn(name, "@"));
        char *demangled = native_demangle(plain);
        if (demangled) {
            free(plain);
            plain = demangled;
        }
        out->function = plain;
    }
    /* NULL without debug information */
    Dwfl_Line *line = dwfl_module_getsrc(m, look);
    int lineno = 0;
    const char *file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
    if (!file || lineno <= 0)
        return;
    out->file = file;
    out->line = lineno;
    /* the function's first line: its entry's (like a Python frame's first
     * line, what its function is told apart by) -- even where it is above
     * the entry's: an address in code inlined from a function defined
     * earlier in the file has that function's line (test_native.py's
     * spin() inlines now(): 1 sample in ~50 had first line 0) */
    int first = 0;
    Dwfl_Line *entry = name && off <= look ? dwfl_module_getsrc(m, look - off) : NULL;
    const char *efile = entry ? dwfl_lineinfo(entry, NULL, &first, NULL, NULL, NULL) : NULL;
    if (efile && !strcmp(efile, file) && first > 0)
        out->first_line = first;
}
