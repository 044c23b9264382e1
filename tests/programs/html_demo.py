"""A small program for the HTML report's test (tests/e2e/test_html.py).

Two threads and known functions: the main thread spends its CPU in
leaf(), called from caller_a() and caller_b(); the "sleeper" thread
sleeps in nap().  Runs for about DURATION seconds (argv[1]).
"""
import sys
import threading
import time

DURATION = float(sys.argv[1]) if len(sys.argv) > 1 else 1.5


def leaf(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def caller_a():
    return leaf(40000)


def caller_b():
    return leaf(20000)


def nap():
    time.sleep(0.02)


def sleeper(stop):
    while not stop.is_set():
        nap()


def main():
    stop = threading.Event()
    t = threading.Thread(target=sleeper, args=(stop,), name="sleeper")
    t.start()
    deadline = time.monotonic() + DURATION
    while time.monotonic() < deadline:
        caller_a()
        caller_b()
    stop.set()
    t.join()


if __name__ == "__main__":
    main()
