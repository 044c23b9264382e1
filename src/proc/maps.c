/*
 * maps.c -- parse /proc/PID/maps.
 *
 * A line is "start-end perms offset dev inode[   path]".  The path is
 * everything after the padding that follows the inode, so spaces inside it
 * and a " (deleted)" suffix are kept as they are; the kernel escapes
 * newlines in paths, so one line is one mapping.  The file is read whole
 * into a growing buffer, so there is no limit on path length.
 */
#include "proc/maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* At least one hex digit; no overflow. */
static int parse_hex(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int d;

    if (hexval(*s) < 0)
        return -1;
    for (; (d = hexval(*s)) >= 0; s++) {
        if (v >> 60)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *p = s;
    *out = v;
    return 0;
}

/* Skip a run of non-blank characters (at least one) and the blanks after. */
static int skip_field(const char **p)
{
    const char *s = *p;
    if (*s == ' ' || *s == '\n' || *s == '\0')
        return -1;
    while (*s && *s != ' ' && *s != '\n')
        s++;
    while (*s == ' ')
        s++;
    *p = s;
    return 0;
}

/* 0, or -1 if malformed, -2 if out of memory. */
static int parse_line(const char *s, const char *eol, struct map_entry *e)
{
    if (parse_hex(&s, &e->start) < 0 || *s++ != '-' || parse_hex(&s, &e->end) < 0 || *s++ != ' ')
        return -1;
    for (int i = 0; i < 4; i++) {
        if (s[i] == ' ' || s[i] == '\n' || s[i] == '\0')
            return -1;
    }
    memcpy(e->perms, s, 4);
    e->perms[4] = '\0';
    s += 4;
    if (*s++ != ' ' || parse_hex(&s, &e->offset) < 0 || *s++ != ' ')
        return -1;
    if (skip_field(&s) < 0 || skip_field(&s) < 0)  /* dev, inode */
        return -1;
    if (s > eol)
        return -1;
    size_t len = (size_t)(eol - s);
    e->path = malloc(len + 1);
    if (!e->path)
        return -2;
    memcpy(e->path, s, len);
    e->path[len] = '\0';
    return 0;
}

int maps_parse(const char *text, struct map_list *out)
{
    size_t cap = 0;

    out->v = NULL;
    out->n = 0;
    for (const char *s = text; *s;) {
        const char *eol = strchr(s, '\n');
        if (!eol)
            eol = s + strlen(s);
        if (eol > s) {
            if (out->n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct map_entry *v = realloc(out->v, ncap * sizeof *v);
                if (!v)
                    goto nomem;
                out->v = v;
                cap = ncap;
            }
            int r = parse_line(s, eol, &out->v[out->n]);
            if (r == -2)
                goto nomem;
            if (r < 0) {
                maps_free(out);
                errno = EINVAL;
                return -1;
            }
            out->n++;
        }
        s = *eol ? eol + 1 : eol;
    }
    return 0;
nomem:
    maps_free(out);
    errno = ENOMEM;
    return -1;
}

/* The whole of a /proc file, NUL-terminated (its size is not known in
 * advance: stat says 0). */
static char *read_all(const char *path)
{
    size_t len = 0, cap = 0;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    for (;;) {
        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 16384;
            char *nb = realloc(buf, ncap);
            if (!nb)
                goto fail;
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    return buf;
fail:;
    int err = errno;
    free(buf);
    close(fd);
    errno = err;
    return NULL;
}

int maps_read(pid_t pid, struct map_list *out)
{
    char path[64];

    out->v = NULL;
    out->n = 0;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    char *text = read_all(path);
    if (!text)
        return -1;
    int r = maps_parse(text, out);
    int err = errno;
    free(text);
    /* A live user process always has mappings; none means it has exited
     * (a zombie) or is a kernel thread. */
    if (r == 0 && out->n == 0) {
        r = -1;
        err = ESRCH;
    }
    errno = err;
    return r;
}

void maps_free(struct map_list *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].path);
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

const struct map_entry *maps_first_of(const struct map_list *m, const char *path)
{
    const struct map_entry *best = NULL;

    for (size_t i = 0; i < m->n; i++) {
        const struct map_entry *e = &m->v[i];
        if (strcmp(e->path, path) == 0 && (!best || e->start < best->start))
            best = e;
    }
    return best;
}
