"""Workload for tests/e2e/test_calls.py: every kind of call cProfile counts.

Runs suite() in the main thread and (unless CALLS_NO_THREAD is set) once
more in a thread started afterwards, so each workload function's counts
are exactly twice those of one suite() -- what cProfile, which sees only the
thread it was enabled in, counts with CALLS_NO_THREAD=1.  Workload functions
are named w_*.  w_spin busy-loops and times itself; the total goes to the
JSON file named by argv[1] (the program's own timing).
"""
import json
import os
import sys
import threading
import time

spun = [0.0]


def w_fib(n):
    return n if n < 2 else w_fib(n - 1) + w_fib(n - 2)


def w_even(n):
    return True if n == 0 else w_odd(n - 1)


def w_odd(n):
    return False if n == 0 else w_even(n - 1)


def w_gen(n):
    for i in range(n):
        yield i * i


def w_consume():
    return sum(w_gen(40)) + len(list(w_gen(7)))


class Step:
    def __await__(self):
        yield "step"


async def w_inner(k):
    for _ in range(k):
        await Step()
    return k


async def w_coro():
    total = 0
    for k in range(5):
        total += await w_inner(k)
    return total


def w_drive():
    c = w_coro()
    try:
        while True:
            c.send(None)
    except StopIteration as e:
        return e.value


def w_raise(i):
    raise KeyError(i)


def w_middle(i):
    return w_raise(i)


def w_catch():
    caught = 0
    for i in range(9):
        try:
            w_middle(i)
        except KeyError:
            caught += 1
    return caught


def w_builtins():
    out = []
    for i in range(300):
        out.append(len(str(i)))
    d = {}
    for i in range(50):
        d.setdefault(i % 7, []).append(i)
    return sorted(out, key=abs)[:3], isinstance(d, dict), max(out), min(out)


def w_spin(seconds):
    t0 = time.perf_counter()
    x = 0
    while time.perf_counter() - t0 < seconds:
        x += 1
    spun[0] += time.perf_counter() - t0
    return x


def w_suite():
    w_fib(16)
    w_even(41)
    w_consume()
    w_drive()
    w_catch()
    w_builtins()
    for _ in range(4):
        w_spin(0.05)


def main():
    w_suite()
    if not os.environ.get("CALLS_NO_THREAD"):
        t = threading.Thread(target=w_suite)
        t.start()
        t.join()
    with open(sys.argv[1], "w") as f:
        json.dump({"spin_seconds": spun[0]}, f)


if __name__ == "__main__":        # tests/programs/calls_api.py imports it
    main()
