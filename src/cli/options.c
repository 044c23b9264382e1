/* options.c -- the options `run` and `attach` share. */
#include "cli/options.h"
#include "cli/cli.h"
#include "cli/export.h"
#include "native/unwind.h"
#include "sampler/sampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void options_defaults(struct common_opts *o)
{
    memset(o, 0, sizeof *o);
    o->interval_ms = 10;
    o->memory = MEMORY_SAMPLED;
    o->sample_mean = DEFAULT_SAMPLE_MEAN;
}

/* The value of "--name=value", "--name value" or "-x value". */
static const char *value_of(int argc, char **argv, int *i, const char *longname,
                            const char *shortname)
{
    const char *a = argv[*i];
    size_t n = strlen(longname);
    if (!strncmp(a, longname, n) && a[n] == '=')
        return a + n + 1;
    if (!strcmp(a, longname) || (shortname && !strcmp(a, shortname))) {
        if (*i + 1 >= argc)
            return "";
        return argv[++*i];
    }
    return NULL;
}

static int number(const char *v, double lo, double hi, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= lo && d <= hi))
        return -1;
    *out = d;
    return 0;
}

int options_parse_one(struct common_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *v;
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
        o->quiet = 1;
        return 1;
    }
    if (!strcmp(a, "--calls")) {
        o->calls = 1;
        return 1;
    }
    if (!strcmp(a, "--subprocesses")) {
        o->subprocesses = 1;
        return 1;
    }
    if (!strcmp(a, "--async")) {
        o->async_tasks = 1;
        return 1;
    }
    if (!strncmp(a, "--native", 8) && (!a[8] || a[8] == '=')) {
        static const char *const ways[] = {
            [SAMPLER_NATIVE_AUTO] = "auto", [SAMPLER_NATIVE_PERF] = "perf",
            [SAMPLER_NATIVE_PTRACE] = "ptrace",
        };
        o->native = a[8] ? 0 : SAMPLER_NATIVE_AUTO;
        for (int k = SAMPLER_NATIVE_AUTO; a[8] && k <= SAMPLER_NATIVE_PTRACE; k++)
            if (!strcmp(a + 9, ways[k]))
                o->native = k;
        if (!o->native) {
            cli_error("--native takes auto, perf or ptrace (got '%s')", a + 9);
            return -1;
        }
        const char *why = native_unsupported();
        if (why) {
            cli_error("--native: %s", why);
            return -1;
        }
        return 1;
    }
    if ((v = value_of(argc, argv, i, "--interval", "-i"))) {
        if (number(v, 0.05, 10000, &o->interval_ms) < 0) {
            cli_error("--interval takes milliseconds from 0.05 to 10000 (got '%s')", v);
            return -1;
        }
        return 1;
    }
    if ((v = value_of(argc, argv, i, "--output", "-o"))) {
        if (!*v) {
            cli_error("--output needs a file name");
            return -1;
        }
        o->output = v;
        return 1;
    }
    if ((v = value_of(argc, argv, i, "--memory", NULL))) {
        double mean;
        if (!strcmp(v, "off")) {
            o->memory = MEMORY_OFF;
        } else if (!strcmp(v, "exact")) {
            o->memory = MEMORY_EXACT;
        } else if (!strcmp(v, "sampled")) {
            o->memory = MEMORY_SAMPLED;
        } else if (!strncmp(v, "sampled:", 8) && number(v + 8, 1, 1e12, &mean) == 0) {
            o->memory = MEMORY_SAMPLED;
            o->sample_mean = (uint64_t)mean;
        } else {
            cli_error("--memory takes exact, sampled, sampled:BYTES or off (got '%s')", v);
            return -1;
        }
        return 1;
    }
    if ((v = value_of(argc, argv, i, "--duration", NULL))) {
        if (number(v, 0.001, 1e9, &o->duration_s) < 0) {
            cli_error("--duration takes seconds (got '%s')", v);
            return -1;
        }
        return 1;
    }
    return 0;
}

const char *options_capture_path(const struct common_opts *o, const char *name, pid_t pid,
                                 char *out, size_t len)
{
    if (o->output) {
        size_t suffix;
        const char *format = export_format_for(o->output, &suffix);
        if (!format) {
            snprintf(out, len, "%s", o->output);
            return NULL;
        }
        /* "x.json", "x.pb.gz": the capture beside it as "x.stetho" */
        snprintf(out, len, "%.*s.stetho", (int)(strlen(o->output) - suffix), o->output);
        return format;
    }
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    char clean[64];
    size_t k = 0;
    for (const char *p = base; *p && k + 1 < sizeof clean; p++) {
        if (!strcmp(p, ".py"))
            break;
        char c = *p;
        clean[k++] = (c == '/' || c == ' ' || c < 32) ? '_' : c;
    }
    clean[k] = 0;
    snprintf(out, len, "stetho-%s-%d.stetho", k ? clean : "python", (int)pid);
    return NULL;
}
