"""Allocations whose attribution the agent tests check (see test_agent.py)."""
import ctypes
import json
import os
import sys


def big_bytearray():
    return bytearray(10_000_000)  # BIG_LINE


def many_bytes():
    return [bytes(1000) for _ in range(1000)]  # MANY_LINE


def native_malloc():
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    p = libc.malloc(5_000_000)  # NATIVE_LINE
    libc.free(p)
    return p


def main():
    b = big_bytearray()
    del b
    keep = many_bytes()
    addr = native_malloc()
    env = {k: v for k, v in os.environ.items() if k.startswith("STETHO") or k == "LD_PRELOAD"}
    print(json.dumps({"env": env, "n": len(keep)}))
    # for the test, not part of the compared output
    many = len(keep) * sys.getsizeof(keep[0]) + sys.getsizeof(keep)
    print(json.dumps({"native_addr": addr, "many_bytes": many}), file=sys.stderr)
    sys.stdout.flush()
    return 3


if __name__ == "__main__":
    sys.exit(main())
