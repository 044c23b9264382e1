"""A thread that goes into a sub-interpreter and back: its allocations there
are the sub-interpreter's code's, not the main interpreter's caller's.

    mem_subinterp.py TRUTH.json

in_main_before, in_sub (defined and run inside a sub-interpreter, entered
twice from enter_sub) and in_main_after each make and keep 4,000 bytes
objects of 2,000 bytes, then the program holds them all.  The truth file
holds each function's bytes (sys.getsizeof, measured at the end; the
sub-interpreter's are measured there and passed back through a pipe).
"""
import json
import os
import sys

try:
    import _interpreters as interpreters        # 3.13
except ImportError:
    import _xxsubinterpreters as interpreters   # 3.9-3.12

N = 4_000
SIZE = 2_000
INDICES = list(range(N))

SUB = """
import os, sys
INDICES = list(range({n}))
def in_sub():
    out = [None] * len(INDICES)
    for i in INDICES:
        out[i] = bytes({size})
    return out
kept = [] if "kept" not in globals() else kept
kept.append(in_sub())
os.write({fd}, str(sum(map(sys.getsizeof, kept[-1])) + sys.getsizeof(kept[-1])).encode() + b"\\n")
"""


def in_main_before():
    out = [None] * N            # made once: no growth by realloc to count
    for i in INDICES:
        out[i] = bytes(SIZE)
    return out


def in_main_after():
    out = [None] * N
    for i in INDICES:
        out[i] = bytes(SIZE)
    return out


def size(lst):
    return sum(map(sys.getsizeof, lst)) + sys.getsizeof(lst)


def enter_sub(iid, fd):
    interpreters.run_string(iid, SUB.format(n=N, size=SIZE, fd=fd))


def main():
    r, w = os.pipe()
    a = in_main_before()
    iid = interpreters.create()
    enter_sub(iid, w)
    b = in_main_after()
    enter_sub(iid, w)
    os.close(w)
    sub = sum(int(x) for x in os.read(r, 4096).split())
    truth = {"in_main_before": size(a), "in_main_after": size(b), "in_sub": sub}
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)
    interpreters.destroy(iid)


main()
