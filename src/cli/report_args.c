/* report_args.c -- command-line pieces shared by tree, table and export. */
#include "cli/report_args.h"
#include "cli/cli.h"

#include <string.h>

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

int cli_metric(const char *cmd, const char *value, enum prof_metric *out)
{
    if (!value || prof_metric_parse(value, out) < 0) {
        cli_error("%s: --metric takes wall, cpu, user, sys, wait, peak, allocated,"
                  " allocations or leaked", cmd);
        return -1;
    }
    return 0;
}

int cli_load_capture(const char *cmd, const char *path, struct capture *c)
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
    return 0;
}
