/*
 * export_common.h -- what several export formats need from a capture:
 * its frames merged into functions, its threads with their samples in
 * time order, and a metric's value.
 *
 * Functions are merged by the text of (function, file, first_line), as
 * the reports merge them, so a function is one node in every viewer
 * whatever line it was on and however often the capture interned its
 * strings.  One more function, "[no Python frames]", stands for the
 * empty stack, so that time spent outside Python still adds up.
 */
#ifndef STETHO_CLI_EXPORT_COMMON_H
#define STETHO_CLI_EXPORT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include "capture/capture.h"
#include "report/profile.h"

#define EXPORT_NO_FRAMES "[no Python frames]"

struct export_func {
    const char *name, *file;    /* never NULL; file may be "" */
    int32_t first_line;
    uint8_t kind;               /* enum cap_frame_kind */
};

struct export_funcs {
    struct export_func *v;
    size_t n;
    uint32_t *of_frame;         /* [frame id] -> index into v */
    uint32_t none;              /* the empty stack's function */
};

int export_funcs_build(struct export_funcs *f, const struct capture *c);
void export_funcs_free(struct export_funcs *f);

/* The functions of stack, root first, into buf (room for c->nstacks + 1);
 * the empty stack is [none].  Returns how many. */
size_t export_stack_funcs(const struct capture *c, const struct export_funcs *f,
                          uint32_t stack, uint32_t *buf);

/* The threads that have samples, in order of their first sample. */
struct export_thread {
    int32_t pid, tid;
    const char *name;           /* the capture's last name for it, or NULL */
    size_t first, n;            /* its samples: order[first .. first + n) */
};

struct export_threads {
    struct export_thread *v;
    size_t n;
    uint32_t *order;            /* sample indices grouped by thread */
    int nprocesses;             /* distinct pids among them */
};

int export_threads_build(struct export_threads *t, const struct capture *c);
void export_threads_free(struct export_threads *t);

/* Process pid's command line, its words joined by spaces (cut to fit
 * len), or "process PID" when the capture has no record of it. */
void export_command(const struct capture *c, int32_t pid, char *buf, size_t len);

/* A metric of m: enum prof_metric, or EXPORT_SAMPLES for the count. */
uint64_t export_metric_value(const struct prof_metrics *m, int metric);

/* Grow *v (of *cap elements of size sz) to hold one more than n. */
int export_reserve(void **v, size_t *cap, size_t n, size_t sz);

#endif
