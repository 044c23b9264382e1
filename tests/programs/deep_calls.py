"""Deep Python recursion, in the main thread and in a thread with a small C
stack, with an allocation at the bottom of each: tests/e2e/test_evalhook.py.

From 3.11 a Python-to-Python call does not use the C stack, so these depths
run without stetho (and from 3.12 do not count against the C recursion
limit); exact mode's frame-evaluation hook makes each call go through C and
must step aside before that matters.  Prints one JSON object."""
import json
import sys
import threading

INLINE = sys.version_info >= (3, 11)
MAIN_DEPTH = 3000 if INLINE else 2000
THREAD_DEPTH = 3000 if INLINE else 100
BOTTOM = 123457


def bottom():
    return bytearray(BOTTOM)


def down(n):
    if n == 0:
        return bottom()
    return down(n - 1)


def run(depth, out):
    out.append(len(down(depth)))


sys.setrecursionlimit(MAIN_DEPTH + 1000)
out = []
run(MAIN_DEPTH, out)
threading.stack_size(256 * 1024)
t = threading.Thread(target=run, args=(THREAD_DEPTH, out))
t.start()
t.join()
print(json.dumps({"sizes": out, "main_depth": MAIN_DEPTH, "thread_depth": THREAD_DEPTH,
                  "bottom": BOTTOM}))
