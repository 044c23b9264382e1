/*
 * html.c -- `stetho html CAPTURE [-o FILE]`: the capture as one HTML page
 * that works offline (report/html_report.h; docs/html-report.md).  Also
 * the "html" format of `stetho export` and `stetho run -o NAME.html`.
 */
#include "cli/cli.h"
#include "cli/export.h"
#include "cli/report_args.h"
#include "report/html_report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void html_usage(FILE *f)
{
    fputs("usage: stetho html CAPTURE [-o FILE]\n"
          "Writes the capture as one self-contained HTML page: flame graph, timeline,\n"
          "function and line tables (open it in a browser; no network needed).\n"
          "options:\n"
          "  -o, --output FILE     write to FILE (default: CAPTURE with .html for .stetho;\n"
          "                        '-' for standard output)\n", f);
}

int export_html(const struct capture *c, const struct export_opts *o, FILE *out)
{
    (void)o;                    /* the page chooses metrics and threads itself */
    return html_report_write(c, NULL, out, NULL);
}

int cmd_html(int argc, char **argv)
{
    const char *path = NULL, *output = NULL;
    int options = 1;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!options || a[0] != '-' || !a[1]) {
            if (path)
                return cli_error("html: one capture at a time ('%s' and '%s')", path, a);
            path = a;
        } else if (!strcmp(a, "--")) {
            options = 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            html_usage(stdout);
            return 0;
        } else if (cli_option(argc, argv, &i, "--output", &v) ||
                   cli_option(argc, argv, &i, "-o", &v)) {
            if (!v || !v[0])
                return cli_error("html: -o needs a file name");
            output = v;
        } else {
            return cli_error("html: unknown option '%s' (see 'stetho html --help')", a);
        }
    }
    if (!path)
        return cli_error("html: which capture? (usage: stetho html CAPTURE -o report.html)");

    char name[4096];
    if (!output) {
        size_t n = strlen(path), keep = n;
        if (n > 7 && !strcmp(path + n - 7, ".stetho"))
            keep = n - 7;
        if (keep + 6 > sizeof name)
            return cli_error("html: capture name too long; give -o FILE");
        snprintf(name, sizeof name, "%.*s.html", (int)keep, path);
        output = name;
    }

    struct capture c;
    if (cli_load_capture("html", path, &c) < 0)
        return STETHO_EXIT_USAGE;
    int to_file = strcmp(output, "-") != 0;
    FILE *out = to_file ? fopen(output, "w") : stdout;
    if (!out) {
        int e = errno;
        capture_free(&c);
        return cli_error("html: cannot write %s: %s", output, strerror(e));
    }
    /* only a regular file is removed after a failure (never /dev/...) */
    struct stat st;
    int regular = to_file && fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode);
    int rc = html_report_write(&c, NULL, out, NULL);
    capture_free(&c);
    int failed = rc < 0 || ferror(out), e = errno;
    long size = to_file ? ftell(out) : 0;
    if (to_file ? fclose(out) != 0 : fflush(out) != 0) {
        failed = 1;
        e = errno;
    }
    if (failed) {
        if (regular)
            remove(output);     /* not half a page that looks whole */
        return cli_error("html: cannot write %s: %s", to_file ? output : "standard output",
                         rc < 0 ? "out of memory" : strerror(e));
    }
    if (to_file)
        fprintf(stderr, "stetho: wrote %s (%.1f MB)\n", output, size / 1e6);
    return 0;
}
