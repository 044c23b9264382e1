"""Anonymous mappings: reserved and never touched, partly touched, fully
touched; all kept until the end.

    mem_mapped.py TRUTH.json

reserve() maps 64 MiB and touches nothing, partly() maps 64 MiB and touches
its first 16 MiB, fully() maps 32 MiB and touches all of it (one byte per
page: no big temporary buffer); small() maps 16 x 256 KiB and touches
nothing: mappings under 1 MiB count whole, as malloc'd blocks do
(src/wire/wire.h, WIRE_MAPPING_MEASURED_MIN); replaced() maps 16 x 256 KiB
and maps a file over each at once (MAP_FIXED, through libc as a C extension
would): what was there is gone, so it counts nothing.  Then the program waits a
little (so the pages are seen touched) and writes, per function, the bytes
it mapped and touched (the large ones), the bytes stetho should count, and
its own VmRSS, to TRUTH.json.
"""
import ctypes
import json
import mmap
import os
import sys
import time

MB = 1 << 20
PAGE = mmap.PAGESIZE
PAGES = list(range(0, 64 * MB, PAGE))   # offsets made here: no ints made in the loops
KEEP = []


def touch(m, nbytes):
    for off in PAGES:
        if off >= nbytes:
            break
        m[off] = 1


def reserve():
    KEEP.append(mmap.mmap(-1, 64 * MB))


def partly():
    m = mmap.mmap(-1, 64 * MB)
    touch(m, 16 * MB)
    KEEP.append(m)


def fully():
    m = mmap.mmap(-1, 32 * MB)
    touch(m, 32 * MB)
    KEEP.append(m)


def small():
    for _ in range(16):
        KEEP.append(mmap.mmap(-1, 256 * 1024))


def replaced(path):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    size, fixed = 256 * 1024, 0x10                  # MAP_FIXED on Linux
    with open(path, "wb") as f:
        f.write(b"x" * size)
    fd = os.open(path, os.O_RDONLY)
    for _ in range(16):
        anon = libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE,
                         mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        over = libc.mmap(anon, size, mmap.PROT_READ, mmap.MAP_PRIVATE | fixed, fd, 0)
        if anon in (None, ctypes.c_void_p(-1).value) or over != anon:
            raise OSError(ctypes.get_errno(), "mmap")
    os.close(fd)


def vm_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    reserve()
    partly()
    fully()
    small()
    replaced(sys.argv[1] + ".file")
    time.sleep(0.3)
    truth = {"mapped": {"reserve": 64 * MB, "partly": 64 * MB, "fully": 32 * MB},
             "touched": {"reserve": 0, "partly": 16 * MB, "fully": 32 * MB},
             "counted": {"reserve": 0, "partly": 16 * MB, "fully": 32 * MB, "small": 4 * MB,
                         "replaced": 0},
             "vm_rss_bytes": vm_rss()}
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)


if __name__ == "__main__":
    main()
