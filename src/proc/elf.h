/*
 * elf.h -- find symbols in an ELF shared object or executable on disk.
 *
 * Contract: elf_open() maps the file read-only; elf_symbol() returns a
 * symbol's st_value (an address as linked, before the load bias) and size,
 * from .dynsym through its .gnu.hash when it is there, else from .dynsym
 * and .symtab (whichever exist), indexed on first need (so a look-up may
 * allocate, and an elf_file is not to be shared between threads); elf_load_bias() turns
 * the start of the file's lowest mapping in a process into the bias to add
 * to st_value.  Malformed files give an error, never a crash.
 */
#ifndef STETHO_PROC_ELF_H
#define STETHO_PROC_ELF_H

#include <stdint.h>
#include <stddef.h>

struct elf_file;

/* 0 on success; -1 with errno set (ENOENT, EACCES, ENOEXEC for not-ELF or
 * malformed, ENOTSUP for non-64-bit or another machine). */
int elf_open(const char *path, struct elf_file **out);
void elf_close(struct elf_file *f);

/* 0 and *value, *size if `name` is a defined symbol; -1 otherwise. */
int elf_symbol(struct elf_file *f, const char *name, uint64_t *value, uint64_t *size);

/* Bias = start of the file's lowest mapping - page-aligned p_vaddr of its
 * first PT_LOAD segment (0 for non-PIE executables). */
/* The bytes of the section called `name` (inside the mapped file, valid
 * until elf_close); -1 with errno ENOENT if there is none. */
int elf_section(const struct elf_file *f, const char *name, const char **data, size_t *size);

uint64_t elf_load_bias(const struct elf_file *f, uint64_t lowest_map_start);

#endif
