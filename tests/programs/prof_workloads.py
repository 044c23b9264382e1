"""Known workloads that time themselves, for stetho's accuracy tests.

usage: prof_workloads.py RESULT_JSON [NAME[=SECONDS] ...]

Runs each named workload (default: all, ~1 s each) one after another and
writes, as JSON to RESULT_JSON, what each measured of itself:
{name: {"wall": s, "cpu": s (this thread's CPU time), "runq": s (time this
thread waited for a CPU, from /proc schedstat; null if unavailable)}}.
With PROF_PIN_CPU=N in the environment it first moves itself to CPU N.
"""
import hashlib
import json
import os
import sys
import threading
import time


def burn_python(seconds):
    t0 = time.perf_counter()
    end = t0 + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(2000):
            x += i * i
    return time.perf_counter() - t0


def hash_c(seconds):
    t0 = time.perf_counter()
    buf = b"\x5a" * (4 << 20)
    end = t0 + seconds
    while time.perf_counter() < end:
        hashlib.sha256(buf).digest()
    return time.perf_counter() - t0


def syscalls(seconds):
    t0 = time.perf_counter()
    buf = bytearray(1 << 20)
    fd = os.open("/dev/zero", os.O_RDONLY)
    try:
        end = t0 + seconds
        while time.perf_counter() < end:
            for _ in range(20):
                os.readv(fd, [buf])
    finally:
        os.close(fd)
    return time.perf_counter() - t0


def sleeper(seconds):
    t0 = time.perf_counter()
    for _ in range(10):
        time.sleep(seconds / 10)
    return time.perf_counter() - t0


def pipe_feeder(wfd, seconds):
    for _ in range(10):
        time.sleep(seconds / 10)
        os.write(wfd, b"x" * 100)
    os.close(wfd)


def pipe_reader(seconds):
    t0 = time.perf_counter()
    r, w = os.pipe()
    t = threading.Thread(target=pipe_feeder, args=(w, seconds))
    t.start()
    got = 0
    while True:
        data = os.read(r, 65536)
        if not data:
            break
        got += len(data)
    os.close(r)
    t.join()
    assert got == 1000, got
    return time.perf_counter() - t0


WORKLOADS = {f.__name__: f for f in (burn_python, hash_c, syscalls, sleeper, pipe_reader)}


def runq_s():
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def main():
    pin = os.environ.get("PROF_PIN_CPU")    # run on this CPU only (a test aid)
    if pin is not None:
        os.sched_setaffinity(0, {int(pin)})
    out = sys.argv[1]
    names = sys.argv[2:] or list(WORKLOADS)
    results = {}
    for spec in names:
        name, _, secs = spec.partition("=")
        c0, q0 = time.thread_time(), runq_s()
        wall = WORKLOADS[name](float(secs or 1.0))
        c1, q1 = time.thread_time(), runq_s()
        results[name] = {"wall": wall, "cpu": c1 - c0,
                         "runq": None if q0 is None or q1 is None else q1 - q0}
    with open(out, "w") as f:
        json.dump(results, f)


main()
