/*
 * fuzz_elf.c -- libFuzzer entry point for elf_open/elf_symbol.
 *
 * elf_open takes a path, so the input goes into a memfd opened through
 * /proc/self/fd.  Build (not part of the meson build):
 *   clang -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Isrc \
 *       tests/fuzz/fuzz_elf.c src/proc/elf.c -o fuzz_elf && ./fuzz_elf
 */
#include "proc/elf.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *names[] = { "_PyRuntime", "Py_Version", "main", "", "a" };
    char path[64];
    struct elf_file *f;
    uint64_t v, s;

    int fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (size == 0 || write(fd, data, size) == (ssize_t)size) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (elf_open(path, &f) == 0) {
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
                elf_symbol(f, names[i], &v, &s);
            elf_load_bias(f, 0x400000);
            elf_close(f);
        }
    }
    close(fd);
    return 0;
}
