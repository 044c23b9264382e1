"""stetho's demo: a little of everything a profiler should tell apart.

A thread computes (CPU, and the GIL it competes for), the main thread hashes
a buffer (C code), builds records (memory: some kept, some leaked), sleeps,
and reads from a pipe that a helper thread fills slowly (waiting on I/O).
"""
import hashlib
import os
import threading
import time


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def compute():
    return fib(27)


cache = []


def build_records():
    records = [{"id": i, "name": "item %d" % i, "tags": [i, i * 2]} for i in range(100_000)]
    cache.append(records[:20_000])          # kept until the end: a leak
    return len(records)


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
    build_records()
    time.sleep(0.2)
    read_pipe()
    worker.join()
    print("demo done")


if __name__ == "__main__":
    main()
