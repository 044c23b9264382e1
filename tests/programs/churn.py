"""Threads that never block: they recurse up and down through pure-Python
functions so their stacks change all the time.

Usage: python churn.py [n_threads] [timeout_seconds]
Prints "READY <json>" (pid, version, file, native ids of churn threads and
main), then the main thread waits in select() on stdin until it closes."""
import json
import os
import platform
import select
import sys
import threading


def spin(n):
    x = 0
    for i in range(n):
        x += i
    return x


def descend(depth, seed):
    if depth > 0:
        return descend(depth - 1, seed) + 1
    return spin(50 + seed % 50)


def churn_loop(seed):
    depth = 1
    while True:
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        depth = 1 + seed % 40
        descend(depth, seed)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 600.0
    threads = [threading.Thread(target=churn_loop, args=(i + 1,), daemon=True)
               for i in range(n)]
    for t in threads:
        t.start()
    info = {"pid": os.getpid(), "version": platform.python_version(),
            "file": spin.__code__.co_filename,
            "churn_tids": [t.native_id for t in threads],
            "main_tid": threading.get_native_id()}
    os.write(1, ("READY " + json.dumps(info) + "\n").encode())
    select.select([sys.stdin], [], [], timeout)


main()
