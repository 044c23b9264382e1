"""Anonymous mappings made, touched, cut and replaced through libc (ctypes),
for the agent's own measures of them (RESIDENT records, src/agent/mappings.c).

    mapper.py [exit]

Prints a JSON object of the addresses it used.  MiB figures are touched
bytes.  whole: 8 mapped, 2 touched, unmapped.  cut: 8 mapped and touched,
its last 2 unmapped (6 left), then 2 in its middle (4 left), then its first
2 (stetho takes an unmap at its start as the whole).  fixed: 4 mapped and
touched, then replaced by a MAP_FIXED anonymous mapping of 4 untouched,
unmapped.  kept: 4 mapped, 1 touched, left to the end, which is the
interpreter's finalization, or os._exit with "exit".
"""
import ctypes
import json
import mmap
import os
import sys

MB = 1 << 20
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long)
libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
RW = mmap.PROT_READ | mmap.PROT_WRITE
ANON = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
MAP_FIXED = 0x10


def new(size, at=None, flags=0):
    p = libc.mmap(at, size, RW, ANON | flags, -1, 0)
    if p in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap")
    return p


def unmap(p, size):
    if libc.munmap(p, size) != 0:
        raise OSError(ctypes.get_errno(), "munmap")


def main():
    out = {}
    p = out["whole"] = new(8 * MB)
    ctypes.memset(p, 1, 2 * MB)
    unmap(p, 8 * MB)

    p = out["cut"] = new(8 * MB)
    ctypes.memset(p, 1, 8 * MB)
    unmap(p + 6 * MB, 2 * MB)
    unmap(p + 2 * MB, 2 * MB)
    unmap(p, 2 * MB)
    unmap(p + 4 * MB, 2 * MB)

    p = out["fixed"] = new(4 * MB)
    ctypes.memset(p, 1, 4 * MB)
    new(4 * MB, p, MAP_FIXED)
    unmap(p, 4 * MB)

    p = out["kept"] = new(4 * MB)
    ctypes.memset(p, 1, 1 * MB)
    print(json.dumps(out), flush=True)
    if sys.argv[1:] == ["exit"]:
        os._exit(0)


main()
