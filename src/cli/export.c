/*
 * export.c -- `stetho export CAPTURE --format F [-o FILE]`: write a capture
 * in a format other tools read (the formats: src/export/).
 */
#include "cli/cli.h"
#include "cli/export.h"
#include "cli/report_args.h"

#include <string.h>

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
          "  --merge-threads       collapsed: no root frame per thread\n"
          "  --merge-tasks         asyncio tasks (--async) merged by coroutine: speedscope,\n"
          "                        collapsed, pprof, pstats, chrome (not json)\n"
          SYMBOLIZE_USAGE, f);
}

static int unknown_format(const char *name)
{
    char known[256];
    export_names(known, sizeof known);
    if (!name || !name[0])
        return cli_error("export: --format needs a format (known: %s)", known);
    return cli_error("export: unknown format '%s' (known: %s)", name, known);
}

int cmd_export(int argc, char **argv)
{
    struct report_args a;
    int r = report_args_parse("export", RA_FORMAT | RA_OUTPUT | RA_TIME_METRIC |
                              RA_MERGE_THREADS | RA_MERGE_TASKS | RA_SYMBOLIZE, export_usage,
                              argc, argv, &a);
    if (r)
        return r > 0 ? 0 : STETHO_EXIT_USAGE;
    export_writer *write = export_find(a.format);
    if (!write)
        return unknown_format(a.format);
    if (!a.path)
        return cli_error("export: which capture? (usage: stetho export CAPTURE --format %s)",
                         a.format);
    return cli_render("export", a.path, write, &a.export, a.output, NULL) < 0
           ? STETHO_EXIT_USAGE : 0;
}

int export_to_file(const char *capture_path, const char *format, const char *output)
{
    export_writer *write = export_find(format);
    if (!write) {
        cli_error("export: unknown format '%s'", format);
        return -1;
    }
    return cli_render("export", capture_path, write, &(struct export_opts){0}, output, NULL);
}
