/*
 * native.c -- the native (C/C++) stack of a recorded allocation (--native),
 * as instruction pointers only: stetho names them and merges them with the
 * Python stack (memtrack.c, native/merge.h), so nothing here looks up a
 * symbol.
 *
 * Unwinding: libunwind's unw_backtrace (local, from .eh_frame, with its
 * per-thread cache of each pc's frame layout: a few ns a frame once warm).
 * It is dlopen'ed RTLD_LOCAL, only for --native: linked, or in the global
 * scope, its _Unwind_* and backtrace() would take the place of libgcc's
 * and glibc's for the whole program (C++ exceptions in extensions).  Its
 * caching is set per thread so an unwind never takes its global lock, and
 * it is warmed up at agent start (its one-time setup allocates).  Inside a
 * hook the guard is held, so what libunwind allocates or maps (a thread's
 * first trace cache) is forwarded, never recorded, and never re-enters it.
 *
 * The frames of the agent itself (and libunwind's, above them) are cut off:
 * the first pc kept is the return address into the allocator's caller
 * (malloc's caller; for Python's domains PyMem_Malloc & co, which stetho
 * hides by name).
 *
 * Like the Python stacks (stack.c), native stacks are a per-thread tree of
 * ids (NATIVE records, wire.h): consecutive allocations mostly share all
 * but the innermost frames, so the previous unwind, root first, is kept and
 * only the levels after the first difference are looked up.  The modules
 * the pcs fall in go once per stream as MODULE records, read with
 * dl_iterate_phdr into a process-wide append-only table (the newest entry
 * for an address wins: dlclose then dlopen at the same place), re-read when
 * a new pc falls outside every known module and the loader has added some.
 */
#include "agent/agent.h"
#include "util/mix.h"
#include "util/utf8.h"

#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NATIVE_DEPTH 256        /* frames unwound per allocation */
#define MODULES_MAX 2048
#define NODES_FIRST 1024
#define UNW_CACHE_PER_THREAD_ 2 /* libunwind.h's unw_caching_policy_t */

struct module {
    uint64_t start, end;
    uint32_t flags;             /* WIRE_MODULE_* */
    char *path;
};

static struct module modules[MODULES_MAX];
static _Atomic size_t nmodules;         /* entries below it are complete */
static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long loader_adds;  /* dlpi_adds at the last read */
static uint64_t self_start, self_end;   /* the agent's own module */
static char exe_path[4096];
static int (*unwind)(void **, int);     /* unw_backtrace */

struct node {
    uint64_t pc;                /* 0: empty slot */
    uint32_t parent, id;
};

struct native_state {
    uint64_t last[NATIVE_DEPTH];        /* the previous unwind, root first */
    uint32_t last_id[NATIVE_DEPTH];     /* its native stack id at each level */
    size_t n_last;
    struct node *nodes;                 /* (parent, pc) -> id */
    size_t cap, used;
    uint32_t next_id;
    uint8_t announced[MODULES_MAX / 8]; /* MODULE sent in this stream */
};

/* ---- modules ---- */

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    int *first = arg;
    if (*first) {
        *first = 0;
        if (info->dlpi_adds == loader_adds)
            return 1;                   /* nothing loaded since: stop */
        loader_adds = info->dlpi_adds;
    }
    int exe = !info->dlpi_name || !*info->dlpi_name;
    const char *path = exe ? exe_path : info->dlpi_name;
    if (path[0] != '/')
        return 0;                       /* the vDSO: no file to name it from */
    uint64_t lo = UINT64_MAX, hi = 0, page = (uint64_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        if (ph->p_vaddr < lo)
            lo = ph->p_vaddr;
        if (ph->p_vaddr + ph->p_memsz > hi)
            hi = ph->p_vaddr + ph->p_memsz;
    }
    if (lo >= hi)
        return 0;
    uint64_t start = info->dlpi_addr + (lo & ~(page - 1));
    uint64_t end = info->dlpi_addr + ((hi + page - 1) & ~(page - 1));
    size_t n = atomic_load_explicit(&nmodules, memory_order_relaxed);
    for (size_t i = 0; i < n; i++)
        if (modules[i].start == start && modules[i].end == end && !strcmp(modules[i].path, path))
            return 0;
    uintptr_t me = (uintptr_t)&add_module;
    if (me >= start && me < end) {
        self_start = start;
        self_end = end;
        return 0;                       /* never named: its frames are cut */
    }
    if (n == MODULES_MAX)
        return 1;
    size_t len = strlen(path);
    char *copy = agent_real.malloc(len + 1);
    if (!copy)
        return 1;
    memcpy(copy, path, len + 1);
    uint32_t flags = (exe ? WIRE_MODULE_EXECUTABLE : 0) |
                     (agent.runtime >= start && agent.runtime < end ? WIRE_MODULE_INTERPRETER : 0);
    modules[n] = (struct module){ start, end, flags, copy };
    atomic_store_explicit(&nmodules, n + 1, memory_order_release);
    return 0;
}

static void read_modules(void)
{
    pthread_mutex_lock(&modules_lock);
    int first = 1;
    dl_iterate_phdr(add_module, &first);
    pthread_mutex_unlock(&modules_lock);
}

/* The module pc is in, newest first; -1 if none. */
static long module_of(uint64_t pc)
{
    size_t n = atomic_load_explicit(&nmodules, memory_order_acquire);
    for (size_t i = n; i-- > 0;)
        if (pc >= modules[i].start && pc < modules[i].end)
            return (long)i;
    return -1;
}

/* A fork may have copied the lock held by a thread the child does not
 * have: the table itself is whole (entries are complete below nmodules). */
void native_atfork_child(void)
{
    pthread_mutex_init(&modules_lock, NULL);
}

int native_init(void)
{
    ssize_t len = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    exe_path[len > 0 ? len : 0] = 0;
    void *h = dlopen(AGENT_LIBUNWIND, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return -1;
    unwind = (int (*)(void **, int))dlsym(h, "unw_backtrace");
    int (*policy)(void *, int) = (int (*)(void *, int))dlsym(h, "_ULx86_64_set_caching_policy");
    void **space = dlsym(h, "_ULx86_64_local_addr_space");
    if (!unwind)
        return -1;
    if (policy && space)
        policy(*space, UNW_CACHE_PER_THREAD_);
    read_modules();
    void *warm[NATIVE_DEPTH];
    unwind(warm, NATIVE_DEPTH);         /* its one-time setup, here */
    return self_end ? 0 : -1;
}

/* ---- the tree ---- */

static struct native_state *state_new(void)
{
    struct native_state *s = agent_real.calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->nodes = agent_real.calloc(NODES_FIRST, sizeof *s->nodes);
    if (!s->nodes) {
        agent_real.free(s);
        return NULL;
    }
    s->cap = NODES_FIRST;
    s->next_id = 1;
    return s;
}

void native_free(struct native_state *s)
{
    if (!s)
        return;
    agent_real.free(s->nodes);
    agent_real.free(s);
}

void native_reset(struct native_state *s)
{
    memset(s->nodes, 0, s->cap * sizeof *s->nodes);
    memset(s->announced, 0, sizeof s->announced);
    s->used = s->n_last = 0;
    s->next_id = 1;
}

static size_t slot_of(uint64_t pc, uint32_t parent, size_t cap)
{
    return (size_t)mix64(pc ^ (uint64_t)parent << 48 ^ parent) & (cap - 1);
}

static int grow(struct native_state *s)
{
    size_t ncap = s->cap * 2;
    struct node *nn = agent_real.calloc(ncap, sizeof *nn);
    if (!nn)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->nodes[i].pc)
            continue;
        size_t j = slot_of(s->nodes[i].pc, s->nodes[i].parent, ncap);
        while (nn[j].pc)
            j = (j + 1) & (ncap - 1);
        nn[j] = s->nodes[i];
    }
    agent_real.free(s->nodes);
    s->nodes = nn;
    s->cap = ncap;
    return 0;
}

/* The MODULE of pc, if this stream has not had it: 0, or -1 if recording
 * stopped. */
static int announce(struct native_state *s, struct agent_thread *th, uint64_t pc, uint64_t ts)
{
    long i = module_of(pc);
    if (i < 0) {
        read_modules();                 /* loaded since? */
        i = module_of(pc);
    }
    if (i < 0 || s->announced[i / 8] & (1u << (i % 8)))
        return 0;
    const struct module *m = &modules[i];
    struct wire_module r = {
        .start = m->start,
        .end = m->end,
        .flags = m->flags,
        .path = { m->path, utf8_cut(m->path, strlen(m->path), WIRE_FILE_MAX) },
    };
    uint8_t *w = chunk_reserve(th, wire_size_module(&r), ts);
    if (!w)
        return -1;
    chunk_commit(th, wire_put_module(w, &r));
    s->announced[i / 8] |= (uint8_t)(1u << (i % 8));
    return 0;
}

static uint32_t intern(struct native_state *s, struct agent_thread *th, uint32_t parent,
                       uint64_t pc, uint64_t ts)
{
    if ((s->used + 1) * 2 > s->cap && grow(s) < 0)
        return 0;
    size_t i = slot_of(pc, parent, s->cap);
    for (; s->nodes[i].pc; i = (i + 1) & (s->cap - 1))
        if (s->nodes[i].pc == pc && s->nodes[i].parent == parent)
            return s->nodes[i].id;
    if (announce(s, th, pc, ts) < 0)
        return 0;
    uint8_t *w = chunk_reserve(th, WIRE_FIXED_NATIVE, ts);
    if (!w)
        return 0;
    uint32_t id = s->next_id++;
    chunk_commit(th, wire_put_native(w, &(struct wire_native){ id, parent, pc }));
    s->nodes[i] = (struct node){ pc, parent, id };
    s->used++;
    return id;
}

uint32_t native_capture(struct agent_thread *th, uint64_t ts)
{
    struct native_state *s = th->native;
    if (!s && !(s = th->native = state_new()))
        return 0;
    void *pcs[NATIVE_DEPTH];
    int n = unwind(pcs, NATIVE_DEPTH);
    /* libunwind's own frames, then ours: the first pc after them returns
     * into the allocator's caller */
    int first = 0;
    while (first < n && !((uintptr_t)pcs[first] >= self_start && (uintptr_t)pcs[first] < self_end))
        first++;
    while (first < n && (uintptr_t)pcs[first] >= self_start && (uintptr_t)pcs[first] < self_end)
        first++;
    size_t levels = first < n ? (size_t)(n - first) : 0;
    if (!levels)
        return 0;
    /* pcs[first..n) innermost first; last[] root first */
    size_t common = 0;
    while (common < levels && common < s->n_last &&
           s->last[common] == (uint64_t)(uintptr_t)pcs[n - 1 - common])
        common++;
    uint32_t parent = common ? s->last_id[common - 1] : 0;
    for (size_t k = common; k < levels; k++) {
        uint64_t pc = (uint64_t)(uintptr_t)pcs[n - 1 - k];
        parent = pc ? intern(s, th, parent, pc, ts) : 0;
        if (!parent) {
            s->n_last = 0;              /* out of memory or switched off */
            return 0;
        }
        s->last[k] = pc;
        s->last_id[k] = parent;
    }
    s->n_last = levels;
    return parent;
}
