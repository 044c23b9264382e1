/*
 * attach.c -- `stetho attach [options] PID`: profile a running program
 * until Ctrl-C, --duration, or its exit.  Nothing is injected: the same
 * outside sampling as `run`.
 *
 * The Python API (python/stetho) profiles its own process with it: with
 * --memory-fifo stetho also makes the FIFO that the agent the program
 * loaded itself writes to (src/agent/inside.h) and prints "fifo PATH" on
 * stdout; with --handshake it then waits for a line on stdin before it
 * looks at the process (the program may first have to allow it to, under
 * Yama's ptrace_scope 1) and prints "ready" once the first sample is taken.
 */
#include "cli/cli.h"
#include "cli/export.h"
#include "cli/options.h"
#include "cli/session.h"
#include "cpython/target.h"
#include "cpython/asyncio.h"
#include "memory/channel.h"

#include <errno.h>

#include <string.h>
#include <unistd.h>

static void attach_usage(FILE *f)
{
    fputs("usage: stetho attach [options] PID\n"
          "Profiles a running Python process until Ctrl-C, --duration or its exit.\n"
          "options:\n" OPTIONS_HELP
          "  --duration S          stop after S seconds\n"
          "  --memory-fifo         also record the memory events of an agent the program\n"
          "                        started itself (the Python API): makes a FIFO and\n"
          "                        prints \"fifo PATH\" on stdout\n"
          "  --thread TID          only this thread of the process (its kernel id)\n"
          "  --handshake           wait for a line on stdin before attaching, print\n"
          "                        \"ready\" on stdout after the first sample\n", f);
}

int cmd_attach(int argc, char **argv)
{
    struct common_opts o;
    options_defaults(&o);
    const char *pidarg = NULL;
    int memory_fifo = 0, handshake = 0;
    pid_t only_tid = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            attach_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--memory-fifo")) {
            memory_fifo = 1;
            continue;
        }
        if (!strcmp(a, "--handshake")) {
            handshake = 1;
            continue;
        }
        if (!strcmp(a, "--thread") || !strncmp(a, "--thread=", 9)) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : "");
            only_tid = cli_parse_pid(v);
            if (only_tid < 0)
                return cli_error("attach: --thread takes a thread id (got '%s')", v);
            continue;
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
    if (o.calls)
        return cli_error("attach: --calls is for run (the counting is done inside the "
                         "program from its start)");
    if (!pidarg)
        return cli_error("attach: missing PID (usage: stetho attach [options] PID)");
    pid_t pid = cli_parse_pid(pidarg);
    if (pid < 0)
        return cli_error("attach: '%s' is not a process id", pidarg);

    struct channel *memory = NULL;
    if (memory_fifo) {
        memory = channel_open();
        if (!memory)
            return cli_error("cannot make a FIFO: %s", strerror(errno));
        printf("fifo %s\n", channel_path(memory));
        fflush(stdout);
    }
    if (handshake) {
        char line[64];
        if (!fgets(line, sizeof line, stdin)) {
            channel_close(memory);
            return cli_error("attach: --handshake: stdin closed before the go-ahead");
        }
    }

    /* Fail now, clearly, if it cannot be profiled at all. */
    struct py_target t;
    struct py_error err;
    if (py_target_open(&t, pid, &err) != PY_OK) {
        channel_close(memory);
        return cli_error("%s", err.msg);
    }
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
        .memory = memory,
        .only_tid = only_tid,
        .ready_fd = handshake ? STDOUT_FILENO : 0,
    };
    if (!o.quiet)
        fprintf(stderr, "stetho: profiling process %d (Python %s); Ctrl-C to stop\n",
                (int)pid, version);
    struct session_result res;
    int recorded = session_record(pid, 0, &so, &res);
    channel_close(memory);
    if (recorded < 0)
        return STETHO_EXIT_USAGE;       /* the capture could not be written */
    if (!o.quiet)
        report_after_run(path, &res, stderr);
    if (render && export_to_file(path, render, o.output) == 0 && !o.quiet)
        fprintf(stderr, "stetho: wrote %s\n", o.output);
    return 0;
}
