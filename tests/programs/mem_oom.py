"""Allocates 16 MiB bytearrays and keeps them until MemoryError (run it under
an address-space limit, RLIMIT_AS).  The MemoryError is not caught: Python
prints the traceback and exits 1.

    mem_oom.py TRUTH.json

Before each allocation it rewrites TRUTH.json with the bytes it holds (the
last value written is what it held when it failed).
"""
import json
import sys

CHUNK = 16 << 20
kept = []


def note(path):
    with open(path, "w") as f:
        json.dump({"held": sum(map(sys.getsizeof, kept)), "chunks": len(kept)}, f)


def hog(path):
    while True:
        note(path)
        kept.append(bytearray(CHUNK))


hog(sys.argv[1])
