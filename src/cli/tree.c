/*
 * tree.c -- `stetho tree CAPTURE [options]`: print a capture's call tree
 * (report/tree_print.h does the printing; this is the command line).
 */
#include "cli/cli.h"
#include "cli/report_args.h"
#include "report/tree_print.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void tree_usage(FILE *f)
{
    fputs("usage: stetho tree CAPTURE [options]\n"
          "options:\n"
          "  --metric M            wall (default), cpu, user, sys or wait; or memory:\n"
          "                        peak, allocated, allocations or leaked\n"
          "  --show-all            show standard-library and site-packages frames\n"
          "  --min-percent P       leave out lines under P% of the whole (default 1)\n"
          "  --threads MODE        separate (default: a tree per thread) or merged\n"
          "  --color, --no-color   colour even when not a terminal, or never\n", f);
}

int cmd_tree(int argc, char **argv)
{
    struct tree_opts o;
    tree_opts_init(&o);
    const char *path = NULL;
    int color = -1;             /* -1: if stdout is a terminal */
    int options = 1;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!options || a[0] != '-' || !a[1]) {
            if (path)
                return cli_error("tree: one capture at a time ('%s' and '%s')", path, a);
            path = a;
        } else if (!strcmp(a, "--")) {
            options = 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            tree_usage(stdout);
            return 0;
        } else if (cli_option(argc, argv, &i, "--metric", &v)) {
            if (cli_metric("tree", v, &o.metric) < 0)
                return STETHO_EXIT_USAGE;
        } else if (!strcmp(a, "--show-all")) {
            o.show_all = 1;
        } else if (cli_option(argc, argv, &i, "--min-percent", &v)) {
            char *end;
            double p = v ? strtod(v, &end) : -1;
            if (!v || end == v || *end || !(p >= 0 && p <= 100))
                return cli_error("tree: --min-percent takes a number from 0 to 100");
            o.min_percent = p;
        } else if (cli_option(argc, argv, &i, "--threads", &v)) {
            if (v && !strcmp(v, "separate"))
                o.merge_threads = 0;
            else if (v && !strcmp(v, "merged"))
                o.merge_threads = 1;
            else
                return cli_error("tree: --threads takes separate or merged");
        } else if (!strcmp(a, "--color") || !strcmp(a, "--colour")) {
            color = 1;
        } else if (!strcmp(a, "--no-color") || !strcmp(a, "--no-colour")) {
            color = 0;
        } else {
            return cli_error("tree: unknown option '%s' (see 'stetho tree --help')", a);
        }
    }
    if (!path)
        return cli_error("tree: which capture? (usage: stetho tree CAPTURE)");
    if (color < 0) {
        const char *no = getenv("NO_COLOR");   /* https://no-color.org */
        color = isatty(STDOUT_FILENO) && !(no && no[0]);
    }
    o.color = color;

    struct capture c;
    if (cli_load_capture("tree", path, &c) < 0)
        return STETHO_EXIT_USAGE;
    int rc = report_tree_print(&c, &o, stdout);
    capture_free(&c);
    if (fflush(stdout) != 0 || rc < 0)
        return cli_error("tree: cannot print the tree (out of memory or output closed)");
    return 0;
}
