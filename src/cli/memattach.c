/*
 * memattach.c -- the agent started and stopped in a running program
 * (memattach.h).
 */
#include "cli/memattach.h"
#include "cli/cli.h"
#include "agent/protocol.h"
#include "cpython/remote_exec.h"
#include "memory/channel.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct memattach {
    const struct py_target *t;
    struct channel *ch;
    char agent[PATH_MAX];
    char mode[64];
    int quiet, started;
};

enum { SOURCE_MAX = 4000 };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* s as a Python bytes literal in which every byte but [A-Za-z0-9/._-] is
 * \xNN: a path can hold no quote that ends it. */
static int bytes_literal(char *out, size_t len, const char *s)
{
    size_t k = 0;
    k += (size_t)snprintf(out + k, len > k ? len - k : 0, "b'");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '/' || *p == '.' || *p == '_' ||
                    *p == '-' || *p == ':';
        k += (size_t)snprintf(out + k, len > k ? len - k : 0, plain ? "%c" : "\\x%02x", *p);
    }
    k += (size_t)snprintf(out + k, len > k ? len - k : 0, "'");
    return k < len ? 0 : -1;
}

/* The code the program runs: `call` is the agent call that returns 0 or
 * -1 (l is the agent); the answer goes to reply, written whole (rename).
 * Nothing escapes it: a pending call that raised would raise in the
 * program.  exec with a fresh dict: the program's __main__ gets no name.
 *
 * A pending call runs between two bytecodes of whatever the main thread
 * runs -- and that may be the import machinery's own Python code (an
 * import in progress: importlib._bootstrap is Python).  An import of ours
 * from there re-enters it in the same thread and breaks the import under
 * way (its module lock's bookkeeping raised KeyError in the program), and
 * a module the thread is importing is seen half made (ctypes: no PyDLL
 * yet).  So the code first looks at the frame it interrupted (the third
 * from its own: its exec, the source's module, then the program's) and at
 * ctypes in sys.modules: in importlib's own code, or with ctypes being
 * imported, it imports nothing (sys and os are taken from sys.modules) and
 * answers "busy", and stetho asks again a moment later (exec_call).  A
 * module body running under an import further down (a program that runs
 * its work from an import) is not busy: importing from there is what that
 * body itself may do. */
static int make_source(char *out, size_t len, const char *agent, const char *call,
                       const char *reply)
{
    char a[PATH_MAX * 4 + 8], r[PATH_MAX * 4 + 8], rt[PATH_MAX * 4 + 8], tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", reply);
    if (bytes_literal(a, sizeof a, agent) < 0 || bytes_literal(r, sizeof r, reply) < 0 ||
        bytes_literal(rt, sizeof rt, tmp) < 0)
        return -1;
    int n = snprintf(out, len,
        "exec(r'''try:\n"
        " import sys\n"
        " try:\n"
        "  f = sys._getframe(2).f_code.co_filename.startswith('<frozen importlib')\n"
        " except ValueError:\n"
        "  f = False\n"
        " c = sys.modules.get('ctypes')\n"
        " if f or getattr(getattr(c, '__spec__', None), '_initializing', False):\n"
        "  m = b'busy'\n"
        " else:\n"
        "  import ctypes, os\n"
        "  l = ctypes.PyDLL(os.fsdecode(%s), mode=os.RTLD_LOCAL)\n"
        "  l.stetho_agent_error.restype = ctypes.c_char_p\n"
        "  m = b'ok' if %s == 0 else l.stetho_agent_error()\n"
        "except BaseException as e:\n"
        " m = repr(e).encode()\n"
        "try:\n"
        " os = sys.modules['os']\n"
        " f = os.open(%s, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)\n"
        " os.write(f, m)\n"
        " os.close(f)\n"
        " os.rename(%s, %s)\n"
        "except BaseException:\n"
        " pass\n"
        "''', {})\n", a, call, rt, rt, r);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static void reply_path(const struct memattach *m, const char *what, char *out, size_t len)
{
    snprintf(out, len, "%s.%s", channel_path(m->ch), what);
}

/* The answer to `what` ("ok", the agent's error); 1 = got it, 0 = none
 * before the deadline, -1 = the process is gone. */
static int wait_reply(const struct memattach *m, const char *what, double timeout_s,
                      char *answer, size_t len)
{
    char path[PATH_MAX];
    reply_path(m, what, path, sizeof path);
    uint64_t deadline = now_ns() + (uint64_t)(timeout_s * 1e9);
    for (;;) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, answer, len - 1);
            close(fd);
            answer[n > 0 ? n : 0] = 0;
            return 1;
        }
        if (kill(m->t->pid, 0) < 0 && errno == ESRCH)
            return -1;
        if (now_ns() >= deadline)
            return 0;
        nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
    }
}

#define BUSY_RETRY_NS 20000000L        /* 20 ms: an import is over by then, mostly */
#define BUSY_TRIES 250                  /* each leaves a 4 KiB page mapped (remote_exec.h) */

/* The program runs `call` (make_source) and answers `what`: 1 with its
 * answer, 0 if its main thread ran no Python code before the deadline, -1
 * if it exited, -2 if the call could not be queued (err says why).  A
 * "busy" (it was inside an import) is asked again BUSY_RETRY_NS later,
 * until the deadline. */
static int exec_call(struct memattach *m, const char *what, const char *call, double timeout_s,
                     char *answer, size_t len, char *err, size_t errlen)
{
    char reply[PATH_MAX], source[SOURCE_MAX];
    reply_path(m, what, reply, sizeof reply);
    if (make_source(source, sizeof source, m->agent, call, reply) < 0) {
        snprintf(err, errlen, "attach --memory: the paths are too long");
        return -2;
    }
    uint64_t deadline = now_ns() + (uint64_t)(timeout_s * 1e9);
    for (int tries = 1;; tries++) {
        unlink(reply);                  /* the answer before, if any */
        if (py_remote_exec(m->t, source, err, errlen) < 0)
            return -2;
        uint64_t now = now_ns();
        int got = wait_reply(m, what, now < deadline ? (double)(deadline - now) / 1e9 : 0,
                             answer, len);
        if (got != 1 || strcmp(answer, "busy") != 0)
            return got;
        if (tries == BUSY_TRIES || now_ns() + BUSY_RETRY_NS >= deadline) {
            snprintf(answer, len, "its main thread was inside an import each time it was "
                     "asked (%d times)", tries);
            return 1;
        }
        nanosleep(&(struct timespec){ 0, BUSY_RETRY_NS }, NULL);
    }
}

/* The target may run as another user than stetho (root): let it open the
 * FIFO and write its answers beside it. */
static void give_to_target(const struct memattach *m)
{
    struct stat st;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%d", (int)m->t->pid);
    if (geteuid() != 0 || stat(proc, &st) < 0 || st.st_uid == 0)
        return;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", channel_path(m->ch));
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    if (chown(dir, st.st_uid, st.st_gid) < 0 || chown(channel_path(m->ch), st.st_uid,
                                                       st.st_gid) < 0) {
        /* the agent then says it cannot open the FIFO, in its answer */
    }
}

int memattach_open(const struct py_target *t, const char *mode, int quiet,
                   struct memattach **out)
{
    *out = NULL;
    const char *why = py_remote_exec_unsupported(t);
    if (why)
        return cli_error("%s (process %d runs Python %s)", why, (int)t->pid, t->version);
    struct memattach *m = calloc(1, sizeof *m);
    if (!m)
        return cli_error("out of memory");
    m->t = t;
    m->quiet = quiet;
    snprintf(m->mode, sizeof m->mode, "%s", mode);
    if (cli_find_agent(m->agent, sizeof m->agent) < 0) {
        free(m);
        return cli_error("attach --memory needs libstetho_agent.so beside stetho "
                         "(or set STETHO_AGENT)");
    }
    if (!(m->ch = channel_open())) {
        free(m);
        return cli_error("cannot make a FIFO: %s", strerror(errno));
    }
    give_to_target(m);
    *out = m;
    return 0;
}

int memattach_start(struct memattach *m, double timeout_s)
{
    const struct py_target *t = m->t;
    char fifo[PATH_MAX * 4 + 8], md[256], call[PATH_MAX * 8 + 600];
    char ringlit[PATH_MAX * 4 + 8];
    char err[512], answer[512];
    bytes_literal(fifo, sizeof fifo, channel_path(m->ch));
    bytes_literal(md, sizeof md, m->mode);
    /* exact mode: the chunks go through a ring (docs/memory.md, "The
     * ring"), as under `stetho run`; a process of another user cannot
     * open it (it is our memfd) and keeps to the FIFO */
    const char *ring = strncmp(m->mode, "exact", 5) == 0 ? channel_ring(m->ch) : NULL;
    if (ring && bytes_literal(ringlit, sizeof ringlit, ring) == 0)
        snprintf(call, sizeof call,
                 "(l.stetho_agent_use_ring(%s), l.stetho_agent_start(%s, %s, 0))[1]",
                 ringlit, fifo, md);
    else
        snprintf(call, sizeof call, "l.stetho_agent_start(%s, %s, 0)", fifo, md);
    int got = exec_call(m, "start", call, timeout_s, answer, sizeof answer, err, sizeof err);
    if (got == -2)
        return cli_error("%s", err);
    if (got < 0)
        return cli_error("process %d exited before memory recording started", (int)t->pid);
    if (got == 0)
        return cli_error("process %d's main thread ran no Python code for %g s (blocked "
                         "in a system call, or waiting for other threads?): memory "
                         "recording did not start", (int)t->pid, timeout_s);
    if (strcmp(answer, "ok") != 0)
        return cli_error("memory recording could not start in process %d: %s", (int)t->pid,
                         answer);
    m->started = 1;
    if (!m->quiet)
        fprintf(stderr, "stetho: recording memory in process %d (Python %s) and profiling "
                "it; Ctrl-C to stop\n", (int)t->pid, t->version);
    return 0;
}

struct channel *memattach_channel(const struct memattach *m)
{
    return m->ch;
}

void memattach_stop(struct memattach *m, double timeout_s)
{
    if (!m->started || (kill(m->t->pid, 0) < 0 && errno == ESRCH))
        return;                         /* it exited: its agent flushed at exit */
    char err[512], answer[512];
    int got = exec_call(m, "stop", "l.stetho_agent_stop()", timeout_s, answer, sizeof answer,
                        err, sizeof err);
    if (got == -2) {
        if (kill(m->t->pid, 0) == 0)
            fprintf(stderr, "stetho: could not stop the recording in process %d (%s); "
                    "it stops by itself when it finds stetho gone\n", (int)m->t->pid, err);
        return;
    }
    if (got == 0)
        fprintf(stderr, "stetho: process %d ran no Python code for %g s: its recording "
                "stops by itself when it finds stetho gone\n", (int)m->t->pid, timeout_s);
    else if (got > 0 && strcmp(answer, "ok") != 0)
        fprintf(stderr, "stetho: stopping the recording in process %d: %s\n",
                (int)m->t->pid, answer);
}

void memattach_free(struct memattach *m)
{
    if (!m)
        return;
    if (m->ch) {
        const char *what[] = { "start", "stop" };
        for (int i = 0; i < 2; i++) {
            char path[PATH_MAX];
            reply_path(m, what[i], path, sizeof path);
            unlink(path);
        }
        channel_close(m->ch);
    }
    free(m);
}

int memattach_session_start(void *m)
{
    return memattach_start(m, MEMATTACH_TIMEOUT_S);
}

void memattach_session_stop(void *m)
{
    memattach_stop(m, MEMATTACH_TIMEOUT_S);
}

void memattach_mode(const struct common_opts *o, char *out, size_t len)
{
    const char *native = o->native ? AGENT_MODE_NATIVE : "";
    if (o->memory == MEMORY_EXACT)
        snprintf(out, len, "exact%s", native);
    else
        snprintf(out, len, "sampled:%llu%s", (unsigned long long)o->sample_mean, native);
}

int memattach_native_check(const struct common_opts *o)
{
    if (!o->native || o->memory == MEMORY_OFF)
        return 0;
    /* the agent loads it the same way (agent/native.c) */
    void *h = dlopen(AGENT_LIBUNWIND, RTLD_LAZY | RTLD_LOCAL);
    if (!h)
        return cli_error("--native with --memory needs libunwind (%s; Debian: apt install "
                         "libunwind8), or add --memory=off",
                         AGENT_LIBUNWIND);
    dlclose(h);
    return 0;
}

int memattach_is_mode(const char *arg)
{
    return !strcmp(arg, "exact") || !strcmp(arg, "off") || !strncmp(arg, "sampled", 7);
}
