/*
 * export.c -- `stetho export CAPTURE --format F [-o FILE]`: write a capture
 * in a format other tools read.  Each format is one function (export.h).
 */
#include "cli/cli.h"
#include "cli/export.h"
#include "cli/report_args.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int (*write)(const struct capture *c, const struct export_opts *o, FILE *out);
} formats[] = {
    { "json", export_json },
    { "speedscope", export_speedscope },
    { "collapsed", export_collapsed },
    { "pprof", export_pprof },
    { "pstats", export_pstats },
    { "chrome", export_chrome },
    { "html", export_html },
};

#define NFORMATS (sizeof formats / sizeof formats[0])

/* `stetho run -o NAME.EXT` renders directly; longest suffixes first. */
static const struct {
    const char *suffix, *format;
} extensions[] = {
    { ".speedscope.json", "speedscope" },
    { ".chrome.json", "chrome" },
    { ".trace.json", "chrome" },
    { ".collapsed", "collapsed" },
    { ".pstats", "pstats" },
    { ".folded", "collapsed" },
    { ".pprof", "pprof" },
    { ".pb.gz", "pprof" },
    { ".json", "json" },
    { ".prof", "pstats" },
    { ".html", "html" },
};

static int write_format(const char *path, size_t k, const char *output,
                        const struct export_opts *o);

static void export_usage(FILE *f)
{
    fputs("usage: stetho export CAPTURE --format FORMAT [-o FILE]\n"
          "options:\n"
          "  -f, --format FORMAT   json (stetho-profile/1, see docs/json-schema.md),\n"
          "                        speedscope, collapsed, pprof, pstats, chrome,\n"
          "                        html (one offline page, see docs/html-report.md)\n"
          "                        (see docs/exports.md)\n"
          "  -o, --output FILE     write to FILE instead of standard output\n"
          "  --metric M            collapsed: wall (default), cpu, user, sys, wait\n"
          "                        (microseconds) or samples\n"
          "  --merge-threads       collapsed: no root frame per thread\n", f);
}

static int unknown_format(const char *name)
{
    char known[256] = "";
    for (size_t i = 0; i < NFORMATS; i++) {
        if (i)
            strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, formats[i].name, sizeof known - strlen(known) - 1);
    }
    if (!name)
        return cli_error("export: --format needs a format (known: %s)", known);
    return cli_error("export: unknown format '%s' (known: %s)", name, known);
}

int cmd_export(int argc, char **argv)
{
    const char *path = NULL, *format = NULL, *output = NULL;
    struct export_opts o = { .metric = PROF_WALL };
    int options = 1;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!options || a[0] != '-' || !a[1]) {
            if (path)
                return cli_error("export: one capture at a time ('%s' and '%s')", path, a);
            path = a;
        } else if (!strcmp(a, "--")) {
            options = 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            export_usage(stdout);
            return 0;
        } else if (cli_option(argc, argv, &i, "--format", &v) ||
                   cli_option(argc, argv, &i, "-f", &v)) {
            if (!v)
                return unknown_format(NULL);
            format = v;
        } else if (cli_option(argc, argv, &i, "--output", &v) ||
                   cli_option(argc, argv, &i, "-o", &v)) {
            if (!v || !v[0])
                return cli_error("export: -o needs a file name");
            output = v;
        } else if (cli_option(argc, argv, &i, "--metric", &v)) {
            enum prof_metric m;
            if (v && !strcmp(v, "samples"))
                o.metric = EXPORT_SAMPLES;
            else if (v && prof_metric_parse(v, &m) == 0 && prof_metric_unit(m) == PROF_UNIT_NS)
                o.metric = (int)m;      /* the exports aggregate samples: time only */
            else
                return cli_error("export: --metric takes wall, cpu, user, sys, wait or samples"
                                 " (got '%s')", v ? v : "");
        } else if (!strcmp(a, "--merge-threads")) {
            o.merge_threads = 1;
        } else {
            return cli_error("export: unknown option '%s' (see 'stetho export --help')", a);
        }
    }
    if (!format)
        return unknown_format(NULL);
    size_t k = 0;
    while (k < NFORMATS && strcmp(formats[k].name, format))
        k++;
    if (k == NFORMATS)
        return unknown_format(format);
    if (!path)
        return cli_error("export: which capture? (usage: stetho export CAPTURE --format %s)",
                         format);

    return write_format(path, k, output, &o) < 0 ? STETHO_EXIT_USAGE : 0;
}

/* Export the capture at path with formats[k] to output (NULL, "-": stdout).
 * 0, or -1 after a one-line error. */
static int write_format(const char *path, size_t k, const char *output,
                        const struct export_opts *o)
{
    struct capture c;
    if (cli_load_capture("export", path, &c) < 0)
        return -1;
    FILE *out = stdout;
    if (output && strcmp(output, "-") && !(out = fopen(output, "w"))) {
        int e = errno;
        capture_free(&c);
        cli_error("export: cannot write %s: %s", output, strerror(e));
        return -1;
    }
    int rc = formats[k].write(&c, o, out);
    int failed = rc < 0 || ferror(out), to_file = out != stdout;
    int e = errno;
    if (to_file ? fclose(out) != 0 : fflush(out) != 0) {
        failed = 1;
        e = errno;
    }
    capture_free(&c);
    if (failed) {
        struct stat st;
        if (to_file && stat(output, &st) == 0 && S_ISREG(st.st_mode))
            remove(output);     /* not half a file that looks whole (never a device) */
        cli_error("export: cannot write %s: %s", output ? output : "standard output",
                  rc < 0 ? "out of memory" : strerror(e));
        return -1;
    }
    return 0;
}

const char *export_format_for(const char *path, size_t *suffix_len)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++) {
        size_t m = strlen(extensions[i].suffix);
        if (n > m && !strcmp(path + n - m, extensions[i].suffix)) {
            if (suffix_len)
                *suffix_len = m;
            return extensions[i].format;
        }
    }
    return NULL;
}

int export_to_file(const char *capture_path, const char *format, const char *output)
{
    for (size_t k = 0; k < NFORMATS; k++)
        if (!strcmp(formats[k].name, format))
            return write_format(capture_path, k, output, &(struct export_opts){0});
    cli_error("export: unknown format '%s'", format);
    return -1;
}
