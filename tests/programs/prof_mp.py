"""multiprocessing: a fork Pool of 2 workers, each burning argv[1] seconds
(default 0.5) of CPU in mp_work().  A barrier makes each worker take one
task.  Prints {"parent": pid, "workers": {pid: {"wall": s, "cpu": s}}} as
JSON: each worker's own measure of its mp_work() call."""
import json
import multiprocessing
import os
import sys
import time

BARRIER = None


def init(barrier):
    global BARRIER
    BARRIER = barrier


def mp_work(seconds):
    t0, c0 = time.perf_counter(), time.process_time()
    BARRIER.wait(timeout=20)
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(500):
            x += i * i
    return os.getpid(), time.perf_counter() - t0, time.process_time() - c0


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    with ctx.Pool(2, initializer=init, initargs=(barrier,)) as pool:
        done = pool.map(mp_work, [seconds, seconds], chunksize=1)
    workers = {pid: {"wall": wall, "cpu": cpu} for pid, wall, cpu in done}
    print(json.dumps({"parent": os.getpid(), "workers": workers}), flush=True)
