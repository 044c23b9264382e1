/*
 * fifo.c -- the agent's write ends of stetho's FIFOs (the memory stream,
 * the call counts): opened high among the descriptors, checked before
 * every write, and opened again when the program closed ours.
 *
 * A program may close every descriptor it did not open itself -- a
 * daemon's `os.closerange(3, ...)`, python-daemon's DaemonContext -- and
 * get ours back as the number of a file of its own.  Every write first
 * checks that the number still names our FIFO (device and inode).  When it
 * does not, the FIFO is opened again by its path, if it is still the same
 * FIFO and stetho still reads it (stetho keeps a write end of its own, so
 * the FIFO never reads as ended while it runs); the old number is left
 * alone: it is the program's now (but for the window between a check and
 * its write, a few instructions, which a program that closes and reuses
 * the number in another thread at that moment could hit).  Before, the agent stopped recording
 * there, and everything the program allocated after was missing, without
 * a word.  Chunks are whole writes of at most PIPE_BUF bytes, so one
 * written on either descriptor arrives whole.
 */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_ours(int fd, dev_t dev, ino_t ino)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_dev == dev &&
           st.st_ino == ino;
}

/* Our descriptors go high, out of the way of programs that expect the
 * numbers open() hands out; blocking (a full pipe slows the program down,
 * it never drops a chunk) and deep.  -1 if nobody reads the FIFO. */
static int open_high(const char *path, struct stat *st)
{
    /* O_NONBLOCK: with nobody reading, fail at once instead of hanging */
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISFIFO(st->st_mode) ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        close(fd);
        return -1;
    }
    /* a deeper pipe: the program blocks only when stetho is far behind */
    fcntl(fd, F_SETPIPE_SZ, 1 << 20);
    static const int high[] = { 1000, 500, 200, 100 };
    for (size_t i = 0; i < sizeof high / sizeof high[0]; i++) {
        int hfd = fcntl(fd, F_DUPFD_CLOEXEC, high[i]);
        if (hfd >= 0) {
            close(fd);
            return hfd;
        }
    }
    return fd;
}

/* f->state: the descriptor in its low 32 bits (all ones: none), and a
 * generation above, bumped by every change, so that a thread that opened
 * the FIFO again publishes its descriptor only if nobody changed it since
 * it looked (a number the kernel hands out again does not fool it). */
#define NO_FD 0xffffffffu

static int fd_of(uint64_t state)
{
    uint32_t fd = (uint32_t)state;
    return fd == NO_FD ? -1 : (int)fd;
}

static uint64_t next_state(uint64_t state, int fd)
{
    return ((state >> 32) + 1) << 32 | (fd < 0 ? NO_FD : (uint32_t)fd);
}

int agent_fifo_open(struct agent_fifo *f, const char *path)
{
    struct stat st;
    size_t n = strlen(path);
    uint64_t old = atomic_load(&f->state);
    atomic_store(&f->state, next_state(old, -1));
    f->path[0] = 0;
    int fd = open_high(path, &st);
    if (fd < 0)
        return -1;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (n < sizeof f->path)
        memcpy(f->path, path, n + 1);       /* else never opened again */
    atomic_store(&f->state, next_state(old + (1ull << 32), fd));
    return 0;
}

/* Opened again, without a lock (a signal handler may interrupt a thread
 * here, and the exit's flush may run in it): each thread that finds the
 * descriptor gone opens its own; the first to publish it wins, the others
 * close theirs and take the winner's.  A descriptor closed on purpose
 * meanwhile (agent_fifo_close: the state changed) is not brought back. */
static int reopen(struct agent_fifo *f, uint64_t seen)
{
    struct stat st;
    int fd = f->path[0] ? open_high(f->path, &st) : -1;
    if (fd >= 0 && (st.st_dev != f->dev || st.st_ino != f->ino)) {
        close(fd);                          /* another FIFO at that path now */
        fd = -1;
    }
    if (atomic_compare_exchange_strong(&f->state, &seen, next_state(seen, fd)))
        return fd;
    if (fd >= 0)
        close(fd);                          /* never published: ours alone */
    int now = fd_of(seen);                  /* what the winner left */
    return now >= 0 && is_ours(now, f->dev, f->ino) ? now : -1;
}

int agent_fifo_fd(struct agent_fifo *f)
{
    uint64_t state = atomic_load_explicit(&f->state, memory_order_acquire);
    int fd = fd_of(state);
    if (fd < 0)
        return -1;
    return is_ours(fd, f->dev, f->ino) ? fd : reopen(f, state);
}

int agent_fifo_reads(struct agent_fifo *f)
{
    int fd = agent_fifo_fd(f);
    if (fd < 0)
        return 0;
    struct pollfd p = { fd, POLLOUT, 0 };
    return poll(&p, 1, 0) < 0 || !(p.revents & (POLLERR | POLLNVAL));
}

/* SIGPIPE is blocked around the write: if stetho went away, the program
 * must not die of it; the caller stops sending instead. */
int agent_fifo_write(struct agent_fifo *f, const void *buf, size_t len)
{
    int fd = agent_fifo_fd(f);
    if (fd < 0)
        return -1;
    sigset_t pipe, old;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    ssize_t r;
    do
        r = write(fd, buf, len);
    while (r < 0 && errno == EINTR);
    if (r != (ssize_t)len) {
        int saved = errno;
        if (r < 0 && errno == EPIPE && !sigismember(&old, SIGPIPE)) {
            struct timespec zero = { 0, 0 };
            sigtimedwait(&pipe, NULL, &zero);     /* drop the pending SIGPIPE */
        }
        errno = saved;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r == (ssize_t)len ? 0 : -1;
}

void agent_fifo_close(struct agent_fifo *f)
{
    uint64_t state = atomic_load(&f->state);
    while (!atomic_compare_exchange_weak(&f->state, &state, next_state(state, -1)))
        ;
    int fd = fd_of(state);
    if (fd >= 0 && is_ours(fd, f->dev, f->ino))
        close(fd);                          /* never a number the program took */
}
