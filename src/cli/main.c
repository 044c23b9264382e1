/*
 * main.c -- `stetho COMMAND ...`: dispatch to a subcommand.
 */
#include "cli/cli.h"

#include <string.h>

#ifndef STETHO_VERSION
#define STETHO_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
    fputs("usage: stetho COMMAND [options] ...\n"
          "\n"
          "commands:\n"
          "  run [options] [--] PROGRAM...  run a Python program and profile it\n"
          "                                 (script.py args | -m module args | -c code\n"
          "                                 | -- /path/to/python args)\n"
          "  attach [options] PID           profile a running Python process\n"
          "  top [options] PID              a live full-screen view of a running process\n"
          "  dump [--json] [--native] PID   print every thread's Python stack\n"
          "  tree CAPTURE [options]         the call tree of a capture\n"
          "  table CAPTURE [options]        the functions (or lines) that took the time\n"
          "  stats CAPTURE [--json]         totals: time, memory, allocation sizes, top places\n"
          "  export CAPTURE --format F      json, speedscope, collapsed, pprof, pstats,\n"
          "                                 chrome or html, for other tools\n"
          "  html CAPTURE [-o FILE]         the capture as an HTML page (flame graph, timeline)\n"
          "  leaks CAPTURE [--json]         leak suspects (held memory that kept rising),\n"
          "                                 what was held at exit, temporary allocations\n"
          "  diff BASE NEW [options]        every metric per function and stack, NEW - BASE\n"
          "  check CAPTURE [budgets]        exit 1 if a budget (--max-wall 2s, --max-peak\n"
          "                                 200MB, --max-increase 10%, ...) is broken\n"
          "\n"
          "  stetho COMMAND --help          options of a command\n"
          "  stetho --version\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return STETHO_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        puts("stetho " STETHO_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "top"))
        return cmd_top(argc - 2, argv + 2);
    if (!strcmp(cmd, "dump"))
        return cmd_dump(argc - 2, argv + 2);
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 2, argv + 2);
    if (!strcmp(cmd, "attach"))
        return cmd_attach(argc - 2, argv + 2);
    if (!strcmp(cmd, "tree"))
        return cmd_tree(argc - 2, argv + 2);
    if (!strcmp(cmd, "table"))
        return cmd_table(argc - 2, argv + 2);
    if (!strcmp(cmd, "stats"))
        return cmd_stats(argc - 2, argv + 2);
    if (!strcmp(cmd, "export"))
        return cmd_export(argc - 2, argv + 2);
    if (!strcmp(cmd, "html"))
        return cmd_html(argc - 2, argv + 2);
    if (!strcmp(cmd, "leaks"))
        return cmd_leaks(argc - 2, argv + 2);
    if (!strcmp(cmd, "diff"))
        return cmd_diff(argc - 2, argv + 2);
    if (!strcmp(cmd, "check"))
        return cmd_check(argc - 2, argv + 2);
    if (cmd[0] == '-')
        return cli_error("unknown option '%s' (see 'stetho --help')", cmd);
    return cli_error("unknown command '%s' (see 'stetho --help')", cmd);
}
