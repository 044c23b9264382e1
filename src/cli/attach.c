/*
 * attach.c -- `stetho attach [options] PID`: profile a running program
 * until Ctrl-C, --duration, or its exit.  Nothing is injected: the same
 * outside sampling as `run`.
 */
#include "cli/cli.h"
#include "cli/export.h"
#include "cli/options.h"
#include "cli/session.h"
#include "cpython/target.h"
#include "cpython/asyncio.h"

#include <string.h>

static void attach_usage(FILE *f)
{
    fputs("usage: stetho attach [options] PID\n"
          "Profiles a running Python process until Ctrl-C, --duration or its exit.\n"
          "options:\n" OPTIONS_HELP
          "  --duration S          stop after S seconds\n", f);
}

int cmd_attach(int argc, char **argv)
{
    struct common_opts o;
    options_defaults(&o);
    const char *pidarg = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            attach_usage(stdout);
            return 0;
        }
        int r = options_parse_one(&o, argc, argv, &i);
        if (r < 0)
            return STETHO_EXIT_USAGE;
        if (r > 0)
            continue;
        if (a[0] == '-' && a[1])
            return cli_error("attach: unknown option '%s' (see 'stetho attach --help')", a);
        if (pidarg)
            return cli_error("attach: one PID only (got '%s' and '%s')", pidarg, a);
        pidarg = a;
    }
    if (!pidarg)
        return cli_error("attach: missing PID (usage: stetho attach [options] PID)");
    pid_t pid = cli_parse_pid(pidarg);
    if (pid < 0)
        return cli_error("attach: '%s' is not a process id", pidarg);

    /* Fail now, clearly, if it cannot be profiled at all. */
    struct py_target t;
    struct py_error err;
    if (py_target_open(&t, pid, &err) != PY_OK)
        return cli_error("%s", err.msg);
    char version[32];
    memcpy(version, t.version, sizeof version);
    const char *why = o.async_tasks ? py_asyncio_unsupported(&t) : NULL;
    if (why) {
        py_target_close(&t);
        return cli_error("%s (process %d runs Python %s)", why, (int)pid, version);
    }
    py_target_close(&t);

    char path[4096];
    const char *render = options_capture_path(&o, "attach", pid, path, sizeof path);
    struct session_opts so = {
        .interval_ns = (uint64_t)(o.interval_ms * 1e6),
        .follow_children = o.subprocesses,
        .async_tasks = o.async_tasks,
        .duration_s = o.duration_s,
        .capture_path = path,
    };
    if (!o.quiet)
        fprintf(stderr, "stetho: profiling process %d (Python %s); Ctrl-C to stop\n",
                (int)pid, version);
    struct session_result res;
    if (session_record(pid, 0, &so, &res) < 0)
        return STETHO_EXIT_USAGE;       /* the capture could not be written */
    if (!o.quiet)
        report_after_run(path, &res, stderr);
    if (render && export_to_file(path, render, o.output) == 0 && !o.quiet)
        fprintf(stderr, "stetho: wrote %s\n", o.output);
    return 0;
}
