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

#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A symbol as a function's name: without its version
 * ("clock_nanosleep@GLIBC_2.2.5" -> "clock_nanosleep"), C++ demangled; NULL
 * if memory ran out. */
static char *function_name(const char *sym)
{
    char *plain = strndup(sym, strcspn(sym, "@"));
    char *demangled = plain ? native_demangle(plain) : NULL;
    if (demangled) {
        free(plain);
        plain = demangled;
    }
    return plain;
}

/* The section of elf named `name`, and its header; NULL if none. */
static Elf_Scn *section(Elf *elf, size_t shstrndx, const char *name, GElf_Shdr *sh)
{
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn));) {
        const char *n = gelf_getshdr(scn, sh) ? elf_strptr(elf, shstrndx, sh->sh_name) : NULL;
        if (n && !strcmp(n, name))
            return scn;
    }
    return NULL;
}

/* An address in a PLT stub has no symbol in any file: the stub is named,
 * as perf and gdb name it, after the function whose relocation it jumps
 * through ("clock_gettime@plt"), which .rela.plt and the dynamic symbols
 * say -- a stripped file keeps both.  Stub k of .plt.sec (IBT), or k + 1
 * of .plt (the first is the resolver's), is .rela.plt's k-th entry; the
 * .plt.got stubs (no lazy binding) are left unnamed.  NULL: not in a
 * stub, or unreadable. */
static const char *plt_symbol(Dwfl_Module *m, Dwarf_Addr look)
{
    GElf_Addr bias;
    Elf *elf = dwfl_module_getelf(m, &bias);
    size_t shstrndx;
    if (!elf || elf_getshdrstrndx(elf, &shstrndx) < 0)
        return NULL;
    GElf_Addr at = look - bias;
    GElf_Shdr plt, rela, dynsym;
    Elf_Scn *scn = section(elf, shstrndx, ".plt.sec", &plt);
    int first = 0;
    if (!scn || at < plt.sh_addr || at - plt.sh_addr >= plt.sh_size) {
        scn = section(elf, shstrndx, ".plt", &plt);
        first = 1;
    }
    if (!scn || at < plt.sh_addr || at - plt.sh_addr >= plt.sh_size || !plt.sh_entsize)
        return NULL;
    uint64_t k = (at - plt.sh_addr) / plt.sh_entsize;
    if (k < (uint64_t)first)
        return NULL;
    k -= (uint64_t)first;
    Elf_Scn *rscn = section(elf, shstrndx, ".rela.plt", &rela);
    Elf_Data *rdata = rscn && rela.sh_type == SHT_RELA ? elf_getdata(rscn, NULL) : NULL;
    GElf_Rela r;
    if (!rdata || k > INT_MAX || !gelf_getrela(rdata, (int)k, &r))
        return NULL;
    Elf_Scn *sscn = elf_getscn(elf, rela.sh_link);
    Elf_Data *sdata = sscn && gelf_getshdr(sscn, &dynsym) ? elf_getdata(sscn, NULL) : NULL;
    GElf_Sym sym;
    uint64_t si = GELF_R_SYM(r.r_info);
    if (!sdata || !si || si > INT_MAX || !gelf_getsym(sdata, (int)si, &sym))
        return NULL;
    const char *name = elf_strptr(elf, dynsym.sh_link, sym.st_name);
    return name && *name ? name : NULL;
}

void native_resolve(Dwfl_Module *m, Dwarf_Addr look, struct native_place *out)
{
    memset(out, 0, sizeof *out);
    GElf_Off off = 0;
    GElf_Sym sym;
    const char *name = dwfl_module_addrinfo(m, look, &off, &sym, NULL, NULL, NULL);
    const char *stub = name ? NULL : plt_symbol(m, look);
    if (stub) {
        char *base = function_name(stub);
        size_t n = base ? strlen(base) + sizeof "@plt" : 0;
        if (base && (out->function = malloc(n)))
            snprintf(out->function, n, "%s@plt", base);
        free(base);
        return;                 /* a stub has no source line */
    }
    if (name)
        out->function = function_name(name);
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
