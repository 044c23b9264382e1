"""stetho's demo: a little of everything a profiler should tell apart.

A thread computes (CPU), the main thread hashes a buffer (C code), sleeps,
and reads from a pipe that a helper thread fills slowly (waiting on I/O).
"""
import hashlib
import os
import threading
import time


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def compute():
    return fib(25)


def hash_data():
    data = b"x" * (32 << 20)
    return hashlib.sha256(data).hexdigest()


def slow_writer(fd):
    for _ in range(5):
        time.sleep(0.05)
        os.write(fd, b"tick\n")
    os.close(fd)


def read_pipe():
    r, w = os.pipe()
    threading.Thread(target=slow_writer, args=(w,), name="writer").start()
    with os.fdopen(r) as f:
        return f.read()


def main():
    worker = threading.Thread(target=compute, name="compute")
    worker.start()
    hash_data()
    time.sleep(0.2)
    read_pipe()
    worker.join()
    print("demo done")


if __name__ == "__main__":
    main()
