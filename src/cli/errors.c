/* errors.c -- one-line user errors and argument parsing helpers. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

int cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("stetho: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return STETHO_EXIT_USAGE;
}

pid_t cli_parse_pid(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > 0x3fffffff)
        return -1;
    return (pid_t)v;
}
