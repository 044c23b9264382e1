/*
 * export.c -- the export formats by name and by file suffix (export.h).
 */
#include "export/export.h"
#include "report/html_report.h"

#include <string.h>

static const struct {
    const char *name;
    export_writer *write;
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

export_writer *export_find(const char *name)
{
    for (size_t k = 0; name && k < NFORMATS; k++)
        if (!strcmp(formats[k].name, name))
            return formats[k].write;
    return NULL;
}

void export_names(char *buf, size_t len)
{
    buf[0] = 0;
    for (size_t i = 0; i < NFORMATS; i++) {
        if (i)
            strncat(buf, ", ", len - strlen(buf) - 1);
        strncat(buf, formats[i].name, len - strlen(buf) - 1);
    }
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

/* The HTML report (report/html_report.h) as a format like the others. */
int export_html(const struct capture *c, const struct export_opts *o, FILE *out)
{
    /* the page chooses metrics and threads itself */
    return html_report_write(c, &(struct html_opts){ .merge_tasks = o->merge_tasks }, out, NULL);
}
