/*
 * test_types.c -- the type census: a block's type read and checked
 * (cpython/objtype.h) on objects laid out as CPython lays them out, the
 * TYPES record written and read back, and the model's table
 * (model/types.h) on censuses whose answer is known.
 */
#include "check.h"
#include "capture/capture.h"
#include "cpython/layout.h"
#include "cpython/objtype.h"
#include "model/types.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The offsets objtype.h uses are every table's. */
static void test_offsets(void)
{
    for (int minor = 9; minor <= 13; minor++) {
        const struct py_layout *l = py_layout_table(3, minor);
        if (!l)
            continue;
        CHECK_EQ_INT(l->ob_type, OBJTYPE_OB_TYPE);
        CHECK_EQ_INT(l->tp_flags, OBJTYPE_TP_FLAGS);
        /* 3.11+'s managed dict is a pre-header flag; 3.9/3.10 have none */
        CHECK_EQ_INT(l->tpflag_managed_dict & ~OBJTYPE_F_PREHEADER, 0);
        CHECK_EQ_INT(l->tpflag_managed_dict != 0, minor >= 11);
    }
}

/* A type object's first bytes, as PyTypeObject has them. */
struct fake_type {
    alignas(8) uint8_t b[OBJTYPE_TP_FLAGS + 8];
};

static void set_word(uint8_t *p, size_t at, uint64_t v)
{
    memcpy(p + at, &v, sizeof v);
}

/* Names in buffers of OBJTYPE_NAME_MAX bytes: objtype.c reads that many
 * (the remote reader up to the page's end), and ours copies them all. */
static char names[8][OBJTYPE_NAME_MAX];
static int nnames;

static void make_type(struct fake_type *t, const struct fake_type *meta, const char *text,
                      uint64_t basicsize, uint64_t flags)
{
    char *name = names[nnames++ % 8];
    memset(name, 0, OBJTYPE_NAME_MAX);
    memcpy(name, text, strlen(text));
    memset(t, 0, sizeof *t);
    set_word(t->b, OBJTYPE_OB_TYPE, (uint64_t)(uintptr_t)meta);
    set_word(t->b, OBJTYPE_TP_NAME, (uint64_t)(uintptr_t)name);
    set_word(t->b, OBJTYPE_TP_BASICSIZE, basicsize);
    set_word(t->b, OBJTYPE_TP_FLAGS, flags);
}

/* Our own memory, every address the test passes being a real one. */
static int local_read(void *ctx, uint64_t addr, void *dst, size_t len)
{
    (void)ctx;
    memcpy(dst, (const void *)(uintptr_t)addr, len);
    return 0;
}

static void test_objtype(void)
{
    static struct fake_type type_, gc_t, plain_t, pre_t, notready_t, badname_t, big_t;
    static const char badname[] = { 'x', (char)0xff, 0 };
    uint64_t ready = OBJTYPE_F_READY;
    make_type(&type_, &type_, "type", 900, ready | OBJTYPE_F_TYPE_SUBCLASS | OBJTYPE_F_HAVE_GC);
    make_type(&gc_t, &type_, "Node", 32, ready | OBJTYPE_F_HAVE_GC);
    make_type(&plain_t, &type_, "float", 24, ready);
    make_type(&pre_t, &type_, "Managed", 16, ready | OBJTYPE_F_HAVE_GC | (1u << 4));
    make_type(&notready_t, &type_, "Half", 32, OBJTYPE_F_HAVE_GC);
    make_type(&badname_t, &type_, badname, 32, ready | OBJTYPE_F_HAVE_GC);
    make_type(&big_t, &type_, "Big", 4096, ready);

    struct reader r = { .read = local_read };
    struct objtype_cache c = {0};
    alignas(8) uint8_t head[OBJTYPE_HEAD];
    /* a GC object: PyGC_Head (its links point anywhere), then the object */
    memset(head, 0, sizeof head);
    set_word(head, 0, (uint64_t)(uintptr_t)head);      /* links: other GC heads */
    set_word(head, 8, (uint64_t)(uintptr_t)head + 1);   /* (with a flag bit) */
    set_word(head, 16 + OBJTYPE_OB_TYPE, (uint64_t)(uintptr_t)&gc_t);
    const struct objtype *t = objtype_of(&c, &r, head, sizeof head, 48);
    CHECK(t && !strcmp(t->name, "Node"));
    /* the same bytes in a block too small for the type: nothing */
    CHECK(objtype_of(&c, &r, head, sizeof head, 40) == NULL);

    /* a non-GC object at the block's start */
    memset(head, 0, sizeof head);
    set_word(head, OBJTYPE_OB_TYPE, (uint64_t)(uintptr_t)&plain_t);
    t = objtype_of(&c, &r, head, 24, 24);
    CHECK(t && !strcmp(t->name, "float"));
    /* a GC type where a non-GC object would start: its flags put it elsewhere */
    set_word(head, OBJTYPE_OB_TYPE, (uint64_t)(uintptr_t)&gc_t);
    CHECK(objtype_of(&c, &r, head, sizeof head, 48) == NULL);

    /* pre-header (managed dict) + PyGC_Head, then the object */
    memset(head, 0, sizeof head);
    set_word(head, 32 + OBJTYPE_OB_TYPE, (uint64_t)(uintptr_t)&pre_t);
    t = objtype_of(&c, &r, head, sizeof head, 48);
    CHECK(t && !strcmp(t->name, "Managed"));

    /* what is no type: not ready, a name that is not UTF-8, too big, the
     * address of a plain buffer, the zero word */
    static struct fake_type zeros;
    const struct fake_type *bad[] = { &notready_t, &badname_t, &big_t, &zeros };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(head, 0, sizeof head);
        set_word(head, OBJTYPE_OB_TYPE, (uint64_t)(uintptr_t)bad[i]);
        set_word(head, 16 + OBJTYPE_OB_TYPE, (uint64_t)(uintptr_t)bad[i]);
        CHECK(objtype_of(&c, &r, head, sizeof head, 64) == NULL);
    }
    /* a type whose type is no metatype */
    make_type(&badname_t, &plain_t, "Orphan", 16, ready);
    objtype_reset(&c);
    memset(head, 0, sizeof head);
    set_word(head, OBJTYPE_OB_TYPE, (uint64_t)(uintptr_t)&badname_t);
    CHECK(objtype_of(&c, &r, head, 16, 16) == NULL);

    /* prefetched types are the same answer */
    objtype_reset(&c);
    uint64_t addrs[] = { (uint64_t)(uintptr_t)&gc_t, 0, 3, (uint64_t)(uintptr_t)&gc_t };
    objtype_prefetch(&c, &r, addrs, 4);
    CHECK_EQ_INT(c.n, 1);
    CHECK(c.n == 1 && c.types[0].valid && !strcmp(c.types[0].name, "Node"));
    objtype_reset(&c);
}

/* Two censuses of pid 7 (at 1 s and 3 s; the heap peaked at 2 s) and one
 * of pid 8, written and read back; then the model's table. */
static void test_model(void)
{
    char path[] = "/tmp/stetho-types-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return;
    close(fd);
    struct capture_writer *w = capw_open(path, 10000000);
    uint32_t f1 = capw_frame(w, "add", "cache.py", 12, 10, CAP_FRAME_PYTHON);
    uint32_t f2 = capw_frame(w, "load", "app.py", 40, 38, CAP_FRAME_PYTHON);
    uint32_t s1 = capw_stack(w, 0, f1), s2 = capw_stack(w, 0, f2);
    uint32_t dict = capw_string(w, "dict"), node = capw_string(w, "Node");
    const struct cap_type_count recs[] = {
        { 1000000000, 7, dict, s1, 100, 6400 },
        { 1000000000, 7, dict, s2, 50, 3200 },
        { 1000000000, 7, node, s2, 10, 480 },
        { 3000000000, 7, dict, s1, 900, 57600 },
        { 3000000000, 7, dict, s2, 50, 3200 },
        { 3000000000, 7, node, s2, 10, 480 },
        { 2500000000, 8, node, s2, 5, 240 },
    };
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++)
        CHECK_EQ_INT(capw_type_count(w, &recs[i]), 0);
    CHECK(capw_type_count(w, &(struct cap_type_count){ 1, 7, 999, s1, 1, 1 }) < 0);  /* no such string */
    capw_mem_totals(w, &(struct cap_mem_totals){ .peak_heap_bytes = 1, .peak_heap_t_ns = 2000000000 });
    capw_close(w, 4000000000);
    struct capture c;
    char err[200];
    CHECK_EQ_INT(capture_load(path, &c, err, sizeof err), 0);
    unlink(path);
    CHECK_EQ_INT(c.ntypes, 7);
    CHECK(c.ntypes == 7 && c.types[3].t_ns == recs[3].t_ns && c.types[3].pid == 7 &&
          c.types[3].name == dict && c.types[3].stack == s1 && c.types[3].count == 900 &&
          c.types[3].bytes == 57600);

    struct prof_types t;
    CHECK_EQ_INT(prof_types_build(&t, &c), 0);
    CHECK_EQ_INT(t.ncensus, 3);
    CHECK_EQ_INT(t.nrows, 2);
    CHECK_EQ_INT(t.peak_t_ns, 1000000000);     /* the last at or before the peak */
    CHECK_EQ_INT(t.end_t_ns, 3000000000);
    if (t.nrows == 2) {
        const struct prof_type_row *d = &t.rows[0], *n = &t.rows[1];
        CHECK_EQ_STR(d->name, "dict");
        CHECK_EQ_INT(d->count, 150);
        CHECK_EQ_INT(d->end_count, 950);
        CHECK_EQ_INT(d->end_bytes, 60800);
        CHECK_EQ_INT(d->growth_count, 800);
        CHECK_EQ_INT(d->top_stack, s1);
        CHECK_EQ_STR(d->top_func, "add");
        CHECK_EQ_INT(d->top_line, 12);
        CHECK(d->top_share > 0.947 && d->top_share < 0.948);
        CHECK_EQ_STR(n->name, "Node");
        /* pid 8's one census is its peak (the first after), its end and its first */
        CHECK_EQ_INT(n->count, 15);
        CHECK_EQ_INT(n->end_count, 15);
        CHECK_EQ_INT(n->growth_count, 0);
        CHECK_EQ_STR(n->top_func, "load");
    }
    prof_types_free(&t);
    capture_free(&c);
}

int main(void)
{
    test_offsets();
    test_objtype();
    test_model();
    return CHECK_DONE();
}
