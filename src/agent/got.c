/*
 * got.c -- rewriting the GOT entries of the allocator family (got.h).
 *
 * Every object's dynamic relocations name the functions its calls go
 * through: a JUMP_SLOT (a call through the PLT) or a GLOB_DAT (a call
 * through the GOT, or a function pointer taken) holds the address the
 * dynamic linker bound.  Writing our wrapper's address there sends that
 * object's calls to us -- what LD_PRELOAD gets by symbol order, for a
 * process already running.  A slot not bound yet (lazy binding) holds its
 * PLT stub; that value is remembered like any other and put back, so the
 * next call binds it as it would have.
 *
 * Libraries loaded during a recording: dlopen itself is one of the hooked
 * functions; after the real one returns, the new objects are patched.  A
 * name without a '/' is searched in the *caller's* RPATH/RUNPATH, which
 * glibc finds from the return address: those calls go straight on to the
 * real dlopen (a tail call) and what they load is patched at the next
 * dlopen with a path (Python's imports always give one) or the next start.
 */
#include "agent/got.h"
#include "util/mix.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- the hooks ---- */

static void *(*real_dlopen)(const char *, int);
static void *got_dlopen(const char *file, int flags);

/* The agent's one hook list (agent_hooks[], AGENT_HOOK_LIST) and two
 * entries only a GOT needs: mmap64, the same function as mmap on x86_64
 * (no real slot of its own), and dlopen, so that libraries loaded later
 * are patched too.  Filled once, by got_hooks. */
enum { NHOOKS = AGENT_HOOKS + 2 };
static struct got_hook hooks[NHOOKS];
_Static_assert(sizeof(struct got_hook) == sizeof(struct agent_hook),
               "a GOT hook is an agent hook");

const struct got_hook *got_hooks(void *self_handle, size_t *n)
{
    if (!hooks[0].name) {
        void *mmap64_wrapper = dlsym(self_handle, "mmap64");
        if (!mmap64_wrapper)
            return NULL;
        for (size_t i = 0; i < AGENT_HOOKS; i++)
            hooks[i] = (struct got_hook){ agent_hooks[i].name, agent_hooks[i].real,
                                          agent_hooks[i].wrapper };
        hooks[AGENT_HOOKS] = (struct got_hook){ "mmap64", NULL, mmap64_wrapper };
        hooks[AGENT_HOOKS + 1] = (struct got_hook){ "dlopen", (void **)&real_dlopen,
                                                    (void *)got_dlopen };
    }
    *n = NHOOKS;
    return hooks;
}

static const struct got_hook *hook_named(const char *name)
{
    for (size_t i = 0; i < NHOOKS; i++)
        if (name[0] == hooks[i].name[0] && strcmp(name, hooks[i].name) == 0)
            return &hooks[i];
    return NULL;
}

static int is_wrapper(const void *v)
{
    for (size_t i = 0; i < NHOOKS; i++)
        if (v == hooks[i].wrapper)
            return 1;
    return 0;
}

/* ---- what was patched ---- */

struct saved {
    void **slot;
    void *orig;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct saved *saved;
static size_t nsaved, capsaved;
static int active;              /* between got_patch and got_restore */
static const char *self_name;   /* the agent's own object: never patched */

static struct saved *saved_of(void **slot)
{
    for (size_t i = 0; i < nsaved; i++)
        if (saved[i].slot == slot)
            return &saved[i];
    return NULL;
}

static int remember(void **slot, void *orig)
{
    struct saved *s = saved_of(slot);
    if (s) {                    /* a library unloaded and another loaded there */
        s->orig = orig;
        return 0;
    }
    if (nsaved == capsaved) {
        size_t ncap = capsaved ? capsaved * 2 : 256;
        struct saved *ns = agent_real.realloc(saved, ncap * sizeof *ns);
        if (!ns)
            return -1;
        saved = ns;
        capsaved = ncap;
    }
    saved[nsaved++] = (struct saved){ slot, orig };
    return 0;
}

/* ---- walking an object's relocations ---- */

enum walk_op { OP_PATCH, OP_RESTORE, OP_COUNT, OP_DIGEST };

struct walk {
    enum walk_op op;
    size_t count;
    int failed;
    uint64_t digest;
    char *maps;                 /* /proc/self/maps, read at the first need */
    size_t maps_len;
    int maps_tried;
};

struct object {
    ElfW(Addr) base;
    const ElfW(Sym) *symtab;
    const char *strtab;
    size_t strsz;
    const uint32_t *gnu_hash;           /* DT_GNU_HASH, or NULL */
    const ElfW(Rela) *jmprel, *rela;
    size_t jmpsz, relasz;
    uintptr_t relro_lo, relro_hi;       /* read-only after relocation */
};

/* A slot in a RELRO page is made writable for the write.  glibc protects
 * whole pages from the segment's start to its end rounded down: the same
 * range here. */
static void store(const struct object *o, void **slot, void *value)
{
    uintptr_t a = (uintptr_t)slot;
    if (a >= o->relro_lo && a < o->relro_hi) {
        uintptr_t page = a & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
        size_t len = (size_t)sysconf(_SC_PAGESIZE);
        if (mprotect((void *)page, len, PROT_READ | PROT_WRITE) < 0)
            return;
        __atomic_store_n(slot, value, __ATOMIC_SEQ_CST);
        mprotect((void *)page, len, PROT_READ);
        return;
    }
    __atomic_store_n(slot, value, __ATOMIC_SEQ_CST);
}

static void visit(const struct object *o, const ElfW(Rela) *r, void **slot, struct walk *w)
{
    void *cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    const char *name = NULL;
    size_t sym = ELF64_R_SYM(r->r_info);
    if (o->symtab[sym].st_name < o->strsz)
        name = o->strtab + o->symtab[sym].st_name;
    const struct got_hook *h = name ? hook_named(name) : NULL;
    if (!h)
        return;
    switch (w->op) {
    case OP_PATCH:
        if (cur == h->wrapper)
            return;
        if (remember(slot, cur) < 0) {
            w->failed = 1;
            return;
        }
        store(o, slot, h->wrapper);
        w->count++;
        break;
    case OP_RESTORE:
        if (cur == h->wrapper) {
            const struct saved *s = saved_of(slot);
            /* not remembered cannot happen; the bound function is right */
            store(o, slot, s ? s->orig : (h->real ? *h->real : NULL));
            w->count++;
        }
        break;
    case OP_COUNT:
        if (is_wrapper(cur))
            w->count++;
        break;
    case OP_DIGEST:
        w->digest = mix64(w->digest ^ (uintptr_t)slot) ^ mix64((uintptr_t)cur + 1);
        w->count++;
        break;
    }
}

static void walk_relocs(const struct object *o, const ElfW(Rela) *rel, size_t size,
                        struct walk *w)
{
    for (size_t i = 0; i < size / sizeof *rel; i++) {
        unsigned long type = ELF64_R_TYPE(rel[i].r_info);
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
            continue;
        visit(o, &rel[i], (void **)(o->base + rel[i].r_offset), w);
    }
}

static int is_self_or_vdso(const char *name)
{
    return (self_name && strcmp(name, self_name) == 0) || strstr(name, "linux-vdso") ||
           strstr(name, "linux-gate");
}

/* An object's dynamic section, read: 0, or -1 if it has no symbols. */
static int parse_object(const struct dl_phdr_info *info, struct object *o)
{
    memset(o, 0, sizeof *o);
    o->base = info->dlpi_addr;
    const ElfW(Dyn) *dyn = NULL;
    long page = sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(o->base + ph->p_vaddr);
        else if (ph->p_type == PT_GNU_RELRO) {
            o->relro_lo = (o->base + ph->p_vaddr) & ~(uintptr_t)(page - 1);
            o->relro_hi = (o->base + ph->p_vaddr + ph->p_memsz) & ~(uintptr_t)(page - 1);
        }
    }
    if (!dyn)
        return -1;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        /* glibc has relocated these addresses in place; the vdso and some
         * loaders have not */
        uintptr_t p = dyn->d_un.d_ptr;
        if (p < o->base)
            p += o->base;
        switch (dyn->d_tag) {
        case DT_SYMTAB: o->symtab = (const ElfW(Sym) *)p; break;
        case DT_STRTAB: o->strtab = (const char *)p; break;
        case DT_STRSZ: o->strsz = dyn->d_un.d_val; break;
        case DT_GNU_HASH: o->gnu_hash = (const uint32_t *)p; break;
        case DT_JMPREL: o->jmprel = (const ElfW(Rela) *)p; break;
        case DT_PLTRELSZ: o->jmpsz = dyn->d_un.d_val; break;
        case DT_RELA: o->rela = (const ElfW(Rela) *)p; break;
        case DT_RELASZ: o->relasz = dyn->d_un.d_val; break;
        default: break;
        }
    }
    return o->symtab && o->strtab ? 0 : -1;
}

/* ---- is an object whole? ----
 *
 * dl_iterate_phdr lists an object from the moment it is mapped, while
 * another thread's dlopen may still be relocating it (under a lock of the
 * dynamic linker's that we cannot take).  glibc makes an object's RELRO
 * pages read-only once its relocation is done: one whose RELRO pages are
 * still writable is left alone (our dlopen hook patches it once that
 * dlopen returns).  The protections come from /proc/self/maps, read once
 * per walk; unreadable, every object is taken as whole. */

static void read_maps(struct walk *w)
{
    w->maps_tried = 1;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    size_t cap = 0;
    for (;;) {
        if (w->maps_len + 4096 > cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nm = agent_real.realloc(w->maps, ncap);
            if (!nm)
                break;
            w->maps = nm;
            cap = ncap;
        }
        ssize_t n = read(fd, w->maps + w->maps_len, cap - w->maps_len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        w->maps_len += (size_t)n;
    }
    close(fd);
    if (w->maps)
        w->maps[w->maps_len] = 0;
}

/* 1: the page at a is writable now, 0: it is not, -1: unknown. */
static int page_writable(struct walk *w, uintptr_t a)
{
    if (!w->maps_tried)
        read_maps(w);
    for (const char *line = w->maps; line && *line;) {
        char *end;
        unsigned long long lo = strtoull(line, &end, 16), hi;
        if (*end == '-') {
            hi = strtoull(end + 1, &end, 16);
            if (a >= lo && a < hi && end[0] == ' ' && end[1] && end[2])
                return end[2] == 'w';
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return -1;
}

static int each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct walk *w = arg;
    struct object o;
    if (is_self_or_vdso(info->dlpi_name ? info->dlpi_name : "") || parse_object(info, &o) < 0)
        return 0;
    if ((w->op == OP_PATCH || w->op == OP_RESTORE) && o.relro_lo < o.relro_hi &&
        page_writable(w, o.relro_lo) == 1)
        return 0;                       /* being loaded by another thread */
    if (o.jmprel)
        walk_relocs(&o, o.jmprel, o.jmpsz, w);
    if (o.rela)
        walk_relocs(&o, o.rela, o.relasz, w);
    return 0;
}

/* ---- where a function is defined ----
 *
 * Not dlsym(RTLD_DEFAULT): in an executable that is not position-independent
 * (Debian's python3) and takes a function's address, that function's
 * canonical address is the executable's own PLT entry, which jumps through
 * the very GOT slot we rewrite.  The definition is the first object in
 * load order (the global scope: the executable, what was preloaded, then
 * the libraries) that *defines* the symbol. */

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static const ElfW(Sym) *defined(const struct object *o, const char *name)
{
    const uint32_t *gh = o->gnu_hash;
    if (!gh || !gh[0])
        return NULL;
    uint32_t nbuckets = gh[0], symoffset = gh[1], bloom_size = gh[2];
    const ElfW(Addr) *bloom = (const ElfW(Addr) *)(gh + 4);
    const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
    const uint32_t *chain = buckets + nbuckets;
    uint32_t h = gnu_hash(name);
    for (uint32_t i = buckets[h % nbuckets]; i >= symoffset && i; i++) {
        uint32_t h2 = chain[i - symoffset];
        const ElfW(Sym) *sym = &o->symtab[i];
        if ((h | 1) == (h2 | 1) && sym->st_name < o->strsz &&
            strcmp(o->strtab + sym->st_name, name) == 0 && sym->st_shndx != SHN_UNDEF &&
            sym->st_value && ELF64_ST_TYPE(sym->st_info) == STT_FUNC)
            return sym;
        if (h2 & 1)
            break;
    }
    return NULL;
}

struct lookup {
    const char *name;
    void *found;
};

static int find_definition(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct lookup *l = arg;
    struct object o;
    if (is_self_or_vdso(info->dlpi_name ? info->dlpi_name : "") || parse_object(info, &o) < 0)
        return 0;
    const ElfW(Sym) *sym = defined(&o, l->name);
    if (!sym)
        return 0;
    l->found = (void *)(o.base + sym->st_value);
    return 1;
}

static void *definition_of(const char *name)
{
    struct lookup l = { name, NULL };
    dl_iterate_phdr(find_definition, &l);
    /* an IFUNC or an object without a GNU hash table: the linker's answer */
    return l.found ? l.found : dlsym(RTLD_DEFAULT, name);
}

/* ---- patch, restore, count ---- */

static int find_self(void)
{
    if (self_name)
        return 0;
    Dl_info info;
    if (!dladdr((void *)got_patch, &info) || !info.dli_fname)
        return -1;
    void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return -1;
    size_t n;
    int ok = got_hooks(h, &n) != NULL;
    dlclose(h);                 /* only the reference NOLOAD took */
    if (!ok)
        return -1;
    /* The definitions every object is bound to: those of the global scope
     * (an allocator preloaded by the program included), not the next after
     * us in our own scope, which RTLD_NEXT would give a dlopen'ed object.
     * self_name is set first: the lookup skips the agent. */
    self_name = info.dli_fname;
    for (size_t i = 0; i < NHOOKS; i++) {
        if (!hooks[i].real)
            continue;
        void *def = definition_of(hooks[i].name);
        if (def == hooks[i].wrapper || dlsym(RTLD_DEFAULT, hooks[i].name) == hooks[i].wrapper) {
            self_name = NULL;
            return -1;          /* we are in the global scope: preloaded */
        }
        if (def)
            __atomic_store_n(hooks[i].real, def, __ATOMIC_RELEASE);
    }
    return 0;
}

int got_patch(void)
{
    pthread_mutex_lock(&lock);
    int rc = -1;
    if (find_self() == 0) {
        struct walk w = { .op = OP_PATCH };
        dl_iterate_phdr(each_object, &w);
        agent_real.free(w.maps);
        active = 1;
        rc = w.failed ? -1 : 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void got_restore(void)
{
    pthread_mutex_lock(&lock);
    if (active) {
        struct walk w = { .op = OP_RESTORE };
        dl_iterate_phdr(each_object, &w);
        agent_real.free(w.maps);
        nsaved = 0;
        active = 0;
    }
    pthread_mutex_unlock(&lock);
}

uint64_t got_digest(void)
{
    pthread_mutex_lock(&lock);
    struct walk w = { .op = OP_DIGEST };
    if (self_name || find_self() == 0)
        dl_iterate_phdr(each_object, &w);
    pthread_mutex_unlock(&lock);
    return w.digest;
}

size_t got_patched(void)
{
    pthread_mutex_lock(&lock);
    struct walk w = { .op = OP_COUNT };
    if (self_name)
        dl_iterate_phdr(each_object, &w);
    pthread_mutex_unlock(&lock);
    return w.count;
}

/* Never wait for our lock here: a library's constructor may dlopen while
 * the thread stopping the recording holds it and waits for the dynamic
 * linker's lock, which that constructor's thread holds.  A patch skipped
 * that way is made at the next dlopen. */
static void *got_dlopen(const char *file, int flags)
{
    void *(*real)(const char *, int) = __atomic_load_n(&real_dlopen, __ATOMIC_ACQUIRE);
    if (!file || !strchr(file, '/'))
        return real(file, flags);      /* a tail call: the caller's search path */
    void *h = real(file, flags);
    if (h && !guard_held() && pthread_mutex_trylock(&lock) == 0) {
        if (active) {
            int saved_errno = errno;
            int guard = guard_enter();
            struct walk w = { .op = OP_PATCH };
            dl_iterate_phdr(each_object, &w);
            agent_real.free(w.maps);
            guard_leave(guard);
            errno = saved_errno;
        }
        pthread_mutex_unlock(&lock);
    }
    return h;
}

/* fork() while another thread held the lock: the child starts with it free. */
void got_atfork_prepare(void)
{
    pthread_mutex_lock(&lock);
}

void got_atfork_parent(void)
{
    pthread_mutex_unlock(&lock);
}

void got_atfork_child(void)
{
    pthread_mutex_init(&lock, NULL);
}
