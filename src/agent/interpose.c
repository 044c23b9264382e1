/*
 * interpose.c -- the functions the agent exports in place of libc's: the
 * malloc family and anonymous mmap/munmap/mremap.
 *
 * Each one forwards to the next definition (dlsym RTLD_NEXT) and, when the
 * agent records and this thread is not already inside the agent, records
 * the event.  The real functions are looked up on first use; dlsym itself
 * may call calloc/malloc before that lookup finished, so those early calls
 * are served from a static bootstrap arena whose blocks are never handed to
 * libc's free.  mmap & co fall back to raw system calls until resolved.
 */
/* With _FILE_OFFSET_BITS=64 the headers rename mmap to mmap64; we define
 * both names ourselves (they are one function on x86_64). */
#undef _FILE_OFFSET_BITS
#include "agent/agent.h"
#include "agent/fast.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct agent_real agent_real;

static AGENT_TLS int resolving;

/* ---- bootstrap arena: what dlsym allocates before malloc is known ---- */

#define BOOT_SIZE (64 * 1024)
static _Alignas(16) unsigned char boot[BOOT_SIZE];
static _Atomic size_t boot_used;

static void *boot_alloc(size_t n)
{
    /* a size word before each block, so realloc can copy it out */
    size_t need = (n + 16 + 15) & ~(size_t)15;
    size_t at = atomic_fetch_add(&boot_used, need);
    if (at + need > BOOT_SIZE)
        return NULL;
    memcpy(boot + at, &n, sizeof n);
    return boot + at + 16;          /* the arena is zeroed and never reused */
}

static int in_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + BOOT_SIZE;
}

static size_t boot_size(const void *p)
{
    size_t n;
    memcpy(&n, (const unsigned char *)p - 16, sizeof n);
    return n;
}

/* ---- finding the real functions ---- */

/* Defined below. */
#define DECLARE(name, ret, params) AGENT_EXPORT ret name params;
AGENT_HOOK_LIST(DECLARE)
#undef DECLARE

/* The list's types are the wrappers' (an assignment of another type is an
 * incompatible-pointer error with -Werror; _exit's noreturn may be lost). */
static inline void hook_types_check(void)
{
#define SAME_TYPE(name, ret, params)    \
    {                                   \
        ret(*check) params = name;      \
        (void)check;                    \
    }
    AGENT_HOOK_LIST(SAME_TYPE)
#undef SAME_TYPE
}

void agent_resolve(void)
{
    if (resolving)
        return;
    resolving = 1;
    int saved = errno;
    for (size_t i = 0; i < AGENT_HOOKS; i++)
        __atomic_store_n(agent_hooks[i].real, dlsym(RTLD_NEXT, agent_hooks[i].name),
                         __ATOMIC_RELEASE);
    errno = saved;
    resolving = 0;
}

#define REAL(name) (LIKELY(agent_real.name) ? agent_real.name : (agent_resolve(), agent_real.name))

/* ---- the malloc family ---- */

AGENT_EXPORT void *malloc(size_t n)
{
    void *(*real)(size_t) = REAL(malloc);
    if (UNLIKELY(!real))
        return boot_alloc(n);
    if (LIKELY(fast_alloc_skips(n) || !agent_should_record()))
        return real(n);
    int guard = guard_enter();
    void *p = real(n);
    if (p)
        record_alloc(AGENT_ALLOC_MALLOC, p, n);
    guard_leave(guard);
    return p;
}

AGENT_EXPORT void *calloc(size_t n, size_t size)
{
    void *(*real)(size_t, size_t) = REAL(calloc);
    if (UNLIKELY(!real)) {
        if (size && n > SIZE_MAX / size)
            return NULL;
        return boot_alloc(n * size);
    }
    size_t total;
    if (LIKELY((!__builtin_mul_overflow(n, size, &total) && fast_alloc_skips(total)) ||
               !agent_should_record()))
        return real(n, size);
    int guard = guard_enter();
    void *p = real(n, size);
    if (p)
        record_alloc(AGENT_ALLOC_CALLOC, p, n * size);
    guard_leave(guard);
    return p;
}

AGENT_EXPORT void free(void *p)
{
    if (!p || UNLIKELY(in_boot(p)))
        return;
    void (*real)(void *) = REAL(free);
    if (UNLIKELY(!real))
        return;                     /* only while dlsym runs: leak it */
    if (LIKELY(fast_free_skips(p) || !agent_should_record())) {
        real(p);
        return;
    }
    int guard = guard_enter();
    record_free(AGENT_ALLOC_MALLOC, p);     /* before: the address may be reused at once */
    real(p);
    guard_leave(guard);
}

/* realloc of a bootstrap block: copy it out into a real one. */
static void *boot_realloc(void *p, size_t n)
{
    void *q = malloc(n);
    if (q) {
        size_t old = boot_size(p);
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}

AGENT_EXPORT void *realloc(void *p, size_t n)
{
    if (UNLIKELY(p && in_boot(p)))
        return boot_realloc(p, n);
    void *(*real)(void *, size_t) = REAL(realloc);
    if (UNLIKELY(!real))
        return p ? NULL : boot_alloc(n);
    if (LIKELY(((!p || fast_free_skips(p)) && fast_alloc_skips(n)) || !agent_should_record()))
        return real(p, n);
    int guard = guard_enter();
    int claim = record_realloc_claim(p);
    uint64_t t = p && claim ? record_time(thread_get()) : 0;     /* claim 0: no free to time */
    void *q = real(p, n);
    if (q || (p && n == 0))             /* realloc(p, 0) frees p */
        record_realloc(AGENT_ALLOC_REALLOC, p, q, n, t, claim);
    else
        record_realloc_failed(p, claim);
    guard_leave(guard);
    return q;
}

AGENT_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    if (UNLIKELY(p && in_boot(p))) {
        if (size && n > SIZE_MAX / size) {
            errno = ENOMEM;
            return NULL;
        }
        return boot_realloc(p, n * size);
    }
    void *(*real)(void *, size_t, size_t) = REAL(reallocarray);
    if (UNLIKELY(!real))
        return NULL;
    if (LIKELY(!agent_should_record()))
        return real(p, n, size);
    size_t total;
    if (__builtin_mul_overflow(n, size, &total))
        return real(p, n, size);        /* fails, p stays */
    int guard = guard_enter();
    int claim = record_realloc_claim(p);
    uint64_t t = p && claim ? record_time(thread_get()) : 0;     /* claim 0: no free to time */
    void *q = real(p, n, size);
    if (q || (p && total == 0))
        record_realloc(AGENT_ALLOC_REALLOC, p, q, total, t, claim);
    else
        record_realloc_failed(p, claim);
    guard_leave(guard);
    return q;
}

AGENT_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    int (*real)(void **, size_t, size_t) = REAL(posix_memalign);
    if (UNLIKELY(!real))
        return ENOMEM;
    if (LIKELY(!agent_should_record()))
        return real(out, align, n);
    int guard = guard_enter();
    int rc = real(out, align, n);
    if (rc == 0 && *out)
        record_alloc(AGENT_ALLOC_MEMALIGN, *out, n);
    guard_leave(guard);
    return rc;
}

/* aligned_alloc, memalign: the same shape. */
#define ALIGNED(name)                                                   \
    AGENT_EXPORT void *name(size_t align, size_t n)                     \
    {                                                                   \
        void *(*real)(size_t, size_t) = REAL(name);                     \
        if (UNLIKELY(!real))                                            \
            return NULL;                                                \
        if (LIKELY(!agent_should_record()))                             \
            return real(align, n);                                      \
        int guard = guard_enter();                                      \
        void *p = real(align, n);                                       \
        if (p)                                                          \
            record_alloc(AGENT_ALLOC_MEMALIGN, p, n);                   \
        guard_leave(guard);                                             \
        return p;                                                       \
    }
ALIGNED(aligned_alloc)
ALIGNED(memalign)

/* valloc, pvalloc: page-aligned; pvalloc rounds the size up to pages. */
#define PAGED(name, round)                                              \
    AGENT_EXPORT void *name(size_t n)                                   \
    {                                                                   \
        void *(*real)(size_t) = REAL(name);                             \
        if (UNLIKELY(!real))                                            \
            return NULL;                                                \
        if (LIKELY(!agent_should_record()))                             \
            return real(n);                                             \
        int guard = guard_enter();                                      \
        void *p = real(n);                                              \
        if (p) {                                                        \
            size_t page = (size_t)sysconf(_SC_PAGESIZE);                \
            record_alloc(AGENT_ALLOC_MEMALIGN, p,                       \
                         round ? (n + page - 1) / page * page : n);     \
        }                                                               \
        guard_leave(guard);                                             \
        return p;                                                       \
    }
PAGED(valloc, 0)
PAGED(pvalloc, 1)

/* ---- anonymous mappings ----
 *
 * Recorded as blocks of allocator MMAP; their resident part is measured
 * by mappings.c before they go, under its lock, held across the real call
 * (the caller's errno is the real call's). */

/* [addr, addr + len) is about to go (munmap) or be replaced (MAP_FIXED,
 * MREMAP_FIXED): the recorded mappings it touches are measured, and
 * stetho is told the one at addr is freed -- whether or not it is in our
 * table (one under WIRE_MAPPING_MEASURED_MIN never is); stetho drops
 * frees of addresses it never saw allocated.  Under mappings_lock(). */
static void unmapping(void *addr, size_t len)
{
    mappings_before_unmap(addr, len);
    record_free(AGENT_ALLOC_MMAP, addr);
}

AGENT_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    void *(*real)(void *, size_t, int, int, int, off_t) = agent_real.mmap;
    if (UNLIKELY(!real)) {
        long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
        return (void *)r;       /* the syscall wrapper already set errno */
    }
    /* MAP_FIXED, of any kind, replaces what was there: maybe a recorded
     * mapping */
    if (LIKELY(!(flags & (MAP_ANONYMOUS | MAP_FIXED)) || !agent_should_record()))
        return real(addr, len, prot, flags, fd, off);
    int guard = guard_enter();
    mappings_lock();
    int fixed = (flags & MAP_FIXED) != 0;
    if (fixed)
        unmapping(addr, len);           /* whatever was there is gone */
    void *p = real(addr, len, prot, flags, fd, off);
    int saved = errno;
    if (fixed)
        mappings_after_unmap(addr, len);
    if (p != MAP_FAILED && (flags & MAP_ANONYMOUS))
        record_alloc(AGENT_ALLOC_MMAP, p, len);
    mappings_unlock();
    errno = saved;
    guard_leave(guard);
    return p;
}

AGENT_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

AGENT_EXPORT int munmap(void *addr, size_t len)
{
    int (*real)(void *, size_t) = agent_real.munmap;
    if (UNLIKELY(!real))
        return (int)syscall(SYS_munmap, addr, len);
    if (LIKELY(!agent_should_record()))
        return real(addr, len);
    /* We do not know whether the range was anonymous: unmapping() */
    int guard = guard_enter();
    mappings_lock();
    unmapping(addr, len);
    int rc = real(addr, len);
    int saved = errno;
    mappings_after_unmap(addr, len);
    mappings_unlock();
    errno = saved;
    guard_leave(guard);
    return rc;
}

AGENT_EXPORT void *mremap(void *old, size_t old_len, size_t len, int flags, ...)
{
    void *want = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        want = va_arg(ap, void *);
        va_end(ap);
    }
    void *(*real)(void *, size_t, size_t, int, ...) = agent_real.mremap;
    if (UNLIKELY(!real))
        return (void *)syscall(SYS_mremap, old, old_len, len, flags, want);
    if (LIKELY(!agent_should_record()))
        return real(old, old_len, len, flags, want);
    int guard = guard_enter();
    mappings_lock();
    /* the old mapping is freed (stetho), its pages moved or cut; at want,
     * what was there is replaced (told as by munmap) */
    mappings_before_unmap(old, old_len);
    if ((flags & MREMAP_FIXED) && want != old)
        unmapping(want, len);
    int claim = record_realloc_claim(old);
    uint64_t t = claim ? record_time(thread_get()) : 0;
    void *p = real(old, old_len, len, flags, want);
    int saved = errno;
    if (p != MAP_FAILED) {
        mappings_after_unmap(old, old_len);
        if ((flags & MREMAP_FIXED) && want != old)
            mappings_after_unmap(want, len);
        record_realloc(AGENT_ALLOC_MMAP, old, p, len, t, claim);
    } else {
        record_realloc_failed(old, claim);
    }
    mappings_unlock();
    errno = saved;
    guard_leave(guard);
    return p;
}

/* ---- _exit: forked children leave with it, skipping the destructors ---- */

static _Noreturn void leave(void (*real)(int), int status)
{
    agent_flush_at_exit();
    if (real)
        real(status);
    for (;;)
        syscall(SYS_exit_group, status);
}

AGENT_EXPORT void _exit(int status)
{
    leave(agent_real._exit, status);
}

AGENT_EXPORT void _Exit(int status)
{
    leave(agent_real._Exit, status);
}

/* ---- exec: the new image starts afresh, so send what we hold first ---- */

/* Only the ones a program calls through the PLT: glibc's own execv & co.
 * call execve internally, so each is caught once.  The real functions were
 * looked up at load: a vfork child must not run dlsym. */
#define EXEC(name, ...)                                                 \
    do {                                                                \
        agent_flush_before_exec();                                      \
        if (!agent_real.name) {                                         \
            errno = ENOSYS;                                             \
            return -1;                                                  \
        }                                                               \
        return agent_real.name(__VA_ARGS__);                            \
    } while (0)

AGENT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    EXEC(execve, path, argv, envp);
}

AGENT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    EXEC(execvpe, file, argv, envp);
}

AGENT_EXPORT int execv(const char *path, char *const argv[])
{
    EXEC(execv, path, argv);
}

AGENT_EXPORT int execvp(const char *file, char *const argv[])
{
    EXEC(execvp, file, argv);
}

AGENT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    EXEC(fexecve, fd, argv, envp);
}

/* ---- the hook table ---- */

/* Each wrapper under a hidden name too: the exported name may resolve to
 * another definition (libc's, when the agent is loaded without
 * LD_PRELOAD), the hidden one is always ours. */
#define OURS(name, ret, params) \
    extern ret ours_##name params __attribute__((copy(name), alias(#name), visibility("hidden")));
AGENT_HOOK_LIST(OURS)
#undef OURS

#define HOOK(name, ret, params) { #name, (void **)&agent_real.name, (void *)ours_##name },
const struct agent_hook agent_hooks[AGENT_HOOKS] = { AGENT_HOOK_LIST(HOOK) };
#undef HOOK
