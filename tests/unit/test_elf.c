/*
 * test_elf.c -- elf_open/elf_symbol/elf_load_bias on real Pythons, on this
 * test binary itself (checked against the runtime address), and on
 * malformed files written here, which must fail cleanly.
 */
#include "check.h"
#include "proc/elf.h"
#include "proc/maps.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Looked up in /proc/self/exe; non-static so they are in .symtab. */
int stetho_test_marker = 42;
long stetho_test_array[7];

/* Write bytes to a new temp file; its path goes to `path`. */
static int write_temp(const void *data, size_t len, char *path, size_t pathlen)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, pathlen, "%s/stetho_elf_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    int ok = len == 0 || write(fd, data, len) == (ssize_t)len;
    close(fd);
    return ok ? 0 : -1;
}

/* elf_open on these bytes; returns its result, errno in *err.  Opens that
 * succeed are probed with a lookup (must not crash) and closed. */
static int try_bytes(const void *data, size_t len, int *err)
{
    char path[PATH_MAX];
    struct elf_file *f;
    uint64_t v, s;

    if (write_temp(data, len, path, sizeof path) < 0) {
        printf("# cannot write temp file\n");
        *err = -1;
        return -2;
    }
    int r = elf_open(path, &f);
    *err = errno;
    if (r == 0) {
        elf_symbol(f, "foo", &v, &s);
        elf_symbol(f, "_PyRuntime", &v, &s);
        elf_close(f);
    }
    unlink(path);
    return r;
}

/* ---- a small hand-built ELF ------------------------------------------ */

enum {
    OFF_PH = sizeof(Elf64_Ehdr),
    OFF_DYNSYM = OFF_PH + sizeof(Elf64_Phdr),
    N_DYNSYM = 3,
    OFF_SYMTAB = OFF_DYNSYM + N_DYNSYM * sizeof(Elf64_Sym),
    N_SYMTAB = 6,
    OFF_STR = OFF_SYMTAB + N_SYMTAB * sizeof(Elf64_Sym),
};
static const char strtab[] = "\0dup\0bar\0foo\0loc\0last";     /* 1,5,9,13,17 */
enum { OFF_SH = (OFF_STR + sizeof strtab + 7) & ~7, N_SH = 4, TINY_SIZE = OFF_SH + N_SH * sizeof(Elf64_Shdr) };

static void put_sym(unsigned char *img, size_t off, uint32_t name, int bind, uint16_t shndx,
                    uint64_t value, uint64_t size)
{
    Elf64_Sym s = { .st_name = name, .st_info = ELF64_ST_INFO(bind, STT_OBJECT),
                    .st_shndx = shndx, .st_value = value, .st_size = size };
    memcpy(img + off, &s, sizeof s);
}

static void put_shdr(unsigned char *img, int i, uint32_t type, uint64_t off, uint64_t size,
                     uint32_t link, uint64_t entsize)
{
    Elf64_Shdr sh = { .sh_type = type, .sh_offset = off, .sh_size = size,
                      .sh_link = link, .sh_entsize = entsize };
    memcpy(img + OFF_SH + i * sizeof sh, &sh, sizeof sh);
}

/* .dynsym has "dup" and "bar" undefined; .symtab defines "dup", "foo",
 * "loc" (local, then global) and a symbol whose name is out of range. */
static void build_tiny(unsigned char *img)
{
    memset(img, 0, TINY_SIZE);
    Elf64_Ehdr eh = { .e_type = ET_DYN, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
                      .e_phoff = OFF_PH, .e_shoff = OFF_SH, .e_ehsize = sizeof eh,
                      .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 1,
                      .e_shentsize = sizeof(Elf64_Shdr), .e_shnum = N_SH };
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    memcpy(img, &eh, sizeof eh);

    Elf64_Phdr ph = { .p_type = PT_LOAD, .p_vaddr = 0x401234, .p_memsz = 0x100 };
    memcpy(img + OFF_PH, &ph, sizeof ph);

    size_t S = sizeof(Elf64_Sym);
    put_sym(img, OFF_DYNSYM + 1 * S, 1, STB_GLOBAL, SHN_UNDEF, 0, 0);          /* dup */
    put_sym(img, OFF_DYNSYM + 2 * S, 5, STB_GLOBAL, SHN_UNDEF, 0, 0);          /* bar */
    put_sym(img, OFF_SYMTAB + 1 * S, 1, STB_GLOBAL, 1, 0x1234, 8);             /* dup */
    put_sym(img, OFF_SYMTAB + 2 * S, 9, STB_GLOBAL, 1, 0x5000, 16);            /* foo */
    put_sym(img, OFF_SYMTAB + 3 * S, 13, STB_LOCAL, 1, 0x111, 1);              /* loc */
    put_sym(img, OFF_SYMTAB + 4 * S, 13, STB_GLOBAL, 1, 0x222, 2);             /* loc */
    put_sym(img, OFF_SYMTAB + 5 * S, 9999, STB_GLOBAL, 1, 0x333, 3);           /* bad */
    memcpy(img + OFF_STR, strtab, sizeof strtab);

    put_shdr(img, 1, SHT_DYNSYM, OFF_DYNSYM, N_DYNSYM * S, 3, S);
    put_shdr(img, 2, SHT_SYMTAB, OFF_SYMTAB, N_SYMTAB * S, 3, S);
    put_shdr(img, 3, SHT_STRTAB, OFF_STR, sizeof strtab, 0, 0);
}

static void patch_ehdr(unsigned char *img, size_t field_off, const void *v, size_t n)
{
    memcpy(img + field_off, v, n);
}

static void test_tiny(void)
{
    unsigned char img[TINY_SIZE], bad[TINY_SIZE];
    char path[PATH_MAX];
    struct elf_file *f;
    uint64_t v = 0, s = 0;
    int err;

    build_tiny(img);
    CHECK(write_temp(img, sizeof img, path, sizeof path) == 0);
    CHECK_EQ_INT(elf_open(path, &f), 0);
    unlink(path);
    if (!f)
        return;
    CHECK(elf_symbol(f, "foo", &v, &s) == 0 && v == 0x5000 && s == 16);
    CHECK(elf_symbol(f, "dup", &v, &s) == 0 && v == 0x1234);   /* defined one wins */
    CHECK(elf_symbol(f, "bar", &v, &s) == -1);                 /* only undefined */
    CHECK(elf_symbol(f, "loc", &v, &s) == 0 && v == 0x222);    /* global over local */
    CHECK(elf_symbol(f, "nope", &v, &s) == -1);
    CHECK(elf_symbol(f, "", &v, &s) == -1);
    /* The first PT_LOAD is at 0x401234, mapped from page 0x401000. */
    CHECK_EQ_INT(elf_load_bias(f, 0x401000), 0);
    CHECK_EQ_INT(elf_load_bias(f, 0x7f0000001000), 0x7f0000001000 - 0x401000);
    elf_close(f);

    /* The last string, "last", loses its NUL: a name running off the end of
     * the table is skipped, not read past. */
    memcpy(bad, img, sizeof img);
    put_shdr(bad, 3, SHT_STRTAB, OFF_STR, sizeof strtab - 1, 0, 0);
    put_sym(bad, OFF_SYMTAB + 5 * sizeof(Elf64_Sym), 17, STB_GLOBAL, 1, 0x333, 3);
    CHECK(write_temp(bad, sizeof bad, path, sizeof path) == 0);
    CHECK_EQ_INT(elf_open(path, &f), 0);
    unlink(path);
    if (f) {
        CHECK(elf_symbol(f, "last", &v, &s) == -1);
        CHECK(elf_symbol(f, "foo", &v, &s) == 0);
        elf_close(f);
    }

    /* Every truncation of it fails (the section headers are at the end). */
    int all_fail = 1;
    for (size_t len = 0; len < sizeof img; len++) {
        if (try_bytes(img, len, &err) != -1 || err != ENOEXEC) {
            printf("# truncated to %zu: not ENOEXEC\n", len);
            all_fail = 0;
        }
    }
    CHECK(all_fail);

    uint64_t big = TINY_SIZE;
    memcpy(bad, img, sizeof img);
    patch_ehdr(bad, offsetof(Elf64_Ehdr, e_shoff), &big, sizeof big);
    CHECK(try_bytes(bad, sizeof bad, &err) == -1 && err == ENOEXEC);       /* e_shoff past end */

    big = UINT64_MAX - 8;
    memcpy(bad, img, sizeof img);
    patch_ehdr(bad, offsetof(Elf64_Ehdr, e_shoff), &big, sizeof big);
    CHECK(try_bytes(bad, sizeof bad, &err) == -1 && err == ENOEXEC);       /* offset overflow */

    memcpy(bad, img, sizeof img);
    patch_ehdr(bad, offsetof(Elf64_Ehdr, e_phoff), &big, sizeof big);
    CHECK(try_bytes(bad, sizeof bad, &err) == -1 && err == ENOEXEC);       /* e_phoff past end */

    uint16_t many = 0xfeff;
    memcpy(bad, img, sizeof img);
    patch_ehdr(bad, offsetof(Elf64_Ehdr, e_shnum), &many, sizeof many);
    CHECK(try_bytes(bad, sizeof bad, &err) == -1 && err == ENOEXEC);       /* too many sections */

    uint16_t zero = 0;                          /* extended count in sh[0].sh_size */
    memcpy(bad, img, sizeof img);
    patch_ehdr(bad, offsetof(Elf64_Ehdr, e_shnum), &zero, sizeof zero);
    put_shdr(bad, 0, SHT_NULL, 0, UINT64_MAX / 2, 0, 0);
    CHECK(try_bytes(bad, sizeof bad, &err) == -1 && err == ENOEXEC);

    memcpy(bad, img, sizeof img);
    put_shdr(bad, 2, SHT_SYMTAB, TINY_SIZE - 8, N_SYMTAB * sizeof(Elf64_Sym), 3, sizeof(Elf64_Sym));
    CHECK(try_bytes(bad, sizeof bad, &err) == -1 && err == ENOEXEC);       /* symtab past end */

    memcpy(bad, img, sizeof img);
    put_shdr(bad, 3, SHT_STRTAB, OFF_STR, UINT64_MAX, 0, 0);
    CHECK(try_bytes(bad, sizeof bad, &err) == -1 && err == ENOEXEC);       /* strtab size huge */

    memcpy(bad, img, sizeof img);
    put_shdr(bad, 2, SHT_SYMTAB, OFF_SYMTAB, N_SYMTAB * sizeof(Elf64_Sym), 77, sizeof(Elf64_Sym));
    CHECK(try_bytes(bad, sizeof bad, &err) == -1 && err == ENOEXEC);       /* sh_link out of range */

    memcpy(bad, img, sizeof img);
    bad[EI_CLASS] = ELFCLASS32;
    CHECK(try_bytes(bad, sizeof bad, &err) == -1 && err == ENOTSUP);
}

static void test_garbage(void)
{
    struct elf_file *f;
    int err;

    CHECK(try_bytes("", 0, &err) == -1 && err == ENOEXEC);                 /* empty */
    CHECK(try_bytes("\177ELF\2\1\1", 7, &err) == -1 && err == ENOEXEC);    /* truncated header */
    CHECK(try_bytes("#!/bin/sh\nexit 0\n", 17, &err) == -1 && err == ENOEXEC);
    CHECK(elf_open("/nonexistent/stetho/lib.so", &f) == -1 && errno == ENOENT);
    CHECK(elf_open("/", &f) == -1 && errno == ENOEXEC);

    /* Random bytes, half of them behind a plausible ELF64 header. */
    unsigned char img[TINY_SIZE], buf[4096];
    build_tiny(img);
    srand(12345);
    int all_written = 1;
    for (int i = 0; i < 300; i++) {
        size_t len = (size_t)rand() % sizeof buf;
        for (size_t k = 0; k < len; k++)
            buf[k] = (unsigned char)rand();
        if (i % 2)
            memcpy(buf, img, len < 24 ? len : 24);
        if (try_bytes(buf, len, &err) == -2)
            all_written = 0;
    }
    CHECK(all_written);     /* and nothing crashed */

    /* The start of a real ELF file: headers point past the end. */
    int fd = open("/proc/self/exe", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
    if (fd >= 0)
        close(fd);
    CHECK(n == (ssize_t)sizeof buf);
    CHECK(try_bytes(buf, sizeof buf, &err) == -1 && err == ENOEXEC);
}

/* ---- this binary ------------------------------------------------------ */

static int map_start_of(const char *path, uint64_t *start)
{
    struct map_list m;
    if (maps_read(getpid(), &m) < 0)
        return -1;
    const struct map_entry *e = maps_first_of(&m, path);
    if (e)
        *start = e->start;
    maps_free(&m);
    return e ? 0 : -1;
}

static void test_self(void)
{
    char exe[PATH_MAX];
    struct elf_file *f;
    uint64_t v, s, start = 0;   /* -O3 cannot see map_start_of sets it */

    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    if (n <= 0)
        return;
    exe[n] = '\0';
    CHECK_EQ_INT(elf_open(exe, &f), 0);
    if (!f)
        return;
    CHECK_EQ_INT(map_start_of(exe, &start), 0);
    uint64_t bias = elf_load_bias(f, start);
    CHECK(elf_symbol(f, "stetho_test_marker", &v, &s) == 0);
    CHECK_EQ_INT(v + bias, (uintptr_t)&stetho_test_marker);
    CHECK(s >= sizeof stetho_test_marker);      /* clang's ASan adds a redzone */
    CHECK(elf_symbol(f, "stetho_test_array", &v, &s) == 0);
    CHECK_EQ_INT(v + bias, (uintptr_t)stetho_test_array);
    CHECK(s >= sizeof stetho_test_array);
    CHECK(elf_symbol(f, "main", &v, &s) == 0);
    elf_close(f);
}

/* ---- Pythons ---------------------------------------------------------- */

/* A shared libpython: the symbols exist, and (for one of them) loading it
 * here puts _PyRuntime exactly at st_value + bias. */
static void test_libpython(const char *path, int minor, int *loaded)
{
    struct elf_file *f;
    uint64_t v = 0, s = 0;

    printf("# %s\n", path);
    CHECK_EQ_INT(elf_open(path, &f), 0);
    if (!f)
        return;
    if (minor >= 7) {
        CHECK(elf_symbol(f, "_PyRuntime", &v, &s) == 0 && v != 0 && s > 0);
    } else {
        printf("# 3.%d has no _PyRuntime\n", minor);
        CHECK(elf_symbol(f, "_PyThreadState_Current", &v, &s) == 0 && v != 0);
    }
    if (minor >= 11)
        CHECK(elf_symbol(f, "Py_Version", &v, &s) == 0 && s == 8);   /* an unsigned long */
    CHECK(elf_symbol(f, "Py_Initialize", &v, &s) == 0);

    if (minor >= 7 && !*loaded) {
        char real[PATH_MAX];
        void *h = realpath(path, real) ? dlopen(real, RTLD_NOW | RTLD_LOCAL) : NULL;
        void *rt = h ? dlsym(h, "_PyRuntime") : NULL;
        uint64_t start;
        if (!rt) {
            printf("# skip: cannot dlopen %s: %s\n", path, dlerror());
        } else if (map_start_of(real, &start) == 0 && elf_symbol(f, "_PyRuntime", &v, &s) == 0) {
            *loaded = 1;
            CHECK_EQ_INT(v + elf_load_bias(f, start), (uintptr_t)rt);
        } else {
            CHECK(!"libpython mapped and _PyRuntime found");
        }
        /* Left loaded: unloading a libpython is not always clean. */
    }
    elf_close(f);
}

/* The file's bytes, or NULL. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (fp && fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0 && fseek(fp, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (fp)
        fclose(fp);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* Section header of the file's .gnu.hash, or NULL. */
static unsigned char *gnu_hash_shdr(unsigned char *img, size_t len)
{
    Elf64_Ehdr eh;
    memcpy(&eh, img, sizeof eh);
    for (uint64_t i = 1; i < eh.e_shnum; i++) {
        uint64_t at = eh.e_shoff + i * sizeof(Elf64_Shdr);
        Elf64_Shdr sh;
        if (at + sizeof sh > len)
            return NULL;
        memcpy(&sh, img + at, sizeof sh);
        if (sh.sh_type == SHT_GNU_HASH)
            return img + at;
    }
    return NULL;
}

/* Look-ups through .gnu.hash give what the full index gives: the same
 * file with its .gnu.hash hidden (type SHT_PROGBITS), then with a corrupt
 * one (bucket count past the section: the index must take over). */
static void test_gnu_hash(const char *path)
{
    static const char *const names[] = {
        "_PyRuntime", "Py_Version", "PyCode_Type", "Py_Initialize", "PyRun_SimpleString",
        "Py_AddPendingCall", "PyList_Type", "_PyThreadState_Current", "main",
        "no_such_symbol_anywhere", "",
    };
    size_t len;
    unsigned char *img = slurp(path, &len);
    unsigned char *sh = img ? gnu_hash_shdr(img, len) : NULL;
    if (!sh) {
        printf("# skip: %s: no .gnu.hash\n", path);
        free(img);
        return;
    }
    printf("# .gnu.hash vs index: %s\n", path);
    struct elf_file *f;
    CHECK_EQ_INT(elf_open(path, &f), 0);
    for (int variant = 0; f && variant < 2; variant++) {
        Elf64_Shdr hdr;
        memcpy(&hdr, sh, sizeof hdr);
        unsigned char saved[4];
        memcpy(saved, img + hdr.sh_offset, 4);
        if (variant == 0) {
            uint32_t type = SHT_PROGBITS;
            memcpy(sh + offsetof(Elf64_Shdr, sh_type), &type, sizeof type);
        } else {
            uint32_t huge = 0xfffffff0u;
            memcpy(img + hdr.sh_offset, &huge, 4);
        }
        char tmp[PATH_MAX];
        struct elf_file *g = NULL;
        if (write_temp(img, len, tmp, sizeof tmp) == 0) {
            CHECK_EQ_INT(elf_open(tmp, &g), 0);
            unlink(tmp);
        }
        memcpy(sh, &hdr, sizeof hdr);
        memcpy(img + hdr.sh_offset, saved, 4);
        int found = 0;
        for (size_t i = 0; g && i < sizeof names / sizeof *names; i++) {
            uint64_t v1 = 1, s1 = 1, v2 = 2, s2 = 2;
            int r1 = elf_symbol(f, names[i], &v1, &s1), r2 = elf_symbol(g, names[i], &v2, &s2);
            CHECK(r1 == r2 && (r1 < 0 || (v1 == v2 && s1 == s2)));
            found += r1 == 0;
        }
        CHECK(!g || found >= 4);    /* the C API's were there to be found */
        elf_close(g);
    }
    elf_close(f);
    free(img);
}

static void test_pythons(void)
{
    const char *home = getenv("HOME");
    char pat[PATH_MAX];
    glob_t g;
    int loaded = 0;

    snprintf(pat, sizeof pat, "%s/.pyenv/versions/3.*/lib/libpython3.*.so.1.0", home ? home : "/root");
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            int minor;
            const char *base = strstr(g.gl_pathv[i], "/libpython3.");
            if (base && sscanf(base, "/libpython3.%d", &minor) == 1) {
                test_libpython(g.gl_pathv[i], minor, &loaded);
                test_gnu_hash(g.gl_pathv[i]);
            }
        }
        globfree(&g);
    } else {
        printf("# skip: no %s found\n", pat);
    }

    /* Debian's python3.11: non-PIE, libpython linked in statically, the
     * C API symbols exported in the executable's .dynsym. */
    const char *deb = "/usr/bin/python3.11";
    struct elf_file *f;
    uint64_t v = 0, s = 0;
    if (access(deb, R_OK) != 0) {
        printf("# skip: %s not found\n", deb);
        return;
    }
    CHECK_EQ_INT(elf_open(deb, &f), 0);
    if (!f)
        return;
    CHECK(elf_symbol(f, "_PyRuntime", &v, &s) == 0 && v != 0 && s > 0);
    CHECK(elf_symbol(f, "Py_Version", &v, &s) == 0 && s == 8);   /* an unsigned long */
    elf_close(f);
    test_gnu_hash(deb);
}

int main(void)
{
    test_tiny();
    test_garbage();
    test_self();
    test_pythons();
    return CHECK_DONE();
}
