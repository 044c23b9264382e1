"""A program with a known regression for `stetho diff` and `stetho check`.

steady() does the same work in every run; regressed() does the same loop
WORK times (environment variable, default 1), so WORK=2 doubles
regressed()'s time and nothing else.  main() holds a 4 MiB bytearray per
unit of work until the end, so memory budgets have something to measure.
It prints the CPU time each took, as the thread's own clock measured it.
LOOPS (default 5000000: about half a second each) scales both loops; a
short sleep first keeps the interpreter's start-up out of steady()'s
first sample.
"""
import os
import time

WORK = int(os.environ.get("WORK", "1"))
LOOPS = int(os.environ.get("LOOPS", "5000000"))


def steady():
    s = 0
    for i in range(LOOPS):
        s += i * i
    return s


def regressed():
    s = 0
    for _ in range(WORK):
        for i in range(LOOPS):
            s += i * i
    return s


def timed(f):
    t = time.thread_time()
    f()
    return time.thread_time() - t


def main():
    time.sleep(0.05)
    held = [bytearray(4 << 20) for _ in range(WORK)]
    a = timed(steady)
    b = timed(regressed)
    print("done", len(held))
    print(f"cpu steady={a:.6f} regressed={b:.6f}")


main()
