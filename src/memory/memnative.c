/*
 * memnative.c -- the agent's native stacks named and merged (memnative.h).
 *
 * What is hidden at the top: the agent cuts its own frames (agent/native.c),
 * so a native stack starts at the return address into whoever called the
 * allocator.  For malloc & co that is the code we want; for Python's
 * domains the agent's hook is called by PyMem_Malloc, PyObject_Malloc, ...,
 * which are the allocator's entry points, not the code that wanted
 * memory: they are left out by name, at the top only.
 */
#include "memory/memnative.h"
#include "native/capframe.h"
#include "native/merge.h"
#include "native/unwind.h"
#include "util/array.h"
#include "util/kmap.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IDS (1u << 24)      /* per stream: bounds what a bad chunk can ask */
#define NATIVE_MAX 1024         /* native frames merged per stack (the agent
                                   sends 256 at most) */

struct py_node {
    uint32_t parent, frame;     /* frame: 0 = not defined */
    int entry;
};

struct nat_node {
    uint64_t pc;                /* 0: not defined */
    uint32_t parent;
};

struct mn_thread {
    struct py_node *py;
    size_t cap_py;
    struct nat_node *nat;
    size_t cap_nat;
    struct kmap merged;         /* (Python id, native id) -> capture stack */
};

struct merge_buf;

struct mn_proc {
    struct merge_buf *buf;          /* scratch of merge(), kept: it is big */
    struct native_session *names;   /* NULL until a module came (or none can) */
    int no_names;                   /* this stetho cannot name them */
    char *interpreter, *exe;        /* module paths, as the session has them */
};

static const char *const ALLOCATOR_ENTRIES[] = {
    "malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
    "aligned_alloc", "memalign", "valloc", "pvalloc", "mmap", "mmap64", "mremap",
    "PyMem_RawMalloc", "PyMem_RawCalloc", "PyMem_RawRealloc",
    "PyMem_Malloc", "PyMem_Calloc", "PyMem_Realloc",
    "PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc",
    "_PyMem_RawMalloc", "_PyMem_RawCalloc", "_PyMem_RawRealloc",
    "_PyObject_Malloc", "_PyObject_Calloc", "_PyObject_Realloc",
};

static int allocator_entry(const char *symbol)
{
    if (!symbol)
        return 0;
    size_t len = strcspn(symbol, "@");
    for (size_t i = 0; i < sizeof ALLOCATOR_ENTRIES / sizeof *ALLOCATOR_ENTRIES; i++)
        if (strlen(ALLOCATOR_ENTRIES[i]) == len && !strncmp(symbol, ALLOCATOR_ENTRIES[i], len))
            return 1;
    return 0;
}

static struct mn_thread *thread_of(struct mn_thread **t)
{
    if (!*t)
        *t = calloc(1, sizeof **t);
    return *t;
}

/* Room for id in v (elements of size bytes, zeroed when new). */
static int room(void **v, size_t *cap, uint64_t id, size_t size)
{
    if (id >= MAX_IDS)
        return -1;
    if (id < *cap)
        return 0;
    size_t ncap = *cap ? *cap : 256;
    while (ncap <= id)
        ncap *= 2;
    void *nv = realloc(*v, ncap * size);
    if (!nv)
        return -1;
    memset((char *)nv + *cap * size, 0, (ncap - *cap) * size);
    *v = nv;
    *cap = ncap;
    return 0;
}

int mn_python(struct mn_thread **tp, uint64_t id, uint64_t parent, uint32_t frame, int entry)
{
    struct mn_thread *t = thread_of(tp);
    if (!t || !id || parent >= id || !frame ||
        room((void **)&t->py, &t->cap_py, id, sizeof *t->py) < 0)
        return -1;
    t->py[id] = (struct py_node){ (uint32_t)parent, frame, entry };
    return 0;
}

int mn_native(struct mn_thread **tp, const struct wire_native *r)
{
    struct mn_thread *t = thread_of(tp);
    if (!t || !r->id || r->parent >= r->id || !r->pc ||
        (r->parent && !mn_has_native(t, r->parent)) ||
        room((void **)&t->nat, &t->cap_nat, r->id, sizeof *t->nat) < 0)
        return -1;
    t->nat[r->id] = (struct nat_node){ r->pc, (uint32_t)r->parent };
    return 0;
}

int mn_has_native(const struct mn_thread *t, uint64_t native)
{
    return t && native < t->cap_nat && t->nat[native].pc;
}

static char *path_of(const struct wire_module *r)
{
    char raw[PATH_MAX], real[PATH_MAX];
    if (r->path.len >= sizeof raw)
        return NULL;
    memcpy(raw, r->path.p, r->path.len);
    raw[r->path.len] = 0;
    /* as /proc/PID/maps says it, so time's frames and memory's agree */
    return strdup(realpath(raw, real) ? real : raw);
}

int mn_module(struct mn_proc **pp, const struct wire_module *r)
{
    if (r->start >= r->end || !r->path.len)
        return -1;
    if (!*pp && !(*pp = calloc(1, sizeof **pp)))
        return -1;
    struct mn_proc *p = *pp;
    if (p->no_names)
        return 0;
    if (!p->names) {
        char why[256];
        if (!(p->names = native_open_modules(why, sizeof why))) {
            p->no_names = 1;            /* pcs are shown as addresses */
            return 0;
        }
    }
    char *path = path_of(r);
    if (!path)
        return 0;
    if (native_add_module(p->names, path, r->start, r->end) == 0) {
        if ((r->flags & WIRE_MODULE_INTERPRETER) && !p->interpreter)
            p->interpreter = strdup(path);
        if ((r->flags & WIRE_MODULE_EXECUTABLE) && !p->exe)
            p->exe = strdup(path);
    }
    free(path);
    return 0;
}

/* Scratch for one merge: the two stacks innermost first, and the result. */
struct merge_buf {
    struct py_frame py[PY_MAX_DEPTH];
    uint32_t py_frame[PY_MAX_DEPTH];
    struct native_frame nat[NATIVE_MAX];
    struct merged_frame out[PY_MAX_DEPTH + NATIVE_MAX];
};

static uint32_t merge(struct capture_writer *w, struct mn_proc *p, struct mn_thread *t,
                      uint64_t py, uint64_t native, struct mn_stats *stats, struct merge_buf *b)
{
    size_t npy = 0, nnat = 0;
    for (uint64_t id = py; id && npy < PY_MAX_DEPTH; id = t->py[id].parent) {
        if (id >= t->cap_py || !t->py[id].frame)
            return 0;
        b->py[npy] = (struct py_frame){ .entry = t->py[id].entry };
        b->py_frame[npy++] = t->py[id].frame;
    }
    for (uint64_t id = native; id && nnat < NATIVE_MAX; id = t->nat[id].parent) {
        if (id >= t->cap_nat || !t->nat[id].pc)
            return 0;
        if (p && p->names)
            native_describe(p->names, t->nat[id].pc, 1, &b->nat[nnat++]);
        else
            b->nat[nnat++] = (struct native_frame){ .pc = t->nat[id].pc };
    }
    size_t top = 0;
    while (top < nnat && allocator_entry(b->nat[top].symbol))
        top++;
    struct merge_info info;
    size_t n = native_merge(b->py, npy, b->nat + top, nnat - top, p ? p->interpreter : NULL,
                            p ? p->exe : NULL, b->out, &info);
    stats->stacks++;
    stats->partial += !info.complete;
    uint32_t stack = 0;
    for (size_t k = n; k-- > 0;) {              /* root (outermost) first */
        const struct merged_frame *m = &b->out[k];
        uint32_t frame = m->native ? native_capture_frame(w, &b->nat[top + m->index])
                                   : b->py_frame[m->index];
        stack = capw_stack(w, stack, frame);
    }
    return stack;
}

uint32_t mn_stack(struct capture_writer *w, struct mn_proc *p, struct mn_thread *t,
                  uint64_t py, uint64_t native, struct mn_stats *stats)
{
    if (!mn_has_native(t, native))
        return 0;
    uint32_t known = kmap_get(&t->merged, py, native, 0);
    if (known)
        return known;
    struct merge_buf *b = p ? p->buf : NULL;
    if (!b && (b = malloc(sizeof *b)) && p)
        p->buf = b;
    uint32_t stack = b ? merge(w, p, t, py, native, stats, b) : 0;
    if (!p)
        free(b);
    int isnew;
    if (stack)
        kmap_put(&t->merged, py, native, stack, &isnew);
    return stack;
}

void mn_thread_reset(struct mn_thread *t)
{
    if (!t)
        return;
    if (t->py)
        memset(t->py, 0, t->cap_py * sizeof *t->py);
    if (t->nat)
        memset(t->nat, 0, t->cap_nat * sizeof *t->nat);
    kmap_free(&t->merged);
}

void mn_thread_free(struct mn_thread *t)
{
    if (!t)
        return;
    free(t->py);
    free(t->nat);
    kmap_free(&t->merged);
    free(t);
}

void mn_proc_free(struct mn_proc *p)
{
    if (!p)
        return;
    native_close(p->names);
    free(p->buf);
    free(p->interpreter);
    free(p->exe);
    free(p);
}
