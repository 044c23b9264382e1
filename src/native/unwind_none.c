/*
 * unwind_none.c -- native stacks in a stetho built without elfutils: every
 * attempt says so, once, in the caller's error line.
 */
#include "native/unwind.h"

#include <stdio.h>

const char *native_unsupported(void)
{
    return "this stetho was built without native stack support (install libdw-dev, then "
           "rebuild)";
}

struct native_session *native_open(pid_t pid, char *err, size_t errlen)
{
    (void)pid;
    snprintf(err, errlen, "%s", native_unsupported());
    return NULL;
}

uint64_t native_generation(const struct native_session *s)
{
    (void)s;
    return 0;
}

struct native_session *native_open_copy(pid_t pid, char *err, size_t errlen)
{
    return native_open(pid, err, errlen);
}

size_t native_unwind_copy(struct native_session *s, pid_t tid, const struct native_regs *regs,
                          const unsigned char *stack, size_t stack_len,
                          struct native_frame *out, size_t max)
{
    (void)s, (void)tid, (void)regs, (void)stack, (void)stack_len, (void)out, (void)max;
    return 0;
}

size_t native_unwind(struct native_session *s, pid_t tid, struct native_frame *out, size_t max)
{
    (void)s, (void)tid, (void)out, (void)max;
    return 0;
}

void native_close(struct native_session *s)
{
    (void)s;
}

struct native_session *native_open_modules(char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", native_unsupported());
    return NULL;
}

int native_add_module(struct native_session *s, const char *path, uint64_t start, uint64_t end)
{
    (void)s, (void)path, (void)start, (void)end;
    return -1;
}

void native_describe(struct native_session *s, uint64_t pc, int caller, struct native_frame *out)
{
    (void)s, (void)caller;
    *out = (struct native_frame){ .pc = pc };
}
