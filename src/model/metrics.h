/*
 * metrics.h -- the numbers every view of a capture adds up: time from
 * the samples, memory from the per-stack memory entries; the metric a
 * view sorts and cuts by; how values are printed.
 *
 * Contract: struct prof_metrics is summed, never averaged, so the
 * invariant of a sample (wall = user + sys + sum(wait)) holds for every
 * sum of them (prof_metrics_check asserts it where a builder adds).  The
 * memory fields are PROF_MEM_FIELDS, named as struct cap_mem_stack names
 * them: a new memory metric is one line there (and one in cap_mem_stack),
 * every add, sum and copy follows.
 */
#ifndef STETHO_MODEL_METRICS_H
#define STETHO_MODEL_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "capture/capture.h"

/* X(field): the memory metrics, estimates if the run sampled */
#define PROF_MEM_FIELDS(X) \
    X(alloc_bytes)         \
    X(alloc_count)         \
    X(peak_bytes)          \
    X(leaked_bytes)        \
    X(temporary_count)     \
    X(live_bytes)

struct prof_metrics {
    uint64_t samples;
    uint64_t wall_ns, user_ns, sys_ns;
    uint64_t wait_ns[CAP_WAIT_KINDS];
#define PROF_MEM_FIELD(f) uint64_t f;
    PROF_MEM_FIELDS(PROF_MEM_FIELD)
#undef PROF_MEM_FIELD
};

/* The single number a report sorts and cuts by. */
enum prof_metric {
    PROF_WALL = 0,
    PROF_CPU = 1,               /* user + sys */
    PROF_USER = 2,
    PROF_SYS = 3,
    PROF_WAIT = 4,              /* every kind of wait */
    PROF_PEAK = 5,              /* bytes held when the heap peaked */
    PROF_ALLOCATED = 6,         /* bytes allocated */
    PROF_ALLOCATIONS = 7,       /* number of allocations */
    PROF_LEAKED = 8,            /* bytes still held at finalization */
    PROF_NMETRICS = 9,
};

enum prof_unit {
    PROF_UNIT_NS = 0,
    PROF_UNIT_BYTES = 1,
    PROF_UNIT_COUNT = 2,
};

/* The metric's value: nanoseconds, bytes or a count (prof_metric_unit).
 * Named for the time metrics it began with. */
uint64_t prof_metric_ns(const struct prof_metrics *m, enum prof_metric which);
uint64_t prof_wait_ns(const struct prof_metrics *m);
enum prof_unit prof_metric_unit(enum prof_metric which);
/* "wall", "cpu", ..., "peak", "allocated", "allocations", "leaked";
 * prof_metric_parse gives -1 for an unknown name. */
const char *prof_metric_name(enum prof_metric which);
int prof_metric_parse(const char *s, enum prof_metric *out);

/* Values as reports print them, into buf (PROF_FMT_LEN is always enough);
 * each returns buf.  "1.234s"; "512 B", "12.3 MiB" (binary units, three
 * significant digits); "1,234,567". */
#define PROF_FMT_LEN 32
char *prof_fmt_ns(char *buf, size_t len, uint64_t ns);
char *prof_fmt_bytes(char *buf, size_t len, uint64_t bytes);
char *prof_fmt_count(char *buf, size_t len, uint64_t n);
/* The one of the three that fits the metric's unit. */
char *prof_fmt_metric(char *buf, size_t len, enum prof_metric which, uint64_t v);
/* The other way: a value as a user writes it, in the unit's own terms --
 * time "2s", "500ms", "250us", "10ns", "1.5min", "1h" (a bare number is
 * seconds); bytes "200MB", "1.5GiB", "64KiB", "512B" (KB, MB, GB, TB are
 * powers of 1000, KiB .. TiB of 1024; a bare number is bytes); counts
 * "10k", "2.5M", "1G" (powers of 1000) or a bare number.  Units are
 * case-sensitive ("Mb" would be megabits; "kB" = "KB").  0, or -1 for anything else (no number, a
 * negative, not finite, an unknown unit, beyond 2^64). */
int prof_parse_value(enum prof_unit unit, const char *s, uint64_t *out);
/* Nanoseconds as seconds, for printing. */
static inline double prof_secs(uint64_t ns)
{
    return (double)ns / 1e9;
}
/* "io", "sleep", "lock", "gil", "other" */
const char *prof_wait_name(int kind);
/* The JSON key of a wait's seconds: "wait_io_s", ... */
const char *prof_wait_key(int kind);

/* One sample (its count and times); a memory entry's metrics (samples
 * and times untouched); a whole other sum.  Inline: the model adds a sum
 * per distinct function of every sample's stack. */
static inline void prof_metrics_add(struct prof_metrics *m, const struct cap_sample *s)
{
    m->samples++;
    m->wall_ns += s->wall_ns;
    m->user_ns += s->user_ns;
    m->sys_ns += s->sys_ns;
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        m->wait_ns[k] += s->wait_ns[k];
}

static inline void prof_metrics_add_mem(struct prof_metrics *m, const struct cap_mem_stack *s)
{
#define PROF_ADD(f) m->f += s->f;
    PROF_MEM_FIELDS(PROF_ADD)
#undef PROF_ADD
}

static inline void prof_metrics_sum(struct prof_metrics *m, const struct prof_metrics *add)
{
    m->samples += add->samples;
    m->wall_ns += add->wall_ns;
    m->user_ns += add->user_ns;
    m->sys_ns += add->sys_ns;
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        m->wait_ns[k] += add->wait_ns[k];
#define PROF_ADD(f) m->f += add->f;
    PROF_MEM_FIELDS(PROF_ADD)
#undef PROF_ADD
}

#endif
