/*
 * test_maps.c -- maps_parse on sample text, maps_read on ourselves and on a
 * process that no longer exists.
 */
#include "check.h"
#include "proc/maps.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char sample[] =
    "55d0c5a00000-55d0c5a28000 r--p 00000000 fd:01 1835078                    /usr/bin/python3.11\n"
    "55d0c5a28000-55d0c5c00000 r-xp 00028000 fd:01 1835078                    /usr/bin/python3.11\n"
    "55d0c6e7e000-55d0c6f20000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f1a2b000000-7f1a2b021000 rw-p 00000000 00:00 0 \n"
    "7f1a2b100000-7f1a2b200000 r-xp 00001000 08:02 42                         /opt/my app/lib/libpython3.12.so.1.0\n"
    "7f1a2b0f0000-7f1a2b100000 r--p 00000000 08:02 42                         /opt/my app/lib/libpython3.12.so.1.0\n"
    "7f1a2c000000-7f1a2c001000 r--s 00000000 00:05 7                          /memfd:jit (deleted)\n"
    "7f1a2d000000-7f1a2d001000 ---p 00000000 00:00 0\n"
    "7ffd1e3a0000-7ffd1e3c1000 rw-p 00000000 00:00 0                          [stack]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

static void test_parse(void)
{
    struct map_list m;

    CHECK_EQ_INT(maps_parse(sample, &m), 0);
    CHECK_EQ_INT(m.n, 10);
    if (m.n != 10)
        return;
    CHECK(m.v[0].start == 0x55d0c5a00000 && m.v[0].end == 0x55d0c5a28000 && m.v[0].offset == 0);
    CHECK_EQ_STR(m.v[0].perms, "r--p");
    CHECK_EQ_STR(m.v[0].path, "/usr/bin/python3.11");
    CHECK_EQ_INT(m.v[1].offset, 0x28000);
    CHECK_EQ_STR(m.v[1].perms, "r-xp");
    CHECK_EQ_STR(m.v[2].path, "[heap]");
    CHECK_EQ_STR(m.v[3].path, "");         /* anonymous, trailing blank */
    CHECK_EQ_STR(m.v[4].path, "/opt/my app/lib/libpython3.12.so.1.0");
    CHECK_EQ_STR(m.v[6].path, "/memfd:jit (deleted)");
    CHECK_EQ_STR(m.v[6].perms, "r--s");
    CHECK_EQ_STR(m.v[7].path, "");         /* anonymous, no trailing blank */
    CHECK_EQ_STR(m.v[8].path, "[stack]");
    CHECK(m.v[9].start == 0xffffffffff600000 && m.v[9].end == 0xffffffffff601000);

    const struct map_entry *e = maps_first_of(&m, "/opt/my app/lib/libpython3.12.so.1.0");
    CHECK(e == &m.v[5]);                    /* lowest address, not first line */
    CHECK(maps_first_of(&m, "/usr/bin/python3.11") == &m.v[0]);
    CHECK(maps_first_of(&m, "/usr/bin/python3") == NULL);
    maps_free(&m);
    CHECK(m.v == NULL && m.n == 0);

    CHECK_EQ_INT(maps_parse("", &m), 0);
    CHECK_EQ_INT(m.n, 0);
    maps_free(&m);

    CHECK(maps_parse("not a maps line\n", &m) == -1 && errno == EINVAL);
    CHECK(maps_parse("1000-2000 r-xp\n", &m) == -1 && errno == EINVAL);
    CHECK(maps_parse("1000-2000 r-xp 0 00:00 0\n10000000000000000-1 r--p 0 00:00 0\n", &m) == -1);
}

/* A path longer than any fixed line buffer would be. */
static void test_long_path(void)
{
    size_t n = 8000;
    char *text = malloc(n + 200), *path = malloc(n + 1);
    struct map_list m;

    path[0] = '/';
    for (size_t i = 1; i < n; i++)
        path[i] = i % 50 ? 'a' + i % 26 : ' ';
    path[n] = '\0';
    snprintf(text, n + 200, "1000-2000 r--p 00000000 00:01 1 %s\n3000-4000 r--p 0 00:01 1 /x\n", path);
    CHECK_EQ_INT(maps_parse(text, &m), 0);
    CHECK_EQ_INT(m.n, 2);
    if (m.n == 2) {
        CHECK_EQ_INT(strlen(m.v[0].path), n);
        CHECK(strcmp(m.v[0].path, path) == 0);
        CHECK_EQ_STR(m.v[1].path, "/x");
    }
    maps_free(&m);
    free(text);
    free(path);
}

static void test_self(void)
{
    char exe[PATH_MAX];
    struct map_list m;

    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    if (n <= 0)
        return;
    exe[n] = '\0';
    CHECK_EQ_INT(maps_read(getpid(), &m), 0);
    CHECK(m.n > 5);
    const struct map_entry *e = maps_first_of(&m, exe);
    CHECK(e != NULL);
    /* main() lies in one of our executable's mappings. */
    uint64_t addr = (uintptr_t)&test_self;
    int found = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (strcmp(m.v[i].path, exe) == 0 && m.v[i].start <= addr && addr < m.v[i].end)
            found = m.v[i].perms[2] == 'x';
    }
    CHECK(found);
    maps_free(&m);
}

static void test_gone(void)
{
    struct map_list m;

    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    CHECK(pid > 0);
    if (pid <= 0)
        return;
    waitpid(pid, NULL, 0);
    errno = 0;
    CHECK(maps_read(pid, &m) == -1 && (errno == ESRCH || errno == ENOENT));
    CHECK(m.v == NULL && m.n == 0);
}

int main(void)
{
    test_parse();
    test_long_path();
    test_self();
    test_gone();
    return CHECK_DONE();
}
