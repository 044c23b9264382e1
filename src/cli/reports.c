/*
 * reports.c -- the commands that print a view of a capture: `stetho
 * tree`, `table`, `stats` and `html`.  Each parses its command line
 * (report_args.h) and calls the view (src/report/).
 */
#include "cli/cli.h"
#include "cli/report_args.h"
#include "report/html_report.h"
#include "report/leaks.h"
#include "report/stats.h"

#include <string.h>

static void tree_usage(FILE *f)
{
    fputs("usage: stetho tree CAPTURE [options]\n"
          "options:\n"
          "  --metric M            wall (default), cpu, user, sys or wait; or memory:\n"
          "                        peak, allocated, allocations or leaked\n"
          "  --show-all            show standard-library and site-packages frames\n"
          "  --min-percent P       leave out lines under P% of the whole (default 1)\n"
          "  --threads MODE        separate (default: a tree per thread) or merged\n"
          "  --keep-recursion      a line per level of a recursive call (default: once)\n"
          "  --merge-tasks         asyncio tasks (--async) merged: a <task COROUTINE> root\n"
          "                        per coroutine instead of a <task NAME> per task\n"
          "  --color, --no-color   colour even when not a terminal, or never\n"
          SYMBOLIZE_USAGE, f);
}

static void table_usage(FILE *f)
{
    fputs("usage: stetho table CAPTURE [options]\n"
          "options:\n"
          "  --lines               one row per line, not per function\n"
          "  --sort self|total     order by own time (default) or time including callees\n"
          "  --metric M            wall (default), cpu, user, sys or wait; or memory:\n"
          "                        peak, allocated, allocations or leaked\n"
          "  --limit N             print the first N rows (default 30, 0 = all)\n"
          "  --calls               cProfile's table from the exact counts of `run --calls`\n"
          "                        (ncalls, tottime, percall, cumtime, percall), with the\n"
          "                        sampled user/sys/wait split of each function beside it\n"
          "  --merge-tasks         asyncio tasks (--async) merged by coroutine\n"
          SYMBOLIZE_USAGE, f);
}

static void stats_usage(FILE *f)
{
    fputs("usage: stetho stats CAPTURE [--json]\n"
          "The capture's numbers: duration, samples, wall = user + sys + waiting;\n"
          "with memory: allocated, peak heap and RSS, leaked, temporary allocations,\n"
          "allocation sizes, allocators, and the top locations by bytes and by count.\n"
          "options:\n"
          "  --json                the same as JSON (schema stetho-stats/1)\n", f);
}

static void leaks_usage(FILE *f)
{
    fputs("usage: stetho leaks CAPTURE [--json]\n"
          "Where memory leaks: the stacks whose held memory kept rising while the program\n"
          "ran (leak suspects: rate, since when, how steadily), what was still held at\n"
          "exit, and the temporary allocations.\n"
          "options:\n"
          "  --json                the same as JSON (schema stetho-leaks/1)\n", f);
}

static void html_usage(FILE *f)
{
    fputs("usage: stetho html CAPTURE [-o FILE] [--merge-tasks] [--symbolize]\n"
          "Writes the capture as one self-contained HTML page: flame graph, timeline,\n"
          "function and line tables (open it in a browser; no network needed).\n"
          "options:\n"
          "  -o, --output FILE     write to FILE (default: CAPTURE with .html for .stetho;\n"
          "                        '-' for standard output)\n"
          "  --merge-tasks         asyncio tasks (--async) merged by coroutine, in the tree\n"
          "                        and the thread/task filter\n"
          SYMBOLIZE_USAGE, f);
}

/* Parse, then load the capture: 0 with *c loaded, else the exit status. */
static int parse_and_load(const char *cmd, unsigned takes, void (*usage)(FILE *), int argc,
                          char **argv, struct report_args *a, struct capture *c)
{
    int r = report_args_parse(cmd, takes, usage, argc, argv, a);
    if (r)
        return r > 0 ? -1 : STETHO_EXIT_USAGE;
    if (!a->path)
        return cli_error("%s: which capture? (usage: stetho %s CAPTURE)", cmd, cmd);
    return cli_load_capture(cmd, a->path, a->export.symbolize, c) < 0 ? STETHO_EXIT_USAGE : 0;
}

/* The exit status after a view printed (rc < 0: it ran out of memory). */
static int printed(const char *cmd, const char *what, int rc)
{
    if (fflush(stdout) != 0 || rc < 0)
        return cli_error("%s: cannot print the %s (out of memory or output closed)", cmd, what);
    return 0;
}

int cmd_tree(int argc, char **argv)
{
    struct report_args a;
    struct capture c;
    int st = parse_and_load("tree", RA_METRIC | RA_SHOW_ALL | RA_MIN_PERCENT | RA_THREADS |
                            RA_COLOR | RA_RECURSION | RA_MERGE_TASKS | RA_SYMBOLIZE, tree_usage,
                            argc, argv, &a, &c);
    if (st)
        return st < 0 ? 0 : st;
    int rc = report_tree_print(&c, &a.tree, stdout);
    capture_free(&c);
    return printed("tree", "tree", rc);
}

int cmd_table(int argc, char **argv)
{
    struct report_args a;
    struct capture c;
    int st = parse_and_load("table", RA_METRIC | RA_LINES | RA_SORT | RA_LIMIT | RA_CALLS |
                            RA_MERGE_TASKS | RA_SYMBOLIZE, table_usage, argc, argv, &a, &c);
    if (st)
        return st < 0 ? 0 : st;
    int rc = report_table_print(&c, &a.table, stdout);
    capture_free(&c);
    if (rc == -2)
        return cli_error("table: the capture has no call counts (record it with "
                         "'stetho run --calls')");
    return printed("table", "table", rc);
}

int cmd_stats(int argc, char **argv)
{
    struct report_args a;
    struct capture c;
    int st = parse_and_load("stats", RA_JSON, stats_usage, argc, argv, &a, &c);
    if (st)
        return st < 0 ? 0 : st;
    int rc = stats_write(&c, a.json, stdout);
    if (rc == 0 && !a.json) {
        fputc('\n', stdout);
        rc = leaks_text(&c, NULL, stdout);
    }
    capture_free(&c);
    return printed("stats", "stats", rc);
}

int cmd_leaks(int argc, char **argv)
{
    struct report_args a;
    struct capture c;
    int st = parse_and_load("leaks", RA_JSON, leaks_usage, argc, argv, &a, &c);
    if (st)
        return st < 0 ? 0 : st;
    int rc;
    if (a.json) {
        fputs("{\"schema\": \"stetho-leaks/1\", \"leaks\": ", stdout);
        rc = leaks_json(&c, stdout);
        fputs("}\n", stdout);
    } else {
        rc = leaks_text(&c, a.path, stdout);
    }
    capture_free(&c);
    return printed("leaks", "leaks", rc);
}

int cmd_html(int argc, char **argv)
{
    struct report_args a;
    int r = report_args_parse("html", RA_OUTPUT | RA_MERGE_TASKS | RA_SYMBOLIZE, html_usage,
                              argc, argv, &a);
    if (r)
        return r > 0 ? 0 : STETHO_EXIT_USAGE;
    if (!a.path)
        return cli_error("html: which capture? (usage: stetho html CAPTURE -o report.html)");

    char name[4096];
    if (!a.output) {
        size_t n = strlen(a.path), keep = n;
        if (n > 7 && !strcmp(a.path + n - 7, ".stetho"))
            keep = n - 7;
        if (keep + 6 > sizeof name)
            return cli_error("html: capture name too long; give -o FILE");
        snprintf(name, sizeof name, "%.*s.html", (int)keep, a.path);
        a.output = name;
    }
    long size = 0;
    if (cli_render("html", a.path, export_html, &a.export, a.output, &size) < 0)
        return STETHO_EXIT_USAGE;
    if (strcmp(a.output, "-"))
        fprintf(stderr, "stetho: wrote %s (%.1f MB)\n", a.output, size / 1e6);
    return 0;
}
