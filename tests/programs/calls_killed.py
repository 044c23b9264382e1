"""Workload for tests/e2e/test_calls.py: counted calls, then SIGKILL.

Calls w_tick() in a loop for argv[2] seconds (monotonic), appending
"seconds calls" to the file argv[1] every 0.1 s and at the end (after the
calls it counts), then kills itself with SIGKILL: nothing runs at exit.
"""
import os
import signal
import sys
import time


def w_tick(n):
    return n + 1


def main():
    out, seconds = sys.argv[1], float(sys.argv[2])
    start = time.monotonic()
    calls, mark = 0, start
    with open(out, "w", buffering=1) as f:
        while True:
            for _ in range(200):
                calls = w_tick(calls)
            now = time.monotonic()
            if now - mark >= 0.1 or now - start >= seconds:
                f.write(f"{now - start:.3f} {calls}\n")
                mark = now
            if now - start >= seconds:
                break
    os.kill(os.getpid(), signal.SIGKILL)


main()
