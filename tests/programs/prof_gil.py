"""Two threads burn Python CPU at the same time, each in gil_burner().

usage: prof_gil.py RESULT_JSON [SECONDS]

Writes {"pid": pid, "gil_enabled": bool, "threads": [{"tid": native id,
"life": seconds the thread's function ran, "cpu": its CPU seconds, "runq":
seconds it waited for a CPU (schedstat; null if unavailable)}, ...]}.
"""
import json
import os
import sys
import threading
import time

SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
start = threading.Barrier(2, timeout=20)
results = []
lock = threading.Lock()


def runq_s():
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def gil_burner(seconds):
    t0 = time.perf_counter()
    c0, q0 = time.thread_time(), runq_s()
    start.wait()
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(500):
            x += i * i
    c1, q1 = time.thread_time(), runq_s()
    life = time.perf_counter() - t0
    with lock:
        results.append({"tid": threading.get_native_id(), "life": life, "cpu": c1 - c0,
                        "runq": None if q0 is None or q1 is None else q1 - q0})


threads = [threading.Thread(target=gil_burner, args=(SECONDS,), name=f"burner-{k}")
           for k in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
gil_enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
with open(sys.argv[1], "w") as f:
    json.dump({"pid": os.getpid(), "gil_enabled": gil_enabled, "threads": results}, f)
