/*
 * run.c -- `stetho run [options] [--] PROGRAM...`: start a Python program,
 * sample its stacks from outside until it exits, and report.
 *
 * The program is started exactly as the user would (same argv, environment
 * and stdio; its exit status becomes ours).  Samples are taken by reading
 * its memory; until its interpreter is up (or after it execs) discovery is
 * retried every tick.
 */
#include "cli/child.h"
#include "cli/cli.h"
#include "cli/summary.h"
#include "cpython/target.h"
#include "cpython/walker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_INTERVAL_US 10000

struct run_opts {
    long interval_us;
    int quiet;
    char **argv;        /* the command to exec, NULL-terminated */
};

static void run_usage(FILE *f)
{
    fputs("usage: stetho run [options] script.py [args...]\n"
          "       stetho run [options] -m module [args...]\n"
          "       stetho run [options] -c code [args...]\n"
          "       stetho run [options] -- /path/to/python [python args...]\n"
          "options:\n"
          "  -i, --interval MS   sampling interval in milliseconds (default 10)\n"
          "  -q, --quiet         print nothing of stetho's own\n"
          "The program runs with python3 from PATH unless a program follows '--'.\n", f);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* argv for exec: "python3" + rest, or rest as is after "--" with a program. */
static char **build_argv(char **rest, int nrest, int explicit_program)
{
    char **v = calloc((size_t)nrest + 2, sizeof *v);
    if (!v)
        return NULL;
    int k = 0;
    if (!explicit_program)
        v[k++] = "python3";
    for (int i = 0; i < nrest; i++)
        v[k++] = rest[i];
    v[k] = NULL;
    return v;
}

static int parse(int argc, char **argv, struct run_opts *o)
{
    o->interval_us = DEFAULT_INTERVAL_US;
    o->quiet = 0;
    o->argv = NULL;
    int i = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            if (i == argc)
                return cli_error("run: nothing to run after '--'");
            /* "-- script.py" still means python3 script.py */
            int program = !ends_with(argv[i], ".py");
            o->argv = build_argv(argv + i, argc - i, program);
            return o->argv ? 0 : cli_error("out of memory");
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            return -1;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "-i") || !strcmp(a, "--interval") ||
                   !strncmp(a, "--interval=", 11)) {
            const char *v = a[1] == '-' && a[10] == '=' ? a + 11 : (++i < argc ? argv[i] : NULL);
            char *end;
            double ms = v ? strtod(v, &end) : 0;
            if (!v || end == v || *end || !(ms >= 0.05 && ms <= 10000))
                return cli_error("run: --interval takes milliseconds between 0.05 and 10000");
            o->interval_us = (long)(ms * 1000);
        } else if (!strcmp(a, "-m") || !strcmp(a, "-c")) {
            if (i + 1 == argc)
                return cli_error("run: %s needs an argument", a);
            break;                      /* python3 -m mod ... / -c code ... */
        } else if (a[0] == '-' && a[1]) {
            return cli_error("run: unknown option '%s' (see 'stetho run --help')", a);
        } else {
            break;                      /* the script */
        }
    }
    if (i == argc)
        return cli_error("run: nothing to run (usage: stetho run script.py [args...])");
    o->argv = build_argv(argv + i, argc - i, 0);
    return o->argv ? 0 : cli_error("out of memory");
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Sleep until `deadline` (monotonic ns); returns early on a signal. */
static void sleep_until(uint64_t deadline)
{
    struct timespec ts = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* xorshift: jitter the interval by +-25% so periodic code does not alias. */
static uint64_t jitter(uint64_t *state, uint64_t interval_ns)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return interval_ns * 3 / 4 + x % (interval_ns / 2 + 1);
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    pid_t child = child_spawn(o.argv);
    if (child < 0) {
        int e = errno;
        cli_error("cannot run '%s': %s", o.argv[0], strerror(e));
        free(o.argv);
        return e == ENOENT ? 127 : 126;
    }
    child_forward_signals(child);

    struct summary *sum = summary_new();
    struct py_target t;
    int have_target = 0, failures = 0;
    struct py_snapshot snap = {0};
    struct py_error err = {0};
    uint64_t interval = (uint64_t)o.interval_us * 1000, rng = now_ns() | 1;
    uint64_t start = now_ns(), next = start;
    int status = 0;

    for (;;) {
        int w = child_wait(child, &status, 0);
        if (w != 0) {
            if (w < 0)
                status = 1;
            break;
        }
        if (!have_target) {
            have_target = py_target_open(&t, child, &err) == PY_OK;
        }
        if (have_target) {
            if (py_walk(&t, &snap) == 0) {
                summary_add(sum, &snap);
                failures = 0;
            } else if (++failures >= 3) {
                /* finalised, or exec'd into something else: find it again */
                py_target_close(&t);
                have_target = 0;
            }
        }
        next += jitter(&rng, interval);
        uint64_t now = now_ns();
        if (next < now)
            next = now;                 /* fell behind: do not burst */
        sleep_until(next);
    }

    if (!o.quiet) {
        double secs = (double)(now_ns() - start) / 1e9;
        if (summary_samples(sum) == 0 && err.status != PY_OK && err.status != PY_ENOTREADY &&
            err.status != PY_ENOTPYTHON)
            fprintf(stderr, "stetho: no samples: %s\n", err.msg);
        summary_print(sum, stderr, secs);
    }
    if (have_target)
        py_target_close(&t);
    py_snapshot_free(&snap);
    summary_free(sum);
    free(o.argv);
    return status;
}
