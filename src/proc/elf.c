/*
 * elf.c -- symbol lookup in an ELF64 file mapped read-only.
 *
 * The file may be anything (a user-supplied path, a library of a process we
 * do not trust), so every offset and size taken from it is checked against
 * the mapping before it is used.  Header structures are copied out with
 * memcpy so that odd alignments in a crafted file are harmless too.
 *
 * A symbol is first looked up in .dynsym through the file's own .gnu.hash
 * table (what ld.so does): a few probes, where indexing libpython's ~20k
 * symbols costs stetho 0.5-0.8 ms at every start.  Not found there (or no
 * such table), .dynsym and .symtab are put in one open-addressing hash
 * table, on the first such look-up, defined symbols only.  On a duplicate
 * name the first one seen (.dynsym before .symtab) wins, except that a
 * global symbol replaces a local one -- which is what .gnu.hash finds too:
 * it holds only .dynsym's global and weak symbols.
 */
#include "proc/elf.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Per table; so that both tables' counts, doubled, still fit in 32 bits. */
#define MAX_SYMS (1u << 28)

struct symtab {
    uint64_t off;           /* file offset of the Elf64_Sym array */
    uint32_t n;             /* number of entries */
    uint64_t stroff;        /* its string table */
    uint64_t strsize;
};

struct slot {
    uint32_t hash;
    uint32_t ref;           /* 0: empty; else 1 + global symbol index */
};

struct elf_file {
    const unsigned char *data;
    size_t size;
    uint64_t first_load_vaddr;
    struct symtab tabs[2];  /* [0] .dynsym, [1] .symtab; n == 0 if absent */
    uint64_t gnu_off, gnu_size;     /* .dynsym's .gnu.hash; size 0 if none */
    int indexed;            /* build_index() done */
    struct slot *slots;
    uint32_t nslots;        /* a power of two, or 0 */
};

/* Is [off, off+len) inside the file?  Written to not overflow. */
static int in_file(const struct elf_file *f, uint64_t off, uint64_t len)
{
    return off <= f->size && len <= f->size - off;
}

static int fail(int err)
{
    errno = err;
    return -1;
}

/* The GNU string hash: the one .gnu.hash tables are made with. */
static uint32_t hash_name(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

/* Symbol number `gi` counting .dynsym first, then .symtab. */
static void sym_at(const struct elf_file *f, uint32_t gi, Elf64_Sym *out)
{
    const struct symtab *t = &f->tabs[0];
    if (gi >= t->n) {
        gi -= t->n;
        t = &f->tabs[1];
    }
    memcpy(out, f->data + t->off + (uint64_t)gi * sizeof *out, sizeof *out);
}

/* The symbol's NUL-terminated name, or NULL if st_name is out of range or
 * the string runs off the end of its table. */
static const char *sym_name(const struct elf_file *f, uint32_t gi, const Elf64_Sym *s)
{
    const struct symtab *t = gi < f->tabs[0].n ? &f->tabs[0] : &f->tabs[1];
    if (s->st_name == 0 || s->st_name >= t->strsize)
        return NULL;
    const char *p = (const char *)f->data + t->stroff + s->st_name;
    if (!memchr(p, '\0', t->strsize - s->st_name))
        return NULL;
    return p;
}

static void index_add(struct elf_file *f, uint32_t gi, const Elf64_Sym *s, const char *name)
{
    uint32_t h = hash_name(name), mask = f->nslots - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        struct slot *sl = &f->slots[i];
        if (sl->ref == 0) {
            sl->hash = h;
            sl->ref = gi + 1;
            return;
        }
        if (sl->hash != h)
            continue;
        Elf64_Sym old;
        sym_at(f, sl->ref - 1, &old);
        const char *oname = sym_name(f, sl->ref - 1, &old);   /* never NULL once indexed */
        if (!oname || strcmp(oname, name) != 0)
            continue;
        if (ELF64_ST_BIND(old.st_info) == STB_LOCAL && ELF64_ST_BIND(s->st_info) != STB_LOCAL)
            sl->ref = gi + 1;
        return;
    }
}

/* Two passes: count the defined, named symbols, then insert them. */
static int build_index(struct elf_file *f)
{
    uint32_t total = f->tabs[0].n + f->tabs[1].n, count = 0;
    Elf64_Sym s;

    for (uint32_t gi = 0; gi < total; gi++) {
        sym_at(f, gi, &s);
        if (s.st_shndx != SHN_UNDEF && sym_name(f, gi, &s))
            count++;
    }
    if (count == 0)
        return 0;
    uint32_t n = 16;
    while (n < count * 2u)
        n *= 2;
    f->slots = calloc(n, sizeof *f->slots);
    if (!f->slots)
        return -1;
    f->nslots = n;
    for (uint32_t gi = 0; gi < total; gi++) {
        sym_at(f, gi, &s);
        const char *name;
        if (s.st_shndx != SHN_UNDEF && (name = sym_name(f, gi, &s)))
            index_add(f, gi, &s, name);
    }
    return 0;
}

/* .dynsym's symbol `name` by the file's .gnu.hash: 1 and *gi if found, 0
 * if the table says it is not there, -1 if there is no usable table.
 * Layout: nbuckets, symoffset, bloom_size, bloom_shift, bloom words (8
 * bytes each), buckets, then one hash per symbol from symoffset on, bit 0
 * set on the last of a bucket's chain.  The bloom filter is skipped. */
static int gnu_lookup(const struct elf_file *f, const char *name, uint32_t *gi)
{
    const unsigned char *p = f->data + f->gnu_off;
    uint64_t size = f->gnu_size;
    uint32_t hdr[4];
    if (size < sizeof hdr)
        return -1;
    memcpy(hdr, p, sizeof hdr);
    uint32_t nbuckets = hdr[0], symoffset = hdr[1];
    uint64_t buckets = sizeof hdr + (uint64_t)hdr[2] * 8;
    uint64_t chains = buckets + (uint64_t)nbuckets * 4;
    if (nbuckets == 0 || chains > size)
        return -1;
    uint32_t h = hash_name(name), idx;
    memcpy(&idx, p + buckets + (uint64_t)(h % nbuckets) * 4, 4);
    if (idx == 0)
        return 0;
    if (idx < symoffset)
        return -1;
    for (; idx < f->tabs[0].n; idx++) {         /* bounded: a chain cannot end */
        uint64_t at = chains + (uint64_t)(idx - symoffset) * 4;
        uint32_t h2;
        if (at > size - 4)
            return -1;
        memcpy(&h2, p + at, 4);
        if ((h2 | 1) == (h | 1)) {
            Elf64_Sym s;
            sym_at(f, idx, &s);
            const char *sname = sym_name(f, idx, &s);
            if (s.st_shndx != SHN_UNDEF && sname && strcmp(sname, name) == 0) {
                *gi = idx;
                return 1;
            }
        }
        if (h2 & 1)
            return 0;
    }
    return -1;
}

static void read_shdr(const struct elf_file *f, const Elf64_Ehdr *eh, uint64_t i, Elf64_Shdr *out)
{
    memcpy(out, f->data + eh->e_shoff + i * sizeof *out, sizeof *out);
}

/* Record symbol table section `sh` (with string table in section sh_link). */
static int add_symtab(struct elf_file *f, const Elf64_Ehdr *eh, uint64_t shnum,
                      const Elf64_Shdr *sh, struct symtab *t)
{
    Elf64_Shdr str;

    if (sh->sh_entsize != sizeof(Elf64_Sym) || !in_file(f, sh->sh_offset, sh->sh_size))
        return -1;
    if (sh->sh_link == 0 || sh->sh_link >= shnum)
        return -1;
    read_shdr(f, eh, sh->sh_link, &str);
    if (str.sh_type != SHT_STRTAB || !in_file(f, str.sh_offset, str.sh_size))
        return -1;
    uint64_t n = sh->sh_size / sizeof(Elf64_Sym);
    if (n > MAX_SYMS)
        return -1;
    t->off = sh->sh_offset;
    t->n = (uint32_t)n;
    t->stroff = str.sh_offset;
    t->strsize = str.sh_size;
    return 0;
}

static int parse(struct elf_file *f)
{
    Elf64_Ehdr eh;

    if (f->size < sizeof eh)
        return fail(ENOEXEC);
    memcpy(&eh, f->data, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return fail(ENOEXEC);
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_machine != EM_X86_64)
        return fail(ENOTSUP);

    /* Program headers: only the lowest PT_LOAD is needed (for the bias). */
    if (eh.e_phnum > 0) {
        if (eh.e_phentsize != sizeof(Elf64_Phdr) ||
            !in_file(f, eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr)))
            return fail(ENOEXEC);
        int seen = 0;
        for (uint64_t i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            memcpy(&ph, f->data + eh.e_phoff + i * sizeof ph, sizeof ph);
            if (ph.p_type == PT_LOAD && (!seen || ph.p_vaddr < f->first_load_vaddr)) {
                f->first_load_vaddr = ph.p_vaddr;
                seen = 1;
            }
        }
    }

    /* Section headers.  With 0xff00 sections or more, e_shnum is 0 and the
     * real count is in section 0's sh_size. */
    if (eh.e_shoff == 0)
        return 0;               /* no sections, so no symbols: not an error */
    if (eh.e_shentsize != sizeof(Elf64_Shdr) || !in_file(f, eh.e_shoff, sizeof(Elf64_Shdr)))
        return fail(ENOEXEC);
    uint64_t shnum = eh.e_shnum;
    if (shnum == 0) {
        Elf64_Shdr sh0;
        read_shdr(f, &eh, 0, &sh0);
        shnum = sh0.sh_size;
    }
    if (shnum > f->size / sizeof(Elf64_Shdr) ||
        !in_file(f, eh.e_shoff, shnum * sizeof(Elf64_Shdr)))
        return fail(ENOEXEC);

    int have_dyn = 0, have_sym = 0;
    uint64_t dyn_index = 0;
    Elf64_Shdr gnu = { 0 };
    for (uint64_t i = 1; i < shnum; i++) {
        Elf64_Shdr sh;
        read_shdr(f, &eh, i, &sh);
        if (sh.sh_type == SHT_GNU_HASH && !gnu.sh_link) {
            gnu = sh;
        } else if (sh.sh_type == SHT_DYNSYM && !have_dyn) {
            if (add_symtab(f, &eh, shnum, &sh, &f->tabs[0]) < 0)
                return fail(ENOEXEC);
            have_dyn = 1;
            dyn_index = i;
        } else if (sh.sh_type == SHT_SYMTAB && !have_sym) {
            if (add_symtab(f, &eh, shnum, &sh, &f->tabs[1]) < 0)
                return fail(ENOEXEC);
            have_sym = 1;
        }
    }
    /* a table of another symbol table, or out of the file: not used */
    if (have_dyn && gnu.sh_link == dyn_index && in_file(f, gnu.sh_offset, gnu.sh_size)) {
        f->gnu_off = gnu.sh_offset;
        f->gnu_size = gnu.sh_size;
    }
    return 0;
}

int elf_open(const char *path, struct elf_file **out)
{
    struct stat st;
    struct elf_file *f;
    int fd, err;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0) {
        err = errno;
        close(fd);
        return fail(err);
    }
    /* mmap of an empty file fails, and of a device or directory makes no
     * sense: reject before mapping. */
    if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        close(fd);
        return fail(ENOEXEC);
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return fail(ENOMEM);
    }
    f->size = (size_t)st.st_size;
    void *p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    err = errno;
    close(fd);
    if (p == MAP_FAILED) {
        free(f);
        return fail(err);
    }
    f->data = p;
    if (parse(f) < 0) {
        err = errno;
        elf_close(f);
        return fail(err);
    }
    *out = f;
    return 0;
}

void elf_close(struct elf_file *f)
{
    if (!f)
        return;
    if (f->data)
        munmap((void *)f->data, f->size);
    free(f->slots);
    free(f);
}

static void found(const struct elf_file *f, uint32_t gi, uint64_t *value, uint64_t *size)
{
    Elf64_Sym s;
    sym_at(f, gi, &s);
    if (value)
        *value = s.st_value;
    if (size)
        *size = s.st_size;
}

int elf_symbol(struct elf_file *f, const char *name, uint64_t *value, uint64_t *size)
{
    uint32_t gi;
    if (f->gnu_size && gnu_lookup(f, name, &gi) == 1) {
        found(f, gi, value, size);
        return 0;
    }
    if (!f->indexed) {
        if (build_index(f) < 0)
            return fail(ENOMEM);
        f->indexed = 1;
    }
    if (f->nslots == 0)
        return fail(ENOENT);
    uint32_t h = hash_name(name), mask = f->nslots - 1;
    for (uint32_t i = h & mask; f->slots[i].ref != 0; i = (i + 1) & mask) {
        if (f->slots[i].hash != h)
            continue;
        Elf64_Sym s;
        gi = f->slots[i].ref - 1;
        sym_at(f, gi, &s);
        const char *sname = sym_name(f, gi, &s);
        if (sname && strcmp(sname, name) == 0) {
            found(f, gi, value, size);
            return 0;
        }
    }
    return fail(ENOENT);
}

uint64_t elf_load_bias(const struct elf_file *f, uint64_t lowest_map_start)
{
    /* The kernel and ld.so map the first PT_LOAD at its p_vaddr rounded
     * down to a page, so that is where the lowest mapping starts. */
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    return lowest_map_start - (f->first_load_vaddr & ~(page - 1));
}

int elf_section(const struct elf_file *f, const char *name, const char **data, size_t *size)
{
    Elf64_Ehdr eh;
    memcpy(&eh, f->data, sizeof eh);    /* parse() checked the header fits */
    if (eh.e_shoff == 0 || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum ||
        eh.e_shentsize != sizeof(Elf64_Shdr) ||
        !in_file(f, eh.e_shoff, (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr)))
        return fail(ENOENT);
    Elf64_Shdr names;
    read_shdr(f, &eh, eh.e_shstrndx, &names);
    if (!in_file(f, names.sh_offset, names.sh_size))
        return fail(ENOEXEC);
    size_t want = strlen(name);
    for (uint64_t i = 1; i < eh.e_shnum; i++) {
        Elf64_Shdr sh;
        read_shdr(f, &eh, i, &sh);
        if (sh.sh_name >= names.sh_size || names.sh_size - sh.sh_name <= want ||
            memcmp(f->data + names.sh_offset + sh.sh_name, name, want + 1) != 0)
            continue;
        if (sh.sh_type == SHT_NOBITS || !in_file(f, sh.sh_offset, sh.sh_size))
            return fail(ENOEXEC);
        *data = (const char *)f->data + sh.sh_offset;
        *size = sh.sh_size;
        return 0;
    }
    return fail(ENOENT);
}
