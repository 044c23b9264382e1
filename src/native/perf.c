/*
 * perf.c -- per-thread perf events with user registers and stack (perf.h).
 *
 * Why TASK_CLOCK: it advances only while the thread runs, so a busy thread
 * gives a sample per period of its CPU time and a blocked one none (its
 * stack holds still: the sampler unwinds it from /proc, see sampler.c).
 * A DUMMY event woken by stetho's timer is not possible: nothing lets
 * another process ask for a sample now.  The ring is written backward in
 * overwrite mode (mapped read-only), so the newest sample is at data_head
 * and an old one never blocks a new one, whenever the sampler comes.
 */
#include "native/perf.h"

#include <asm/perf_regs.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DATA_PAGES 8            /* a power of two; room for one sample
                                   (16.5 KiB) while the next is written */

/* The registers asked for, in the order the kernel writes them (bit
 * order), and their DWARF numbers (unwind.h). */
static const struct {
    int perf, dwarf;
} REGS[] = {
    { PERF_REG_X86_AX, 0 }, { PERF_REG_X86_BX, 3 }, { PERF_REG_X86_CX, 2 },
    { PERF_REG_X86_DX, 1 }, { PERF_REG_X86_SI, 4 }, { PERF_REG_X86_DI, 5 },
    { PERF_REG_X86_BP, 6 }, { PERF_REG_X86_SP, NATIVE_REG_SP },
    { PERF_REG_X86_IP, NATIVE_REG_PC },
    { PERF_REG_X86_R8, 8 }, { PERF_REG_X86_R9, 9 }, { PERF_REG_X86_R10, 10 },
    { PERF_REG_X86_R11, 11 }, { PERF_REG_X86_R12, 12 }, { PERF_REG_X86_R13, 13 },
    { PERF_REG_X86_R14, 14 }, { PERF_REG_X86_R15, 15 },
};
#define NREGS (sizeof REGS / sizeof REGS[0])
_Static_assert(NREGS == NATIVE_NREGS, "every DWARF register from the sample");

struct perf_thread {
    int fd;
    void *map;
    size_t map_len;
    unsigned char *data;        /* the ring */
    uint64_t size;              /* its length, a power of two */
    uint64_t last_head;         /* data_head at the previous look */
    unsigned char *rec;         /* the newest sample, copied out */
};

int perf_refused(int err)
{
    return err == EACCES || err == EPERM || err == ENOSYS || err == ENOENT ||
           err == EOPNOTSUPP || err == EINVAL || err == ENODEV;
}

static uint64_t reg_mask(void)
{
    uint64_t m = 0;
    for (size_t i = 0; i < NREGS; i++)
        m |= 1ull << REGS[i].perf;
    return m;
}

static int open_event(pid_t tid, uint64_t period_ns, int exclude_kernel)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_TASK_CLOCK;
    a.sample_period = period_ns;
    a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_REGS_USER |
                    PERF_SAMPLE_STACK_USER;
    a.sample_regs_user = reg_mask();
    a.sample_stack_user = PERF_STACK_BYTES;
    a.exclude_kernel = (unsigned)exclude_kernel;
    a.exclude_hv = 1;
    a.use_clockid = 1;
    a.clockid = CLOCK_MONOTONIC;
    a.write_backward = 1;
    return (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

struct perf_thread *perf_thread_open(pid_t tid, uint64_t period_ns, int *err)
{
    /* a sample taken in the kernel (a system call) still has the user
     * registers and stack; only unprivileged callers must leave it out */
    int fd = open_event(tid, period_ns, 0);
    if (fd < 0 && (errno == EACCES || errno == EPERM))
        fd = open_event(tid, period_ns, 1);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    long page = sysconf(_SC_PAGESIZE);
    struct perf_thread *t = calloc(1, sizeof *t);
    unsigned char *rec = t ? malloc((size_t)page * DATA_PAGES) : NULL;
    /* read-only: the kernel overwrites the oldest data */
    void *map = rec ? mmap(NULL, (size_t)page * (1 + DATA_PAGES), PROT_READ, MAP_SHARED, fd, 0)
                    : MAP_FAILED;
    if (map == MAP_FAILED) {
        *err = rec ? errno : ENOMEM;    /* EPERM: the locked-memory limit */
        free(rec);
        free(t);
        close(fd);
        return NULL;
    }
    t->fd = fd;
    t->map = map;
    t->map_len = (size_t)page * (1 + DATA_PAGES);
    t->rec = rec;
    struct perf_event_mmap_page *meta = t->map;
    uint64_t off = meta->data_offset ? meta->data_offset : (uint64_t)page;
    t->size = meta->data_size ? meta->data_size : (uint64_t)page * DATA_PAGES;
    t->data = (unsigned char *)t->map + off;
    return t;
}

/* len bytes of the ring from position pos, across its end. */
static void ring_copy(const struct perf_thread *t, uint64_t pos, void *out, size_t len)
{
    uint64_t at = pos & (t->size - 1);
    size_t first = len < t->size - at ? len : (size_t)(t->size - at);
    memcpy(out, t->data + at, first);
    memcpy((unsigned char *)out + first, t->data, len - first);
}

static int take(const unsigned char **p, const unsigned char *end, void *out, size_t len)
{
    if ((size_t)(end - *p) < len)
        return -1;
    memcpy(out, *p, len);
    *p += len;
    return 0;
}

/* The sample copied in t->rec (len bytes, header included). */
static int parse(const struct perf_thread *t, size_t len, struct perf_sample *out)
{
    const unsigned char *p = t->rec + sizeof(struct perf_event_header), *end = t->rec + len;
    uint32_t pid_tid[2];
    uint64_t abi, size;
    memset(out, 0, sizeof *out);
    if (take(&p, end, pid_tid, sizeof pid_tid) < 0 || take(&p, end, &out->time_ns, 8) < 0 ||
        take(&p, end, &abi, 8) < 0 || abi == PERF_SAMPLE_REGS_ABI_NONE)
        return 0;               /* no user registers: a kernel thread's */
    for (size_t i = 0; i < NREGS; i++)
        if (take(&p, end, &out->regs.r[REGS[i].dwarf], 8) < 0)
            return 0;
    out->regs.known = (1u << NATIVE_NREGS) - 1;
    if (take(&p, end, &size, 8) < 0)
        return 0;
    if (size) {
        uint64_t dyn;
        const unsigned char *stack = p;
        if (size > (size_t)(end - p) || (p += size, take(&p, end, &dyn, 8) < 0))
            return 0;
        out->stack = stack;
        out->stack_len = dyn < size ? (size_t)dyn : (size_t)size;
    }
    return 1;
}

int perf_thread_latest(struct perf_thread *t, struct perf_sample *out)
{
    struct perf_event_mmap_page *meta = t->map;
    uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
    if (head == t->last_head)
        return 0;
    t->last_head = head;
    /* backward: head goes down from 0; the newest record starts at head,
     * older ones follow it, -head bytes were written in all */
    uint64_t written = 0 - head, pos = head;
    for (int tries = 0; tries < 4 && pos - head + sizeof(struct perf_event_header) <= written &&
                        pos - head < t->size; tries++) {
        struct perf_event_header h;
        ring_copy(t, pos, &h, sizeof h);
        if (h.size < sizeof h || h.size > t->size || pos - head + h.size > written)
            return 0;
        if (h.type != PERF_RECORD_SAMPLE) {     /* throttling, lost: older ones */
            pos += h.size;
            continue;
        }
        ring_copy(t, pos, t->rec, h.size);
        /* the kernel may have written over it meanwhile (a full ring) */
        uint64_t now = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
        if ((pos - now) + h.size > t->size)
            return 0;
        return parse(t, h.size, out);
    }
    return 0;
}

void perf_thread_close(struct perf_thread *t)
{
    if (!t)
        return;
    munmap(t->map, t->map_len);
    close(t->fd);
    free(t->rec);
    free(t);
}
