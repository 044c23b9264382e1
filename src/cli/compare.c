/*
 * compare.c -- the commands that compare a capture with another or with
 * budgets: `stetho diff BASE NEW` and `stetho check CAPTURE`.  They read
 * two captures, so they parse their own command lines (with cli_option,
 * as report_args does) and call the views (report/diff.h,
 * report/check.h).
 */
#include "cli/cli.h"
#include "cli/report_args.h"
#include "report/check.h"
#include "report/diff.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void diff_usage(FILE *f)
{
    fputs("usage: stetho diff BASE NEW [options]\n"
          "Every time and memory metric per function and per stack, NEW minus BASE.\n"
          "Functions match by name and file, not line, so moved code still matches.\n"
          "options:\n"
          "  --metric M            sort by the change in M: wall (default), cpu, user, sys,\n"
          "                        wait, peak, allocated, allocations or leaked\n"
          "  --sort self|total     functions by their own (default) or total change\n"
          "  --limit N             rows per table (default 20, 0 = all)\n"
          "  --json                every row as JSON (schema stetho-diff/1)\n"
          "  --html FILE           a differential flame graph (frames coloured by the change\n"
          "                        in --metric) and the function table, as one HTML page\n", f);
}

static void check_usage(FILE *f)
{
    fputs("usage: stetho check CAPTURE [budgets]\n"
          "Exit 0 when every budget holds, 1 when one is broken (one FAIL line each),\n"
          "2 for bad input.\n"
          "budgets:\n"
          "  --max-wall T          the run's duration: 2s, 500ms, 1.5min\n"
          "  --max-cpu T           user + sys of every thread\n"
          "  --max-peak B          the heap's peak: 200MB, 1.5GiB, 512KiB\n"
          "  --max-leaked B        memory still held at exit\n"
          "  --max-allocations N   number of allocations: 10k, 2M\n"
          "  --baseline OTHER      a capture to compare with, for:\n"
          "  --max-increase [M=]P% at most P% above the baseline in M (wall, cpu, peak,\n"
          "                        leaked, allocations; repeatable); without M: wall, cpu\n"
          "                        and, when both captures have memory, peak\n", f);
}

static int load(const char *cmd, const char *path, struct capture *c)
{
    return cli_load_capture(cmd, path, 0, c) < 0 ? -1 : 0;
}

/* The page written to path: 0, or STETHO_EXIT_USAGE after the one line
 * (no half-written page is left behind). */
static int diff_html(const struct capture *base, const struct capture *new_,
                     const struct diff_opts *o, const char *path)
{
    FILE *out = fopen(path, "w");
    if (!out)
        return cli_error("diff: cannot write %s: %s", path, strerror(errno));
    /* only a regular file is removed after a failure (never /dev/...) */
    struct stat st;
    int regular = fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode);
    int rc = report_diff_html(base, new_, o, out), e = errno;
    int failed = rc < 0 || ferror(out);
    if (fclose(out) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    if (failed) {
        if (regular)
            remove(path);
        return cli_error("diff: cannot write %s: %s", path, rc < 0 ? "out of memory" : strerror(e));
    }
    fprintf(stderr, "stetho: wrote %s\n", path);
    return 0;
}

int cmd_diff(int argc, char **argv)
{
    struct diff_opts o = { .metric = PROF_WALL, .limit = 20 };
    const char *paths[2] = { NULL, NULL }, *html = NULL;
    int npaths = 0, options = 1;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v;
        if (!options || s[0] != '-' || !s[1]) {
            if (npaths == 2)
                return cli_error("diff: two captures at a time (BASE NEW), not '%s' too", s);
            paths[npaths++] = s;
        } else if (!strcmp(s, "--")) {
            options = 0;
        } else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            diff_usage(stdout);
            return 0;
        } else if (!strcmp(s, "--json")) {
            o.json = 1;
        } else if (cli_option(argc, argv, &i, "--html", &v)) {
            if (!v || !*v)
                return cli_error("diff: --html takes the page's file name");
            html = v;
        } else if (cli_option(argc, argv, &i, "--metric", &v)) {
            if (!v || prof_metric_parse(v, &o.metric) < 0)
                return cli_error("diff: --metric takes wall, cpu, user, sys, wait, peak,"
                                 " allocated, allocations or leaked");
        } else if (cli_option(argc, argv, &i, "--sort", &v)) {
            if (v && !strcmp(v, "self"))
                o.by_total = 0;
            else if (v && !strcmp(v, "total"))
                o.by_total = 1;
            else
                return cli_error("diff: --sort takes self or total");
        } else if (cli_option(argc, argv, &i, "--limit", &v)) {
            char *end;
            long n = v ? strtol(v, &end, 10) : -1;
            if (!v || end == v || *end || n < 0)
                return cli_error("diff: --limit takes a number of rows (0 = all)");
            o.limit = n;
        } else {
            return cli_error("diff: unknown option '%s' (see 'stetho diff --help')", s);
        }
    }
    if (npaths < 2)
        return cli_error("diff: which captures? (usage: stetho diff BASE NEW)");
    if (html && o.json)
        return cli_error("diff: --json or --html, not both");
    o.base_name = paths[0];
    o.new_name = paths[1];
    struct capture base, new_;
    if (load("diff", paths[0], &base) < 0)
        return STETHO_EXIT_USAGE;
    if (load("diff", paths[1], &new_) < 0) {
        capture_free(&base);
        return STETHO_EXIT_USAGE;
    }
    if (html) {
        int rc = diff_html(&base, &new_, &o, html);
        capture_free(&base);
        capture_free(&new_);
        return rc;
    }
    int rc = report_diff(&base, &new_, &o, stdout);
    capture_free(&base);
    capture_free(&new_);
    if (fflush(stdout) != 0 || rc < 0)
        return cli_error("diff: cannot print the diff (out of memory or output closed)");
    return 0;
}

/* "10%" or "10" -> 0.10 */
static int parse_percent(const char *s, double *out)
{
    char *end;
    double x = strtod(s, &end);
    if (end == s || !(s[0] >= '0' && s[0] <= '9') || !isfinite(x) || x < 0 ||
        (*end && strcmp(end, "%")))
        return -1;
    *out = x / 100.0;
    return 0;
}

/* --max-increase [M=]P%: 0 (one metric), 1 (the default set), or
 * STETHO_EXIT_USAGE after the error. */
static int max_increase(const char *v, struct check_opts *o)
{
    if (!v)
        return cli_error("check: --max-increase takes a percentage: 10%% or peak=20%%");
    const char *eq = strchr(v, '='), *pct = eq ? eq + 1 : v;
    unsigned bits = 0;
    if (eq) {
        char name[32];
        enum prof_metric m;
        if ((size_t)(eq - v) >= sizeof name)
            return cli_error("check: --max-increase: unknown metric in '%s'", v);
        memcpy(name, v, (size_t)(eq - v));
        name[eq - v] = '\0';
        if (prof_metric_parse(name, &m) < 0 || !(CHECK_METRICS & CHECK_BIT(m)))
            return cli_error("check: --max-increase: '%s' is not wall, cpu, peak, leaked or"
                             " allocations", name);
        bits = CHECK_BIT(m);
    } else {
        bits = CHECK_BIT(PROF_WALL) | CHECK_BIT(PROF_CPU);
    }
    double x;
    if (parse_percent(pct, &x) < 0)
        return cli_error("check: --max-increase: '%s' is not a percentage (10%%)", pct);
    for (int m = 0; m < PROF_NMETRICS; m++)
        if (bits & CHECK_BIT(m)) {
            o->increase[m] = x;
            o->increase_text[m] = pct;
        }
    o->has_increase |= bits;
    return eq ? 0 : 1;          /* 1: the default set, peak maybe too */
}

int cmd_check(int argc, char **argv)
{
    static const enum prof_metric budgets[] = {
        PROF_WALL, PROF_CPU, PROF_PEAK, PROF_LEAKED, PROF_ALLOCATIONS,
    };
    struct check_opts o;
    memset(&o, 0, sizeof o);
    const char *path = NULL, *base_path = NULL, *default_pct = NULL;
    double default_increase = 0;
    int options = 1;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v;
        int matched = 0;
        if (!options || s[0] != '-' || !s[1]) {
            if (path)
                return cli_error("check: one capture at a time ('%s' and '%s'; compare with"
                                 " --baseline)", path, s);
            path = s;
            continue;
        }
        if (!strcmp(s, "--")) {
            options = 0;
            continue;
        }
        if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            check_usage(stdout);
            return 0;
        }
        for (size_t k = 0; k < sizeof budgets / sizeof budgets[0] && !matched; k++) {
            enum prof_metric m = budgets[k];
            char opt[32];
            snprintf(opt, sizeof opt, "--max-%s", prof_metric_name(m));
            if (!cli_option(argc, argv, &i, opt, &v))
                continue;
            matched = 1;
            if (!v || prof_parse_value(prof_metric_unit(m), v, &o.max[m]) < 0)
                return cli_error("check: %s: '%s' is not %s", opt, v ? v : "",
                                 prof_metric_unit(m) == PROF_UNIT_NS ? "a time (2s, 500ms)"
                                 : prof_metric_unit(m) == PROF_UNIT_BYTES
                                     ? "a size (200MB, 1.5GiB, 512KiB)"
                                     : "a count (5000, 10k, 2M)");
            o.has_max |= CHECK_BIT(m);
            o.max_text[m] = v;
        }
        if (matched)
            continue;
        if (cli_option(argc, argv, &i, "--baseline", &v)) {
            if (!v || !v[0])
                return cli_error("check: --baseline needs a capture");
            base_path = v;
        } else if (cli_option(argc, argv, &i, "--max-increase", &v)) {
            int r = max_increase(v, &o);
            if (r == STETHO_EXIT_USAGE)
                return r;
            if (r == 1) {
                default_pct = o.increase_text[PROF_WALL];
                default_increase = o.increase[PROF_WALL];
            }
        } else {
            return cli_error("check: unknown option '%s' (see 'stetho check --help')", s);
        }
    }
    if (!path)
        return cli_error("check: which capture? (usage: stetho check CAPTURE --max-wall 2s)");

    struct capture c, base;
    if (load("check", path, &c) < 0)
        return STETHO_EXIT_USAGE;
    if (base_path && load("check", base_path, &base) < 0) {
        capture_free(&c);
        return STETHO_EXIT_USAGE;
    }
    /* a bare --max-increase covers peak when both sides can be judged */
    if (default_pct && base_path && c.has_memory && base.has_memory &&
        !(o.has_increase & CHECK_BIT(PROF_PEAK))) {
        o.has_increase |= CHECK_BIT(PROF_PEAK);
        o.increase[PROF_PEAK] = default_increase;
        o.increase_text[PROF_PEAK] = default_pct;
    }
    char err[256] = "";
    int broken = check_run(&c, base_path ? &base : NULL, &o, stdout, err, sizeof err);
    capture_free(&c);
    if (base_path)
        capture_free(&base);
    if (broken < 0)
        return cli_error("check: %s", err);
    if (fflush(stdout) != 0)
        return cli_error("check: cannot print the result (output closed)");
    return broken ? 1 : 0;
}
