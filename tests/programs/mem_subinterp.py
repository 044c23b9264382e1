"""A thread that goes into a sub-interpreter and back: its allocations there
are the sub-interpreter's code's, not the main interpreter's caller's.

    mem_subinterp.py TRUTH.json

in_main_before, in_sub (defined and run inside a sub-interpreter, entered
twice from enter_sub), in_sub_thread (run in the same sub-interpreter from
another thread: 3.9-3.12 run it there under the interpreter's first thread
state, which names the main thread) and in_main_after (after the
sub-interpreter was destroyed) each make and keep 4,000 bytes objects of
2,000 bytes.  The truth file holds each function's bytes (sys.getsizeof;
the sub-interpreter's are measured there and passed back through a pipe).
"""
import json
import os
import sys
import threading

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
def {name}():
    out = [None] * len(INDICES)
    for i in INDICES:
        out[i] = bytes({size})
    return out
kept = [] if "kept" not in globals() else kept
kept.append({name}())
os.write({fd}, b"{name} " + str(sum(map(sys.getsizeof, kept[-1])) + sys.getsizeof(kept[-1])).encode() + b"\\n")
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


def enter_sub(iid, fd, name="in_sub"):
    interpreters.run_string(iid, SUB.format(n=N, size=SIZE, fd=fd, name=name))


def main():
    r, w = os.pipe()
    a = in_main_before()
    iid = interpreters.create()
    enter_sub(iid, w)
    enter_sub(iid, w)
    t = threading.Thread(target=enter_sub, args=(iid, w, "in_sub_thread"))
    t.start()
    t.join()
    os.close(w)
    truth = {"in_main_before": size(a)}
    for line in os.read(r, 4096).decode().split("\n"):
        if line:
            name, n = line.split()
            truth[name] = truth.get(name, 0) + int(n)
    interpreters.destroy(iid)   # its states freed: none of them is used after
    b = in_main_after()
    truth["in_main_after"] = size(b)
    with open(sys.argv[1], "w") as f:
        json.dump(truth, f)


main()
