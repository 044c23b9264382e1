/*
 * frames.c -- frame identity by text (frames.h).
 *
 * The capture interns strings, but the same text can still come with two
 * ids (a child process's own string table merged in, a frame recorded
 * again after its code object was recycled), so ids are first mapped to
 * the first id with the same text; functions and lines are then keyed by
 * those canonical ids, which is keying by text.
 */
#include "model/frames.h"
#include "model/location.h"
#include "util/array.h"
#include "util/hash.h"
#include "util/kmap.h"

#include <stdlib.h>
#include <string.h>

/* string id -> the first id with the same text; NULL when out of memory */
static uint32_t *canonical_strings(const struct capture *c)
{
    struct kmap m = {0};
    uint32_t *canon = calloc(c->nstrings ? c->nstrings : 1, sizeof *canon);
    if (!canon)
        return NULL;
    for (size_t id = 1; id < c->nstrings; id++) {
        const char *s = c->strings[id];
        canon[id] = (uint32_t)id;
        if (!s)
            continue;
        int isnew;
        uint32_t *first = kmap_put(&m, util_hash_str(s), strlen(s), (uint32_t)id, &isnew);
        if (!first) {
            kmap_free(&m);
            free(canon);
            return NULL;
        }
        /* a hash collision between different texts only loses a merge */
        if (!isnew && !strcmp(c->strings[*first], s))
            canon[id] = *first;
    }
    kmap_free(&m);
    return canon;
}

/* where: the path that says whose code it is (the file; a native frame's
 * module, since its file may be a source file of any name).  A native
 * frame is never library code to fold away: its C functions are what
 * --native was asked for (numpy's are all under site-packages), as py-spy
 * --native shows them; the interpreter's own call machinery is already
 * left out when stacks are merged (native/merge.c). */
static int add_site(struct prof_site **v, size_t *n, size_t *cap, const char *function,
                    const char *file, const char *where, int32_t first_line, int32_t line,
                    uint8_t kind, uint32_t func)
{
    if (ARRAY_RESERVE(*v, *n, *cap) < 0)
        return -1;
    (*v)[(*n)++] = (struct prof_site){ .function = function, .file = file,
                                       .first_line = first_line, .line = line, .func = func,
                                       .kind = kind,
                                       .loc = (uint8_t)(kind == CAP_FRAME_NATIVE
                                                            ? LOC_USER
                                                            : loc_classify(where)) };
    return 0;
}

int prof_frames_build(struct profile *p)
{
    const struct capture *c = p->cap;
    size_t nf = c->nframes ? c->nframes : 1, funcs_cap = 0, lines_cap = 0;
    struct kmap funcs = {0}, lines = {0};
    uint32_t *canon = canonical_strings(c);
    int rc = -1;

    p->func_of = calloc(nf, sizeof *p->func_of);
    p->line_of = calloc(nf, sizeof *p->line_of);
    p->hidden = calloc(nf, 1);
    if (!canon || !p->func_of || !p->line_of || !p->hidden)
        goto out;
    for (size_t id = 1; id < c->nframes; id++) {
        const struct cap_frame *f = &c->frames[id];
        uint32_t fn = f->function < c->nstrings ? canon[f->function] : 0;
        uint32_t file = f->file < c->nstrings ? canon[f->file] : 0;
        const char *fname = capture_string(c, fn), *ffile = capture_string(c, file);
        if (!fname)
            fname = "?";
        if (!ffile)
            ffile = "";
        const char *where = f->module && f->module < c->nmodules
                                ? capture_string(c, c->modules[f->module].path) : NULL;
        if (!where)
            where = ffile;
        uint64_t a = (uint64_t)fn << 32 | file;
        int isnew;

        uint32_t *slot = kmap_put(&funcs, a, (uint32_t)f->first_line, (uint32_t)p->nfuncs, &isnew);
        if (!slot || (isnew && add_site(&p->funcs, &p->nfuncs, &funcs_cap, fname, ffile,
                                        where, f->first_line, f->first_line, f->kind,
                                        (uint32_t)p->nfuncs) < 0))
            goto out;
        p->func_of[id] = *slot;

        slot = kmap_put(&lines, a, (uint64_t)(uint32_t)f->first_line << 32 | (uint32_t)f->line,
                        (uint32_t)p->nlines, &isnew);
        if (!slot || (isnew && add_site(&p->lines, &p->nlines, &lines_cap, fname, ffile,
                                        where, f->first_line, f->line, f->kind,
                                        p->func_of[id]) < 0))
            goto out;
        p->line_of[id] = *slot;

        p->hidden[id] = f->kind != CAP_FRAME_SYNTHETIC && p->funcs[p->func_of[id]].loc != LOC_USER;
    }
    p->none_func = (uint32_t)p->nfuncs;
    if (add_site(&p->funcs, &p->nfuncs, &funcs_cap, PROF_NO_FRAMES, "", "", 0, 0,
                 CAP_FRAME_SYNTHETIC, p->none_func) < 0)
        goto out;
    rc = 0;
out:
    kmap_free(&funcs);
    kmap_free(&lines);
    free(canon);
    return rc;
}
