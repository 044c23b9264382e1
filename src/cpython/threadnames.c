/*
 * threadnames.c -- threading's names of threads, read from another process.
 *
 * The path: interpreter -> sys.modules -> "threading" -> its module dict ->
 * "_active" ({ident: Thread}) -> each Thread's instance dict -> "_name"
 * (dicts and attributes read by pyobj.c).
 * The `_active` dict is a module global that is mutated but never
 * replaced, so its address is found once and kept (checked to still be a
 * dict at every read).  Every count read is bounded, and a name is
 * kept only if it read the same twice and `_active` held the same Thread
 * for that ident before and after.
 */
#include "cpython/threadnames.h"
#include "cpython/pystr.h"
#include "cpython/pyobj.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define REREAD_NS 1000000000ull     /* names of known threads: every second */
#define NEW_THREAD_NS 50000000ull   /* a thread not seen before: this soon */
#define TRIES 3                     /* reads a nameless thread gets that soon
                                       (it may not be in _active yet) */
#define MAX_NAME 255                /* characters of a name we keep: at most
                                       4 bytes each in UTF-8, 1021 with the NUL */
#define MAX_ATTRS 1024              /* attributes of a Thread we look through */

/* Threads are told apart by (pthread ident, kernel tid): an ident is
 * reused by the next thread as soon as one ends. */
struct who {
    uint64_t ident;
    int64_t tid;
};

struct named {
    struct who who;             /* first: compared as a struct who */
    char *name;
};

struct seen {
    struct who who;             /* first: compared as a struct who */
    unsigned nameless;          /* reads that found no name for it */
};

_Static_assert(offsetof(struct named, who) == 0 && offsetof(struct seen, who) == 0,
               "looked up by their struct who");

struct py_threadnames {
    uint64_t active;            /* threading._active, 0: not found (yet) */
    uint64_t dict_type;         /* type(sys.modules), i.e. dict */
    int have_read;
    uint64_t last_ns;
    struct named *v;
    size_t n, cap;
    struct seen *known;         /* the snapshot's threads at the last read */
    size_t nknown, cap_known;
    struct seen *scratch;       /* the previous ones, while updating */
};

/* threading._active of the first interpreter, or 0 (not imported yet). */
static uint64_t find_active(struct py_target *t, struct py_threadnames *tn)
{
    const struct py_layout *l = &t->layout;
    uint64_t interp, modules, type, threading, mdict;
    if (py_read_u64(t, t->runtime + l->rt_interpreters_head, &interp) < 0 || !interp ||
        py_read_u64(t, interp + l->is_modules, &modules) < 0 || !modules ||
        py_read_u64(t, modules + l->ob_type, &type) < 0 || !type)
        return 0;
    threading = py_dict_get(t, modules, "threading");
    if (!threading || py_read_u64(t, threading + l->mod_dict, &mdict) < 0)
        return 0;
    uint64_t active = py_dict_get(t, mdict, "_active");
    uint64_t atype;
    if (!active || py_read_u64(t, active + l->ob_type, &atype) < 0 || atype != type)
        return 0;
    tn->dict_type = type;
    return active;
}

/* A Thread's `_name` attribute, a str, as UTF-8 (malloc'd), if its
 * `_native_id` is the kernel thread id `tid`; else NULL. */
static char *thread_name_of(struct py_target *t, uint64_t obj, int64_t tid)
{
    const struct py_layout *l = &t->layout;
    struct py_item *it;
    long n = py_obj_attrs(t, obj, &it, MAX_ATTRS);
    /* pthread idents are reused as soon as a thread ends: the kernel id
     * says whether this Thread is the thread sampled */
    long i = py_find_str(t, it, n, "_native_id");
    uint64_t native;
    char *name = NULL;
    if (i >= 0 && py_read_ulong(t, it[i].value, &native) == 0 && native == (uint64_t)tid &&
        (i = py_find_str(t, it, n, "_name")) >= 0)
        name = py_read_str(&t->rd, l, it[i].value, MAX_NAME);
    free(it);
    return name;
}

static int cmp_who(const void *a, const void *b)
{
    const struct who *x = a, *y = b;
    if (x->ident != y->ident)
        return x->ident < y->ident ? -1 : 1;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* Sorted by who, so a sample's look-up is a binary search even with
 * thousands of threads. */
static struct named *lookup(const struct named *v, size_t n, struct who w)
{
    return n ? bsearch(&w, v, n, sizeof *v, cmp_who) : NULL;
}

/* This thread as seen at the last read, or NULL. */
static struct seen *known_get(const struct seen *v, size_t n, struct who w)
{
    return n ? bsearch(&w, v, n, sizeof *v, cmp_who) : NULL;
}

/* The thread of the last read's snapshot with this ident, or NULL. */
static const struct seen *known_ident(const struct py_threadnames *tn, uint64_t ident)
{
    size_t lo = 0, hi = tn->nknown;
    while (lo < hi) {                   /* the first at or after ident */
        size_t mid = lo + (hi - lo) / 2;
        if (tn->known[mid].who.ident < ident)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < tn->nknown && tn->known[lo].who.ident == ident ? &tn->known[lo] : NULL;
}

/* A name for w: replaces one of v[0..nsorted), else is appended (the
 * caller sorts again). */
static void remember(struct py_threadnames *tn, size_t nsorted, struct who w, char *name)
{
    struct named *e = lookup(tn->v, nsorted, w);
    if (e) {
        free(e->name);
        e->name = name;
        return;
    }
    if (tn->n == tn->cap) {
        size_t ncap = tn->cap ? tn->cap * 2 : 16;
        struct named *nv = realloc(tn->v, ncap * sizeof *nv);
        if (!nv) {
            free(name);
            return;
        }
        tn->v = nv;
        tn->cap = ncap;
    }
    tn->v[tn->n++] = (struct named){ w, name };
}

/* Forget the names of threads gone from the snapshot. */
static void forget_gone(struct py_threadnames *tn)
{
    size_t k = 0;
    for (size_t i = 0; i < tn->n; i++) {
        if (known_get(tn->known, tn->nknown, tn->v[i].who))
            tn->v[k++] = tn->v[i];
        else
            free(tn->v[i].name);
    }
    tn->n = k;
}

static struct who who_of(const struct py_thread *th)
{
    return (struct who){ th->thread_id, th->tid };
}

/* Does the snapshot hold a thread not there at the last read, or one
 * still nameless that deserves another early read? */
static int has_new_thread(const struct py_threadnames *tn, const struct py_snapshot *s)
{
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct seen *k = known_get(tn->known, tn->nknown, who_of(&s->threads[i]));
        if (!k || (k->nameless < TRIES && !lookup(tn->v, tn->n, k->who)))
            return 1;
    }
    return 0;
}

/* known := the snapshot's threads, keeping what the last read saw of each. */
static void note_known(struct py_threadnames *tn, const struct py_snapshot *s)
{
    size_t nprev = tn->nknown;
    if (s->nthreads > tn->cap_known) {
        struct seen *a = malloc(s->nthreads * sizeof *a);
        struct seen *b = malloc(s->nthreads * sizeof *b);
        if (!a || !b) {
            free(a);
            free(b);
            tn->nknown = 0;
            return;
        }
        free(tn->scratch);
        tn->scratch = b;
        if (nprev)
            memcpy(a, tn->known, nprev * sizeof *a);
        free(tn->known);
        tn->known = a;
        tn->cap_known = s->nthreads;
    }
    struct seen *prev = tn->scratch;
    if (nprev)
        memcpy(prev, tn->known, nprev * sizeof *prev);
    for (size_t i = 0; i < s->nthreads; i++) {
        struct who w = who_of(&s->threads[i]);
        const struct seen *old = known_get(prev, nprev, w);
        tn->known[i] = (struct seen){ w, old ? old->nameless : 0 };
    }
    tn->nknown = s->nthreads;
    if (tn->nknown)
        qsort(tn->known, tn->nknown, sizeof *tn->known, cmp_who);
}

/* After a read: count it against the threads it found no name for. */
static void note_nameless(struct py_threadnames *tn)
{
    for (size_t i = 0; i < tn->nknown; i++)
        if (!lookup(tn->v, tn->n, tn->known[i].who) && tn->known[i].nameless < TRIES)
            tn->known[i].nameless++;
}

static void read_names(struct py_target *t, struct py_threadnames *tn)
{
    const struct py_layout *l = &t->layout;
    uint64_t type;
    if (tn->active && (py_read_u64(t, tn->active + l->ob_type, &type) < 0 || type != tn->dict_type))
        tn->active = 0;                 /* threading was unloaded, or exec */
    if (!tn->active)
        tn->active = find_active(t, tn);
    if (!tn->active)
        return;

    struct py_item *before, *after = NULL;
    uint64_t keys_before, keys_after;
    long n = py_dict_items(t, tn->active, &before, PY_MAX_THREADS, &keys_before);
    char **names = n > 0 ? calloc((size_t)n, sizeof *names) : NULL;
    struct who *whos = n > 0 ? calloc((size_t)n, sizeof *whos) : NULL;
    if (!names || !whos)
        goto out;
    for (long i = 0; i < n; i++) {
        uint64_t ident;
        const struct seen *k;
        if (py_read_ulong(t, before[i].key, &ident) < 0 || !(k = known_ident(tn, ident)) ||
            k->who.tid <= 0)
            continue;
        whos[i] = k->who;
        /* twice: a name torn by a rename at that moment reads differently */
        names[i] = thread_name_of(t, before[i].value, k->who.tid);
        char *again = names[i] ? thread_name_of(t, before[i].value, k->who.tid) : NULL;
        if (!again || strcmp(again, names[i])) {
            free(names[i]);
            names[i] = NULL;
        }
        free(again);
    }
    /* keep a name only if the same Thread was listed under that ident
     * before and after it was read: it was alive all along */
    long m = py_dict_items(t, tn->active, &after, PY_MAX_THREADS, &keys_after);
    size_t nsorted = tn->n;
    for (long i = 0; i < n; i++) {
        int same = 0;
        for (long k = 0; k < m && keys_after == keys_before && !same; k++)
            same = after[k].key == before[i].key && after[k].value == before[i].value;
        if (names[i] && same && names[i][0])
            remember(tn, nsorted, whos[i], names[i]);
        else
            free(names[i]);
    }
    if (tn->n)
        qsort(tn->v, tn->n, sizeof *tn->v, cmp_who);
out:
    free(before);
    free(after);
    free(names);
    free(whos);
}

void py_threadnames_update(struct py_target *t, const struct py_snapshot *s, uint64_t now_ns)
{
    /* a version read through _Py_DebugOffsets without a table of its own
     * has no known dict layout: no names rather than wrong ones */
    const struct py_layout *table = py_layout_table(t->major, t->minor);
    if (!table || t->layout.is_modules == PY_NOFIELD)
        return;
    if (!t->names && !(t->names = calloc(1, sizeof *t->names)))
        return;
    struct py_threadnames *tn = t->names;
    uint64_t since = now_ns - tn->last_ns;
    if (tn->have_read && since < REREAD_NS && !(since >= NEW_THREAD_NS && has_new_thread(tn, s)))
        return;
    tn->have_read = 1;
    tn->last_ns = now_ns;
    note_known(tn, s);
    forget_gone(tn);
    read_names(t, tn);
    note_nameless(tn);
}

const char *py_thread_name(const struct py_target *t, const struct py_thread *th)
{
    const struct named *e = t->names ? lookup(t->names->v, t->names->n, who_of(th)) : NULL;
    return e ? e->name : NULL;
}

void py_threadnames_free(struct py_threadnames *tn)
{
    if (!tn)
        return;
    for (size_t i = 0; i < tn->n; i++)
        free(tn->v[i].name);
    free(tn->v);
    free(tn->known);
    free(tn->scratch);
    free(tn);
}
