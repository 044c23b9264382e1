/*
 * report_args.c -- the one command line of the commands that read a
 * capture (report_args.h).
 */
#include "cli/report_args.h"
#include "native/symbolize.h"
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_option(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    *value = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

/* --metric for the reports: any metric. */
static int any_metric(const char *cmd, const char *v, enum prof_metric *out)
{
    if (!v || prof_metric_parse(v, out) < 0) {
        cli_error("%s: --metric takes wall, cpu, user, sys, wait, peak, allocated,"
                  " allocations or leaked", cmd);
        return -1;
    }
    return 0;
}

/* --metric for the exports, which aggregate samples: a time, or samples. */
static int time_metric(const char *cmd, const char *v, int *out)
{
    enum prof_metric m;
    if (v && !strcmp(v, "samples"))
        *out = EXPORT_SAMPLES;
    else if (v && prof_metric_parse(v, &m) == 0 && prof_metric_unit(m) == PROF_UNIT_NS)
        *out = (int)m;
    else {
        cli_error("%s: --metric takes wall, cpu, user, sys, wait or samples (got '%s')", cmd,
                  v ? v : "");
        return -1;
    }
    return 0;
}

static int number_in(const char *v, double lo, double hi, double *out)
{
    char *end;
    double x = v ? strtod(v, &end) : -1;
    if (!v || end == v || *end || !(x >= lo && x <= hi))
        return -1;
    *out = x;
    return 0;
}

/* One option that takes a value, if argv[*i] is one the command takes:
 * 1 (parsed), 0 (not this option), -1 (error printed). */
static int valued(const char *cmd, unsigned takes, int argc, char **argv, int *i,
                  struct report_args *a)
{
    const char *v;
    if ((takes & RA_METRIC) && cli_option(argc, argv, i, "--metric", &v)) {
        if (any_metric(cmd, v, &a->tree.metric) < 0)
            return -1;
        a->table.metric = a->tree.metric;
    } else if ((takes & RA_TIME_METRIC) && cli_option(argc, argv, i, "--metric", &v)) {
        return time_metric(cmd, v, &a->export.metric) < 0 ? -1 : 1;
    } else if ((takes & RA_MIN_PERCENT) && cli_option(argc, argv, i, "--min-percent", &v)) {
        if (number_in(v, 0, 100, &a->tree.min_percent) < 0)
            return cli_error("%s: --min-percent takes a number from 0 to 100", cmd), -1;
    } else if ((takes & RA_THREADS) && cli_option(argc, argv, i, "--threads", &v)) {
        if (v && !strcmp(v, "separate"))
            a->tree.merge_threads = 0;
        else if (v && !strcmp(v, "merged"))
            a->tree.merge_threads = 1;
        else
            return cli_error("%s: --threads takes separate or merged", cmd), -1;
    } else if ((takes & RA_SORT) && cli_option(argc, argv, i, "--sort", &v)) {
        if (v && !strcmp(v, "self"))
            a->table.by_total = 0;
        else if (v && !strcmp(v, "total"))
            a->table.by_total = 1;
        else
            return cli_error("%s: --sort takes self or total", cmd), -1;
    } else if ((takes & RA_LIMIT) && cli_option(argc, argv, i, "--limit", &v)) {
        char *end;
        long n = v ? strtol(v, &end, 10) : -1;
        if (!v || end == v || *end || n < 0)
            return cli_error("%s: --limit takes a number of rows (0 = all)", cmd), -1;
        a->table.limit = n;
    } else if ((takes & RA_OUTPUT) && (cli_option(argc, argv, i, "--output", &v) ||
                                       cli_option(argc, argv, i, "-o", &v))) {
        if (!v || !v[0])
            return cli_error("%s: -o needs a file name", cmd), -1;
        a->output = v;
    } else if ((takes & RA_FORMAT) && (cli_option(argc, argv, i, "--format", &v) ||
                                       cli_option(argc, argv, i, "-f", &v))) {
        a->format = v ? v : "";
    } else {
        return 0;
    }
    return 1;
}

/* One flag, if argv[i] is one the command takes: 1, or 0. */
static int flag(unsigned takes, const char *s, struct report_args *a, int *color)
{
    if ((takes & RA_SHOW_ALL) && !strcmp(s, "--show-all"))
        a->tree.show_all = 1;
    else if ((takes & RA_COLOR) && (!strcmp(s, "--color") || !strcmp(s, "--colour")))
        *color = 1;
    else if ((takes & RA_COLOR) && (!strcmp(s, "--no-color") || !strcmp(s, "--no-colour")))
        *color = 0;
    else if ((takes & RA_RECURSION) && !strcmp(s, "--keep-recursion"))
        a->tree.fold_recursion = 0;
    else if ((takes & RA_LINES) && !strcmp(s, "--lines"))
        a->table.lines = 1;
    else if ((takes & RA_CALLS) && !strcmp(s, "--calls"))
        a->table.calls = 1;
    else if ((takes & RA_JSON) && !strcmp(s, "--json"))
        a->json = 1;
    else if ((takes & RA_MERGE_THREADS) && !strcmp(s, "--merge-threads"))
        a->export.merge_threads = 1;
    else if ((takes & RA_MERGE_TASKS) && !strcmp(s, "--merge-tasks"))
        a->tree.merge_tasks = a->table.merge_tasks = a->export.merge_tasks = 1;
    else if ((takes & RA_SYMBOLIZE) && !strcmp(s, "--symbolize"))
        a->export.symbolize = 1;
    else
        return 0;
    return 1;
}

int report_args_parse(const char *cmd, unsigned takes, void (*usage)(FILE *), int argc,
                      char **argv, struct report_args *a)
{
    memset(a, 0, sizeof *a);
    tree_opts_init(&a->tree);
    a->tree.fold_recursion = 1;         /* f -> f -> f once, as pyinstrument shows it */
    a->table = (struct table_opts){ .metric = PROF_WALL, .limit = 30 };
    a->export = (struct export_opts){ .metric = PROF_WALL };
    int color = -1;             /* -1: if stdout is a terminal */
    int options = 1;

    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!options || s[0] != '-' || !s[1]) {
            if (a->path)
                return cli_error("%s: one capture at a time ('%s' and '%s')", cmd, a->path, s),
                       -1;
            a->path = s;
        } else if (!strcmp(s, "--")) {
            options = 0;
        } else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
            usage(stdout);
            return 1;
        } else {
            int r = valued(cmd, takes, argc, argv, &i, a);
            if (r < 0)
                return -1;
            if (!r && !flag(takes, s, a, &color))
                return cli_error("%s: unknown option '%s' (see 'stetho %s --help')", cmd, s,
                                 cmd), -1;
        }
    }
    if (color < 0) {
        const char *no = getenv("NO_COLOR");   /* https://no-color.org */
        color = isatty(STDOUT_FILENO) && !(no && no[0]);
    }
    a->tree.color = color;
    return 0;
}

int cli_load_capture(const char *cmd, const char *path, int symbolize, struct capture *c)
{
    char err[256] = "";
    if (capture_load(path, c, err, sizeof err) < 0) {
        if (!err[0])
            snprintf(err, sizeof err, "cannot read the capture");
        /* the reader names the file in I/O errors but not in format ones */
        if (strstr(err, path))
            cli_error("%s: %s", cmd, err);
        else
            cli_error("%s: %s: %s", cmd, path, err);
        return -1;
    }
    if (c->truncated)
        fprintf(stderr, "stetho: warning: %s is truncated (%s); reporting what it holds\n",
                path, c->truncation ? c->truncation : "cut short");
    if (!symbolize)
        return 0;
    char why[256] = "";
    size_t found, resolved;
    if (native_symbolize(c, &found, &resolved, why, sizeof why) < 0) {
        capture_free(c);
        return cli_error("%s: --symbolize: %s", cmd, why), -1;
    }
    fprintf(stderr, "stetho: --symbolize: %zu of %zu modules found by build-id, %zu frames "
            "resolved again\n", found, c->nmodules ? c->nmodules - 1 : 0, resolved);
    return 0;
}

int cli_render(const char *cmd, const char *path, export_writer *write,
               const struct export_opts *o, const char *output, long *size)
{
    struct capture c;
    if (cli_load_capture(cmd, path, o->symbolize, &c) < 0)
        return -1;
    int to_file = output && strcmp(output, "-") != 0;
    FILE *out = to_file ? fopen(output, "w") : stdout;
    if (!out) {
        int e = errno;
        capture_free(&c);
        return cli_error("%s: cannot write %s: %s", cmd, output, strerror(e)), -1;
    }
    /* only a regular file is removed after a failure (never /dev/...) */
    struct stat st;
    int regular = to_file && fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode);
    int rc = write(&c, o, out);
    capture_free(&c);
    int failed = rc < 0 || ferror(out), e = errno;
    if (size)
        *size = to_file ? ftell(out) : 0;
    if (to_file ? fclose(out) != 0 : fflush(out) != 0) {
        failed = 1;
        e = errno;
    }
    if (failed) {
        if (regular)
            remove(output);     /* not half a file that looks whole */
        return cli_error("%s: cannot write %s: %s", cmd, to_file ? output : "standard output",
                         rc < 0 ? "out of memory" : strerror(e)), -1;
    }
    return 0;
}
