/*
 * metrics.c -- summing, choosing and printing the metrics (metrics.h).
 */
#include "model/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t prof_wait_ns(const struct prof_metrics *m)
{
    uint64_t w = 0;
    for (int k = 0; k < CAP_WAIT_KINDS; k++)
        w += m->wait_ns[k];
    return w;
}

uint64_t prof_metric_ns(const struct prof_metrics *m, enum prof_metric which)
{
    switch (which) {
    case PROF_WALL: return m->wall_ns;
    case PROF_CPU: return m->user_ns + m->sys_ns;
    case PROF_USER: return m->user_ns;
    case PROF_SYS: return m->sys_ns;
    case PROF_WAIT: return prof_wait_ns(m);
    case PROF_PEAK: return m->peak_bytes;
    case PROF_ALLOCATED: return m->alloc_bytes;
    case PROF_ALLOCATIONS: return m->alloc_count;
    case PROF_LEAKED: return m->leaked_bytes;
    case PROF_NMETRICS: break;
    }
    return 0;
}

enum prof_unit prof_metric_unit(enum prof_metric which)
{
    switch (which) {
    case PROF_PEAK: case PROF_ALLOCATED: case PROF_LEAKED: return PROF_UNIT_BYTES;
    case PROF_ALLOCATIONS: return PROF_UNIT_COUNT;
    default: return PROF_UNIT_NS;
    }
}

static const char *const metric_names[] = {
    "wall", "cpu", "user", "sys", "wait", "peak", "allocated", "allocations", "leaked",
};
_Static_assert(sizeof metric_names / sizeof metric_names[0] == PROF_NMETRICS,
               "a name for every metric");

const char *prof_metric_name(enum prof_metric which)
{
    return (unsigned)which < PROF_NMETRICS ? metric_names[which] : "?";
}

int prof_metric_parse(const char *s, enum prof_metric *out)
{
    for (int i = 0; i < PROF_NMETRICS; i++)
        if (!strcmp(s, metric_names[i])) {
            *out = (enum prof_metric)i;
            return 0;
        }
    return -1;
}

const char *prof_wait_key(int kind)
{
    static const char *const keys[] = {
        "wait_io_s", "wait_sleep_s", "wait_lock_s", "wait_gil_s", "wait_other_s",
    };
    _Static_assert(sizeof keys / sizeof keys[0] == CAP_WAIT_KINDS, "a key for every wait");
    return kind >= 0 && kind < CAP_WAIT_KINDS ? keys[kind] : "?";
}

const char *prof_wait_name(int kind)
{
    static const char *const names[] = { "io", "sleep", "lock", "gil", "other" };
    _Static_assert(sizeof names / sizeof names[0] == CAP_WAIT_KINDS, "a name for every wait");
    return kind >= 0 && kind < CAP_WAIT_KINDS ? names[kind] : "?";
}

char *prof_fmt_ns(char *buf, size_t len, uint64_t ns)
{
    snprintf(buf, len, "%.3fs", (double)ns / 1e9);
    return buf;
}

char *prof_fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    if (bytes < 1024) {
        snprintf(buf, len, "%u B", (unsigned)bytes);
        return buf;
    }
    double v = (double)bytes / 1024;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    /* three significant digits; a value that rounds up to the next
     * decade just gets one more digit ("1024 KiB"), which is still true */
    snprintf(buf, len, v < 9.995 ? "%.2f %s" : v < 99.95 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

char *prof_fmt_count(char *buf, size_t len, uint64_t n)
{
    char digits[24];
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    size_t at = 0;
    for (int i = 0; i < nd && at + 1 < len; i++) {
        if (i && (nd - i) % 3 == 0 && at + 2 < len)
            buf[at++] = ',';
        buf[at++] = digits[i];
    }
    if (len)
        buf[at < len ? at : len - 1] = '\0';
    return buf;
}

char *prof_fmt_metric(char *buf, size_t len, enum prof_metric which, uint64_t v)
{
    switch (prof_metric_unit(which)) {
    case PROF_UNIT_BYTES: return prof_fmt_bytes(buf, len, v);
    case PROF_UNIT_COUNT: return prof_fmt_count(buf, len, v);
    default: return prof_fmt_ns(buf, len, v);
    }
}

struct unit_scale {
    const char *suffix;
    double scale;
};

static const struct unit_scale time_units[] = {
    { "", 1e9 }, { "s", 1e9 }, { "ms", 1e6 }, { "us", 1e3 }, { "ns", 1 },
    { "min", 60e9 }, { "h", 3600e9 }, { NULL, 0 },
};
static const struct unit_scale byte_units[] = {
    { "", 1 }, { "B", 1 },
    { "KB", 1e3 }, { "kB", 1e3 }, { "MB", 1e6 }, { "GB", 1e9 }, { "TB", 1e12 },
    { "KiB", 1024.0 }, { "MiB", 1048576.0 }, { "GiB", 1073741824.0 },
    { "TiB", 1099511627776.0 }, { NULL, 0 },
};
static const struct unit_scale count_units[] = {
    { "", 1 }, { "k", 1e3 }, { "K", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { NULL, 0 },
};

int prof_parse_value(enum prof_unit unit, const char *s, uint64_t *out)
{
    const struct unit_scale *units = unit == PROF_UNIT_BYTES ? byte_units
                                     : unit == PROF_UNIT_COUNT ? count_units : time_units;
    if (!s)
        return -1;
    char *end;
    double x = strtod(s, &end);
    /* strtod also takes signs, "inf", "nan", hex and exponents: a value
     * is decimal digits and a point, nothing else */
    if (end == s || end != s + strspn(s, "0123456789."))
        return -1;
    while (*end == ' ')
        end++;
    for (const struct unit_scale *u = units; u->suffix; u++) {
        if (strcmp(end, u->suffix))
            continue;
        double v = x * u->scale;
        if (!isfinite(v) || v < 0 || v >= 18446744073709551615.0)
            return -1;
        *out = (uint64_t)(v + 0.5);
        return 0;
    }
    return -1;
}
