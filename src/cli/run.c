/*
 * run.c -- `stetho run [options] [--] PROGRAM...`: start a Python program,
 * record it into a capture until it exits, then report.
 *
 * The program is started exactly as the user would (same argv, environment
 * and stdio; its exit status becomes ours); stetho's own words go to
 * stderr.
 */
#include "cli/child.h"
#include "cli/cli.h"
#include "cli/export.h"
#include "cli/memattach.h"
#include "cli/options.h"
#include "cli/session.h"

#include "agent/protocol.h"
#include "memory/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void run_usage(FILE *f)
{
    fputs("usage: stetho run [options] script.py [args...]\n"
          "       stetho run [options] -m module [args...]\n"
          "       stetho run [options] -c code [args...]\n"
          "       stetho run [options] -- /path/to/python [python args...]\n"
          "Runs the program with python3 from PATH (or the program after '--'),\n"
          "records a capture, and prints the call tree to stderr at exit.\n"
          "options:\n" OPTIONS_HELP
          "  --live                the live view of 'stetho top' while it runs; the\n"
          "                        program's stdin is /dev/null, its output goes to\n"
          "                        stetho-live-PID.log\n", f);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* argv for exec: "python3" + rest, or rest as is when it names a program. */
static char **build_argv(char **rest, int nrest, int program)
{
    char **v = calloc((size_t)nrest + 2, sizeof *v);
    if (!v)
        return NULL;
    int k = 0;
    if (!program)
        v[k++] = "python3";
    for (int i = 0; i < nrest; i++)
        v[k++] = rest[i];
    return v;
}

/* What names the capture: the script, the module, or "python". */
static const char *program_name(char **argv)
{
    for (int i = 1; argv[i]; i++) {
        if (!strcmp(argv[i], "-m") && argv[i + 1])
            return argv[i + 1];
        if (!strcmp(argv[i], "-c"))
            return "python";
        if (argv[i][0] != '-')
            return argv[i];
    }
    return "python";
}

static int parse(int argc, char **argv, struct common_opts *o, char ***cmd)
{
    options_defaults(o);
    *cmd = NULL;
    int i = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            if (++i == argc)
                return cli_error("run: nothing to run after '--'");
            *cmd = build_argv(argv + i, argc - i, !ends_with(argv[i], ".py"));
            return *cmd ? 0 : cli_error("out of memory");
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            return -1;
        }
        if (!strcmp(a, "--live")) {
            o->live = 1;
            continue;
        }
        int r = options_parse_one(o, argc, argv, &i);
        if (r < 0)
            return STETHO_EXIT_USAGE;
        if (r > 0)
            continue;
        if (!strcmp(a, "-m") || !strcmp(a, "-c")) {
            if (i + 1 == argc)
                return cli_error("run: %s needs an argument", a);
            break;
        }
        if (a[0] == '-' && a[1])
            return cli_error("run: unknown option '%s' (see 'stetho run --help')", a);
        break;
    }
    if (i == argc)
        return cli_error("run: nothing to run (usage: stetho run script.py [args...])");
    *cmd = build_argv(argv + i, argc - i, 0);
    return *cmd ? 0 : cli_error("out of memory");
}

/* Fail before the program starts if the capture could not be written:
 * the file, if it exists, and its directory. */
static int capture_writable(const char *output)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", output ? output : "./x");
    if (output && access(output, F_OK) == 0 && access(output, W_OK) != 0)
        return -1;
    char *slash = strrchr(dir, '/');
    if (!slash)
        return access(".", W_OK);
    if (slash == dir)
        slash[1] = 0;                   /* "/x": the root */
    else
        *slash = 0;
    return access(dir, W_OK);
}

/* The environment the program starts with: the agent preloaded and told
 * where to send memory events and call counts (one FIFO for both).  The
 * agent puts the user's own environment back before the program's main()
 * (protocol.h).  *fifo is the FIFO, or NULL if neither is recorded;
 * *record_memory says if memory events come on it. */
static int agent_setup(const struct common_opts *o, struct channel **fifo, int *record_memory)
{
    char agent[PATH_MAX], mode[64];
    *fifo = NULL;
    *record_memory = 0;
    int rc = memattach_native_check(o);
    if (rc)
        return rc;
    if (cli_find_agent(agent, sizeof agent) < 0) {
        if (o->calls)
            return cli_error("--calls needs libstetho_agent.so beside stetho (set STETHO_AGENT)");
        if (!o->quiet)
            fprintf(stderr, "stetho: memory profiling is off: libstetho_agent.so not found "
                            "beside stetho (set STETHO_AGENT)\n");
        return 0;
    }
    struct channel *ch = channel_open();
    if (!ch && o->calls)
        return cli_error("--calls: cannot make a FIFO for the counts: %s", strerror(errno));
    if (!ch) {
        cli_error("memory profiling is off: cannot make a FIFO: %s", strerror(errno));
        return 0;
    }
    const char *orig = getenv("LD_PRELOAD");
    size_t need = strlen(agent) + (orig ? strlen(orig) : 0) + 2;
    char *preload = malloc(need);
    if (!preload) {
        channel_close(ch);
        return cli_error("out of memory");
    }
    snprintf(preload, need, "%s%s%s", agent, orig && *orig ? " " : "", orig ? orig : "");
    memattach_mode(o, mode, sizeof mode);
    setenv(AGENT_ENV_PRELOAD_ORIG, orig ? orig : "", 1);
    setenv("LD_PRELOAD", preload, 1);
    if (o->memory != MEMORY_OFF) {
        setenv(AGENT_ENV_FIFO, channel_path(ch), 1);
        setenv(AGENT_ENV_MODE, mode, 1);
        /* exact mode: the chunks go through the ring (agent/protocol.h);
         * without one, through the FIFO as in the other modes */
        const char *ring = o->memory == MEMORY_EXACT ? channel_ring(ch) : NULL;
        if (ring)
            setenv(AGENT_ENV_RING, ring, 1);
        *record_memory = 1;
    }
    if (o->calls)
        setenv(AGENT_ENV_CALLS, channel_path(ch), 1);
    setenv(AGENT_ENV_FOLLOW, o->subprocesses ? "1" : "0", 1);
    free(preload);
    *fifo = ch;
    return 0;
}

/* --live: the program starts with stdin /dev/null and its output in
 * log, since the terminal is the view's; saved gets our own 0, 1, 2. */
static int live_redirect(const char *log, int saved[3])
{
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) {
        if (in >= 0)
            close(in);
        return -1;
    }
    for (int fd = 0; fd < 3; fd++)
        saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    close(in);
    close(out);
    return 0;
}

static void live_restore(const int saved[3])
{
    for (int fd = 0; fd < 3; fd++) {
        dup2(saved[fd], fd);
        close(saved[fd]);
    }
}

int cmd_run(int argc, char **argv)
{
    struct common_opts o;
    char **cmd;
    int rc = parse(argc, argv, &o, &cmd);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    if (o.duration_s > 0) {
        free(cmd);
        return cli_error("run: --duration is for attach; run records until the program exits");
    }
    if (capture_writable(o.output) < 0) {
        int e = errno;
        free(cmd);
        return cli_error("cannot write the capture %s: %s",
                         o.output ? o.output : "in the working directory", strerror(e));
    }
    char log[64], note[96];
    int saved[3] = { -1, -1, -1 };
    if (o.live) {
        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
            free(cmd);
            return cli_error("run: --live needs a terminal");
        }
        snprintf(log, sizeof log, "stetho-live-%d.log", (int)getpid());
        snprintf(note, sizeof note, "program output: %s", log);
        if (live_redirect(log, saved) < 0) {
            int e = errno;
            free(cmd);
            return cli_error("run: cannot write %s: %s", log, strerror(e));
        }
    }
    struct channel *memory = NULL;
    int record_memory = 0;
    if ((o.memory != MEMORY_OFF || o.calls) && agent_setup(&o, &memory, &record_memory) != 0) {
        if (o.live)
            live_restore(saved);
        free(cmd);
        return 2;
    }
    pid_t child = child_spawn(cmd);
    if (o.live)
        live_restore(saved);
    if (child < 0) {
        int e = errno;
        cli_error("cannot run '%s': %s", cmd[0], strerror(e));
        channel_close(memory);
        free(cmd);
        return e == ENOENT ? 127 : 126;
    }
    child_forward_signals(child);

    char path[4096];
    const char *render = options_capture_path(&o, program_name(cmd), child, path, sizeof path);
    struct session_opts so = {
        .interval_ns = (uint64_t)(o.interval_ms * 1e6),
        .follow_children = o.subprocesses,
        .async_tasks = o.async_tasks,
        .native = o.native,
        .quiet = o.quiet,
        .capture_path = path,
        .argv = cmd,
        .memory = memory,
        .record_memory = record_memory,
        .calls = o.calls,
    };
    pid_t view = o.live ? top_live_start(child, path, note) : -1;
    struct session_result res;
    int recorded = session_record(child, 1, &so, &res);
    channel_close(memory);
    while (view > 0 && waitpid(view, NULL, 0) < 0 && errno == EINTR)
        ;                               /* the view stays until its q */
    if (o.live && !o.quiet)
        fprintf(stderr, "stetho: the program's output is in %s\n", log);
    if (recorded < 0) {
        /* no capture: still wait for the program and give its status */
        int status = 1;
        child_wait(child, &status, 1);
        free(cmd);
        return status;
    }
    if (!o.quiet)
        report_after_run(path, &res, stderr);
    if (render && export_to_file(path, render, o.output) == 0 && !o.quiet)
        fprintf(stderr, "stetho: wrote %s\n", o.output);
    free(cmd);
    return res.exit_status < 0 ? 1 : res.exit_status;
}
