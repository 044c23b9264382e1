/*
 * attach.c -- `stetho attach [options] PID`: profile a running program
 * until Ctrl-C, --duration, or its exit.  Time: the same outside sampling
 * as `run`, nothing injected.  With --memory the program is made to load
 * the agent and start recording (memattach.h), and to stop on the way out.
 *
 * The Python API (python/stetho) profiles its own process with it: with
 * --memory-fifo stetho also makes the FIFO that the agent the program
 * loaded itself writes to (src/agent/inside.h) and prints "fifo PATH" on
 * stdout; with --handshake it then waits for a line on stdin before it
 * looks at the process (the program may first have to allow it to, under
 * Yama's ptrace_scope 1) and prints "ready" once the first sample is taken.
 * With --handshake, --calls makes the FIFO too (if --memory-fifo did not),
 * for the call counts of the agent counting from inside
 * (src/agent/calls.h).  Without --handshake --calls is refused: the
 * counting is done inside the program.
 */
#include "cli/cli.h"
#include "cli/export.h"
#include "cli/options.h"
#include "cli/memattach.h"
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
          "  --memory[=MODE]       also record memory: the program is made to load\n"
          "                        libstetho_agent.so (Python 3.9-3.13); MODE is exact,\n"
          "                        sampled or sampled:BYTES (default sampled); every hook\n"
          "                        is removed again when stetho stops\n"
          "  --memory-fifo         also record the memory events of an agent the program\n"
          "                        started itself (the Python API): makes a FIFO and\n"
          "                        prints \"fifo PATH\" on stdout\n"
          "  --memory-ring         with --memory-fifo, for exact mode: also make the ring\n"
          "                        the agent sends its chunks through and print\n"
          "                        \"ring PATH\" (\"ring\" alone if it could not be made)\n"
          "  --thread TID          only this thread of the process (its kernel id)\n"
          "  --handshake           wait for a line on stdin before attaching, print\n"
          "                        \"ready\" on stdout after the first sample; with\n"
          "                        --calls, the program counts its calls itself\n"
          "                        (the Python API) and sends them to the FIFO,\n"
          "                        made then and printed as with --memory-fifo\n", f);
}

int cmd_attach(int argc, char **argv)
{
    struct common_opts o;
    options_defaults(&o);
    const char *pidarg = NULL;
    int memory_fifo = 0, memory_ring = 0, handshake = 0, memory_attach = 0;
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
        if (!strcmp(a, "--memory-ring")) {
            memory_ring = 1;
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
        if (!strcmp(a, "--memory") && (i + 1 >= argc || !memattach_is_mode(argv[i + 1]))) {
            memory_attach = 1;          /* bare: the default mode */
            continue;
        }
        if (!strncmp(a, "--memory", 8))
            memory_attach = 1;          /* --memory MODE / --memory=MODE */
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
    if (o.calls && !handshake)
        return cli_error("attach: --calls is for run (the counting is done inside the "
                         "program from its start) or the Python API's calls=True");
    if (memory_attach && o.memory == MEMORY_OFF)
        memory_attach = 0;
    if (memory_attach && memory_fifo)
        return cli_error("attach: --memory and --memory-fifo do not go together");
    if (memory_attach && o.calls)
        return cli_error("attach: --memory and --calls do not go together");
    if (!pidarg)
        return cli_error("attach: missing PID (usage: stetho attach [options] PID)");
    pid_t pid = cli_parse_pid(pidarg);
    if (pid < 0)
        return cli_error("attach: '%s' is not a process id", pidarg);

    struct channel *memory = NULL;
    if (memory_fifo || o.calls) {
        memory = channel_open();
        if (!memory)
            return cli_error("cannot make a FIFO: %s", strerror(errno));
        printf("fifo %s\n", channel_path(memory));
        if (memory_fifo && memory_ring) {
            const char *ring = channel_ring(memory);
            printf("ring%s%s\n", ring ? " " : "", ring ? ring : "");
        }
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
    struct memattach *ma = NULL;
    if (memory_attach) {
        char mode[64];
        memattach_mode(&o, mode, sizeof mode);
        int rc = memattach_native_check(&o);
        if (!rc)
            rc = memattach_open(&t, mode, o.quiet, &ma);
        if (rc) {
            py_target_close(&t);
            return rc;
        }
        memory = memattach_channel(ma);
    }

    char path[4096];
    const char *render = options_capture_path(&o, "attach", pid, path, sizeof path);
    struct session_opts so = {
        .interval_ns = (uint64_t)(o.interval_ms * 1e6),
        .follow_children = o.subprocesses,
        .async_tasks = o.async_tasks,
        .native = o.native,
        .quiet = o.quiet,
        .duration_s = o.duration_s,
        .capture_path = path,
        .memory = memory,
        .only_tid = only_tid,
        .ready_fd = handshake ? STDOUT_FILENO : 0,
        .after_start = ma ? memattach_session_start : NULL,
        .before_finish = ma ? memattach_session_stop : NULL,
        .before_finish_ctx = ma,
        .record_memory = memory_fifo || ma,
        .calls = o.calls,
    };
    if (!o.quiet && !ma)            /* with memory: once it records (memattach.c) */
        fprintf(stderr, "stetho: profiling process %d (Python %s); Ctrl-C to stop\n",
                (int)pid, version);
    struct session_result res;
    int recorded = session_record(pid, 0, &so, &res);
    if (ma)
        memattach_free(ma);
    else
        channel_close(memory);
    py_target_close(&t);
    if (recorded == 0 && res.aborted) {
        unlink(path);                   /* nothing in it: not left behind */
        return res.aborted;
    }
    if (recorded < 0)
        return STETHO_EXIT_USAGE;       /* the capture could not be written */
    if (!o.quiet)
        report_after_run(path, &res, stderr);
    if (render && export_to_file(path, render, o.output) == 0 && !o.quiet)
        fprintf(stderr, "stetho: wrote %s\n", o.output);
    return 0;
}
