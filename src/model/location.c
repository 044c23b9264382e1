/* location.c -- classify and shorten frame file paths (see location.h). */
#include "model/location.h"

#include <string.h>

/* The part after the library directory: after "site-packages/" or
 * "dist-packages/" for libraries, after "/lib/python3.N/" for the
 * standard library; NULL if file is in neither. */
static const char *after_libdir(const char *file)
{
    const char *p = strstr(file, "site-packages/");
    if (!p)
        p = strstr(file, "dist-packages/");
    if (p)
        return p + strlen("site-packages/");    /* same length as dist- */
    p = strstr(file, "/lib/python3.");
    if (p) {
        const char *slash = strchr(p + strlen("/lib/python3."), '/');
        return slash ? slash + 1 : NULL;
    }
    return NULL;
}

enum loc_class loc_classify(const char *file)
{
    if (!file)
        return LOC_USER;
    if (!strncmp(file, "<frozen ", 8))
        return LOC_STDLIB;
    if (strstr(file, "site-packages") || strstr(file, "dist-packages"))
        return LOC_LIBRARY;
    if (strstr(file, "/lib/python3."))
        return LOC_STDLIB;
    return LOC_USER;
}

/* Copy the leading name of s (up to '/', '.' or `stop`) into buf. */
static char *copy_name(const char *s, char stop, char *buf, size_t len)
{
    size_t n = 0;
    while (s[n] && s[n] != '/' && s[n] != '.' && s[n] != stop)
        n++;
    if (len == 0)
        return buf;
    if (n >= len)
        n = len - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

char *loc_module(const char *file, char *buf, size_t len)
{
    if (!file)
        return copy_name("", 0, buf, len);
    if (!strncmp(file, "<frozen ", 8))
        return copy_name(file + 8, '>', buf, len);
    const char *rest = after_libdir(file);
    if (rest) {
        /* C extension modules of the standard library live in lib-dynload */
        if (!strncmp(rest, "lib-dynload/", 12))
            rest += 12;
        return copy_name(rest, 0, buf, len);
    }
    const char *base = strrchr(file, '/');
    return copy_name(base ? base + 1 : file, 0, buf, len);
}

const char *loc_short(const char *file, const char *cwd)
{
    if (!file)
        return "";
    const char *rest = after_libdir(file);
    if (rest && *rest)
        return rest;
    size_t n = cwd ? strlen(cwd) : 0;
    if (n > 1 && !strncmp(file, cwd, n) && file[n] == '/' && file[n + 1])
        return file + n + 1;
    return file;
}
