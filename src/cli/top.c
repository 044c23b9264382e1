/*
 * top.c -- `stetho top [options] PID`: a live full-screen view of a
 * running Python process.
 *
 * Two processes, so that drawing never delays a sample: a forked child
 * records the ordinary attach session into a capture (the -o file, or a
 * temporary one removed at the end), flushed every 200 ms; this process
 * reads the capture at every refresh, builds the model for the window
 * shown (profile_build: all of it, or since `r`) and paints it
 * (report/top_view.c).  Only reading: the target runs untouched.  The
 * terminal is in raw mode, so Ctrl-C is a key (quit), not a signal to the
 * recorder; SIGINT/SIGTERM/SIGHUP sent to stetho quit the same way, and
 * the terminal is always restored.
 *
 * With --native the recorder takes native stacks as `attach --native`
 * does, and the table has the C functions among the Python ones.
 *
 * With --memory the recorder also starts the agent in the program the way
 * `attach --memory` does (cli/memattach.h), and on quit stops it: every
 * hook removed, the program goes on.  The recorder's own messages (why the
 * agent could not start) are kept in a temporary file and printed once the
 * screen is restored.
 *
 * `stetho run --live` (top_live_start) is the same view in a forked child
 * while `run` itself records and reaps the program as always.
 */
#include "cli/cli.h"
#include "cli/memattach.h"
#include "cli/options.h"
#include "cli/report_args.h"
#include "cli/session.h"
#include "cpython/target.h"
#include "proc/resident.h"
#include "report/top_view.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Set by SIGINT/SIGTERM/SIGHUP; a handler can only reach a static. */
static volatile sig_atomic_t quit_requested;

static void on_quit(int sig)
{
    (void)sig;
    quit_requested = 1;
}

static void top_usage(FILE *f)
{
    fputs("usage: stetho top [options] PID\n"
          "A live view of a running Python process: its busiest functions, CPU,\n"
          "waiting, RSS; refreshed every second.  Keys: ? in the view.\n"
          "options:\n"
          "  -o, --output PATH     also keep the session as a capture file\n"
          "  -i, --interval MS     sampling interval in milliseconds (default 10)\n"
          "  --refresh S           seconds between refreshes (default 1)\n"
          "  --memory[=MODE]       also record memory (as attach --memory): exact, or\n"
          "                        sampled[:BYTES] (the default, mean 64 KiB); the\n"
          "                        table gets held now, allocated, allocations\n"
          "  --native[=WAY]        also the C/C++ functions (as attach --native: perf\n"
          "                        events, or ptrace pauses where they are refused)\n", f);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The recorder: the attach session, in a child with nothing on the screen. */
static pid_t start_recorder(pid_t pid, const struct session_opts *so, int err_fd)
{
    pid_t child = fork();
    if (child != 0)
        return child;
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(err_fd >= 0 ? err_fd : null, 2);
    }
    struct session_result res;
    int rc = session_record(pid, 0, so, &res);
    /* memory recording that could not start: its status (2), as attach's */
    _exit(rc < 0 ? STETHO_EXIT_USAGE : res.aborted);
}

/* What one refresh read: the capture and the model(s) of the window. */
struct snapshot {
    int loaded, has_one;
    struct capture cap;
    struct profile whole, one;
};

static void snapshot_free(struct snapshot *s)
{
    if (s->has_one)
        profile_free(&s->one);
    if (s->loaded) {
        profile_free(&s->whole);
        capture_free(&s->cap);
    }
    memset(s, 0, sizeof *s);
}

/* Read the capture as far as it is written and model the window; the
 * previous snapshot stays when the file has nothing readable yet. */
static void snapshot_load(struct snapshot *s, const char *path, const struct top_view *v)
{
    struct snapshot n;
    memset(&n, 0, sizeof n);
    char err[256];
    if (capture_load(path, &n.cap, err, sizeof err) < 0 || !n.cap.nsamples) {
        capture_free(&n.cap);
        return;
    }
    struct profile_opts o = { .skip = PROF_NO_TREE, .has_range = v->window_t0_ns != 0,
                              .t0_ns = v->window_t0_ns, .t1_ns = UINT64_MAX };
    if (profile_build(&n.whole, &n.cap, &o) < 0) {
        capture_free(&n.cap);
        return;
    }
    n.loaded = 1;
    if (v->tid) {
        o.tid = v->tid;
        if (profile_build(&n.one, &n.cap, &o) == 0)
            n.has_one = 1;
    }
    snapshot_free(s);
    *s = n;
    /* the models point at the capture they read: now s->cap, not n.cap */
    s->whole.cap = &s->cap;
    if (s->has_one)
        s->one.cap = &s->cap;
}

/* `t`: all threads, then each thread of the model in turn. */
static int32_t next_thread(const struct snapshot *s, int32_t tid)
{
    if (!s->loaded || !s->whole.nthreads)
        return 0;
    size_t i = 0;
    if (tid) {
        while (i < s->whole.nthreads && s->whole.threads[i].tid != tid)
            i++;
        i++;
    }
    return i < s->whole.nthreads ? s->whole.threads[i].tid : 0;
}

/* A key while the filter is edited. */
static void filter_key(struct top_view *v, int ch)
{
    size_t n = strlen(v->filter);
    if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        v->editing = 0;
    } else if (ch == 27) {
        v->editing = 0;
        v->filter[0] = '\0';
    } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (n)
            v->filter[n - 1] = '\0';
    } else if (ch >= 32 && ch < 256 && n + 1 < sizeof v->filter) {
        v->filter[n] = (char)ch;
        v->filter[n + 1] = '\0';
    }
}

/* A command key; 1 when it asks to quit, 2 when the model must be rebuilt. */
static int command_key(struct top_view *v, const struct snapshot *s, int ch, int memory)
{
    int ncols = memory ? TOP_NCOLS : TOP_HELD;
    if (v->help) {
        v->help = 0;
        return ch == 'q' || ch == 3;
    }
    switch (ch) {
    case 'q': case 'Q': case 3:
        return 1;
    case 'p': v->paused = !v->paused; return 0;
    case 'l': v->lines = !v->lines; return 0;
    case '/': v->editing = 1; return 0;
    case '?': v->help = 1; return 0;
    case '<': v->sort = (v->sort + ncols - 1) % ncols; return 0;
    case '>': v->sort = (v->sort + 1) % ncols; return 0;
    case '+': case '=': if (v->refresh_s > 0.25) v->refresh_s /= 2; return 0;
    case '-': if (v->refresh_s < 16) v->refresh_s *= 2; return 0;
    case 't': v->tid = next_thread(s, v->tid); return 2;
    case 'r':
        v->window_t0_ns = s->loaded ? capture_duration(&s->cap) : 0;
        return 2;
    default:
        if (ch >= '1' && ch < '1' + ncols)
            v->sort = ch - '1';
        return 0;
    }
}

static void setup_screen(struct top_view *v)
{
    setlocale(LC_ALL, "");
    initscr();
    raw();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    const char *nc = getenv("NO_COLOR");
    v->color = has_colors() && !(nc && nc[0]);
    if (v->color) {
        start_color();
        use_default_colors();
        init_pair(1, COLOR_CYAN, -1);
        init_pair(2, COLOR_BLACK, COLOR_CYAN);
        init_pair(3, COLOR_BLACK, COLOR_YELLOW);
    }
}

/* Sampling goes on while the recorder (top) runs, or (recorder 0, run
 * --live, where the recording is the parent's) while the program does:
 * `run` reaps it, so it is gone, not a zombie, once it has exited.  The
 * recorder is not reaped here (WNOWAIT): its status is top's at the end. */
static int still_recording(pid_t pid, pid_t recorder)
{
    if (recorder) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        return !(waitid(P_PID, (id_t)recorder, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                 info.si_pid == recorder);
    }
    return !(kill(pid, 0) < 0 && errno == ESRCH);
}

static void view_loop(pid_t pid, pid_t recorder, const char *path, struct top_view *v)
{
    struct snapshot s;
    memset(&s, 0, sizeof s);
    double next = 0;
    int recording = 1, rebuild = 0;
    while (!quit_requested) {
        if (recording && !still_recording(pid, recorder)) {
            recording = 0;
            v->status = kill(pid, 0) < 0 && errno == ESRCH
                            ? "ENDED: the process exited (q quits)"
                            : "STOPPED: sampling failed (q quits)";
            rebuild = 1;        /* one last read: all it recorded */
        }
        double now = now_s();
        if (rebuild || (!v->paused && recording && now >= next)) {
            uint64_t rss = recording ? proc_rss(pid) : 0;   /* 0: gone */
            if (rss && v->nrss == TOP_RSS_POINTS) {
                v->nrss--;
                memmove(v->rss, v->rss + 1, v->nrss * sizeof v->rss[0]);
            }
            if (rss)
                v->rss[v->nrss++] = rss;
            if (v->nrss && v->rss[v->nrss - 1] > v->rss_peak)
                v->rss_peak = v->rss[v->nrss - 1];
            snapshot_load(&s, path, v);
            next = now + v->refresh_s;
            rebuild = 0;
        }
        top_view_draw(s.loaded ? &s.whole : NULL,
                      !s.loaded ? NULL : v->tid && s.has_one ? &s.one : &s.whole, v);
        double wait = next - now_s();
        timeout(wait > 0.2 || v->paused || !recording ? 200 : wait > 0 ? (int)(wait * 1000) : 0);
        int ch = getch();
        if (ch == KEY_RESIZE) {
            /* the terminal may keep or reflow the old text into the new
             * size (tmux does): repaint every cell, not only what changed
             * since the last frame -- a loaded machine's tests saw the old
             * rows stay under the new ones */
            clearok(curscr, TRUE);
            continue;
        }
        if (ch == ERR)
            continue;
        if (v->editing) {
            filter_key(v, ch);
            continue;
        }
        int r = command_key(v, &s, ch, s.loaded && s.cap.has_memory);
        if (r == 1)
            break;
        if (r == 2)
            rebuild = 1;
    }
    snapshot_free(&s);
}

static void catch_quit(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_quit;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

pid_t top_live_start(pid_t program, const char *capture_path, const char *output_note)
{
    pid_t ui = fork();
    if (ui != 0)
        return ui;
    catch_quit();
    signal(SIGCHLD, SIG_DFL);
    struct top_view v = { .pid = program, .refresh_s = 1, .note = output_note };
    setup_screen(&v);
    view_loop(program, 0, capture_path, &v);
    endwin();
    _exit(0);
}

int cmd_top(int argc, char **argv)
{
    const char *pidarg = NULL, *output = NULL;
    double interval_ms = 10, refresh_s = 1;
    struct common_opts mem;     /* --memory's mode, --native's way: parsed as attach does */
    options_defaults(&mem);
    int memory = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            top_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--memory") && (i + 1 >= argc || !memattach_is_mode(argv[i + 1]))) {
            memory = 1;                 /* bare: the default mode */
            continue;
        }
        if (!strncmp(a, "--memory", 8) && (!a[8] || a[8] == '=')) {
            if (options_parse_one(&mem, argc, argv, &i) < 0)
                return STETHO_EXIT_USAGE;
            memory = mem.memory != MEMORY_OFF;
            continue;
        }
        if (!strncmp(a, "--native", 8) && (!a[8] || a[8] == '=')) {
            if (options_parse_one(&mem, argc, argv, &i) < 0)
                return STETHO_EXIT_USAGE;
            continue;
        }
        if (cli_option(argc, argv, &i, "-o", &val) || cli_option(argc, argv, &i, "--output", &val)) {
            if (!val || !val[0])
                return cli_error("top: -o needs a file name");
            output = val;
        } else if (cli_option(argc, argv, &i, "-i", &val) ||
                   cli_option(argc, argv, &i, "--interval", &val)) {
            char *end;
            interval_ms = val ? strtod(val, &end) : 0;
            if (!val || *end || !(interval_ms >= 1 && interval_ms <= 10000))
                return cli_error("top: --interval takes milliseconds from 1 to 10000");
        } else if (cli_option(argc, argv, &i, "--refresh", &val)) {
            char *end;
            refresh_s = val ? strtod(val, &end) : 0;
            if (!val || *end || !(refresh_s >= 0.1 && refresh_s <= 60))
                return cli_error("top: --refresh takes seconds from 0.1 to 60");
        } else if (a[0] == '-' && a[1]) {
            return cli_error("top: unknown option '%s' (see 'stetho top --help')", a);
        } else if (pidarg) {
            return cli_error("top: one PID only (got '%s' and '%s')", pidarg, a);
        } else {
            pidarg = a;
        }
    }
    if (!pidarg)
        return cli_error("top: missing PID (usage: stetho top [options] PID)");
    pid_t pid = cli_parse_pid(pidarg);
    if (pid < 0)
        return cli_error("top: '%s' is not a process id", pidarg);
    struct py_target t;
    struct py_error err;
    if (py_target_open(&t, pid, &err) != PY_OK)
        return cli_error("%s", err.msg);
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        py_target_close(&t);
        return cli_error("top: needs a terminal (use 'stetho attach' to record without one)");
    }
    struct memattach *ma = NULL;
    if (memory) {
        char mode[64];
        memattach_mode(&mem, mode, sizeof mode);
        int rc = memattach_open(&t, mode, 1, &ma);
        if (rc) {
            py_target_close(&t);
            return rc;
        }
    }

    char tmp[] = "/tmp/stetho-top-XXXXXX";
    const char *path = output;
    if (!path) {
        int fd = mkstemp(tmp);
        if (fd < 0) {
            memattach_free(ma);
            py_target_close(&t);
            return cli_error("top: cannot create a temporary capture: %s", strerror(errno));
        }
        close(fd);
        path = tmp;
    } else {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0) {
            memattach_free(ma);
            py_target_close(&t);
            return cli_error("top: cannot write the capture %s: %s", path, strerror(errno));
        }
        close(fd);
    }
    struct session_opts so = {
        .interval_ns = (uint64_t)(interval_ms * 1e6),
        .capture_path = path,
        .native = mem.native,
        .memory = ma ? memattach_channel(ma) : NULL,
        .record_memory = ma != NULL,
        .after_start = ma ? memattach_session_start : NULL,
        .before_finish = ma ? memattach_session_stop : NULL,
        .before_finish_ctx = ma,
    };
    FILE *errs = tmpfile();     /* the recorder's messages, for after the screen */
    pid_t recorder = start_recorder(pid, &so, errs ? fileno(errs) : -1);
    if (recorder < 0) {
        if (!output)
            unlink(tmp);
        if (errs)
            fclose(errs);
        memattach_free(ma);
        py_target_close(&t);
        return cli_error("top: cannot start the recorder: %s", strerror(errno));
    }
    catch_quit();
    struct top_view v = { .pid = pid, .refresh_s = refresh_s };
    setup_screen(&v);
    view_loop(pid, recorder, path, &v);
    endwin();

    kill(recorder, SIGTERM);    /* ends its session: the capture is closed whole */
    int status = 0;
    while (waitpid(recorder, &status, 0) < 0 && errno == EINTR)
        ;
    if (errs) {
        char line[512];
        rewind(errs);
        while (fgets(line, sizeof line, errs))
            fputs(line, stderr);
        fclose(errs);
    }
    memattach_free(ma);         /* the recorder stopped the agent; the FIFO goes */
    py_target_close(&t);
    int failed = WIFEXITED(status) && WEXITSTATUS(status) != 0;
    if (!output)
        unlink(tmp);
    else if (!failed)
        fprintf(stderr, "stetho: wrote %s\n", output);
    return failed ? WEXITSTATUS(status) : 0;
}
