/*
 * check.c -- `stetho check`: a capture's totals against budgets (check.h).
 */
#include "report/check.h"
#include "model/capinfo.h"
#include "model/profile.h"

#include <string.h>

static int is_memory(enum prof_metric m)
{
    return prof_metric_unit(m) != PROF_UNIT_NS;
}

/* The capture's value of a checkable metric; cpu comes from the model. */
static uint64_t value_of(const struct capture *c, const struct profile *p, enum prof_metric m)
{
    switch (m) {
    case PROF_WALL: return capture_duration(c);
    case PROF_CPU: return p->total.user_ns + p->total.sys_ns;
    case PROF_PEAK: return c->mem_totals.peak_heap_bytes;
    case PROF_LEAKED: return c->mem_totals.leaked_bytes;
    case PROF_ALLOCATIONS: return c->mem_totals.alloc_count;
    default: return 0;
    }
}

static int judgeable(const struct capture *c, const char *which, unsigned bits, char *err,
                     size_t errlen)
{
    for (int m = 0; m < PROF_NMETRICS; m++)
        if ((bits & CHECK_BIT(m)) && is_memory((enum prof_metric)m) && !c->has_memory) {
            snprintf(err, errlen, "the %s has no memory record for a %s budget (record it with"
                     " --memory exact or sampled)", which, prof_metric_name((enum prof_metric)m));
            return -1;
        }
    return 0;
}

int check_run(const struct capture *c, const struct capture *baseline,
              const struct check_opts *o, FILE *out, char *err, size_t errlen)
{
    if (!(o->has_max | o->has_increase)) {
        snprintf(err, errlen, "no budget given (--max-wall, --max-cpu, --max-peak, --max-leaked,"
                 " --max-allocations, --max-increase)");
        return -1;
    }
    if (o->has_increase && !baseline) {
        snprintf(err, errlen, "--max-increase needs --baseline OTHER");
        return -1;
    }
    if (judgeable(c, "capture", o->has_max | o->has_increase, err, errlen) < 0 ||
        (baseline && judgeable(baseline, "baseline", o->has_increase, err, errlen) < 0))
        return -1;

    struct profile p, pb;
    if (profile_build(&p, c, &(struct profile_opts){ .skip = PROF_ROWS_ONLY }) < 0)
        return snprintf(err, errlen, "out of memory"), -1;
    if (baseline &&
        profile_build(&pb, baseline, &(struct profile_opts){ .skip = PROF_ROWS_ONLY }) < 0) {
        profile_free(&p);
        return snprintf(err, errlen, "out of memory"), -1;
    }
    int broken = 0;
    char v[PROF_FMT_LEN], lim[PROF_FMT_LEN];
    for (int k = 0; k < PROF_NMETRICS; k++) {
        enum prof_metric m = (enum prof_metric)k;
        uint64_t x = value_of(c, &p, m);
        const char *name = prof_metric_name(m);
        if (o->has_max & CHECK_BIT(m)) {
            int bad = x > o->max[m];
            broken += bad;
            fprintf(out, "%-4s %s %s %s --max-%s %s (%s)\n", bad ? "FAIL" : "ok", name,
                    prof_fmt_metric(v, sizeof v, m, x), bad ? ">" : "<=", name, o->max_text[m],
                    prof_fmt_metric(lim, sizeof lim, m, o->max[m]));
        }
        if (o->has_increase & CHECK_BIT(m)) {
            uint64_t b = value_of(baseline, &pb, m);
            double allowed = (double)b * (1.0 + o->increase[m]);
            int bad = (double)x > allowed;
            broken += bad;
            fprintf(out, "%-4s %s %s, baseline %s: ", bad ? "FAIL" : "ok", name,
                    prof_fmt_metric(v, sizeof v, m, x), prof_fmt_metric(lim, sizeof lim, m, b));
            if (b)
                fprintf(out, "%+.1f%%", ((double)x - (double)b) * 100.0 / (double)b);
            else
                fprintf(out, "%s", x ? "from nothing" : "+0.0%");
            fprintf(out, " %s --max-increase %s\n", bad ? ">" : "<=", o->increase_text[m]);
        }
    }
    profile_free(&p);
    if (baseline)
        profile_free(&pb);
    return broken;
}
