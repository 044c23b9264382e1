"""multiprocessing: a fork Pool of 2 workers, each burning argv[1] seconds
(default 0.5) of CPU in mp_work().  A barrier makes each worker take one
task.  Prints {"parent": pid, "workers": [pids that ran mp_work]} as JSON."""
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
    BARRIER.wait(timeout=20)
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(500):
            x += i * i
    return os.getpid()


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    with ctx.Pool(2, initializer=init, initargs=(barrier,)) as pool:
        pids = pool.map(mp_work, [seconds, seconds], chunksize=1)
    print(json.dumps({"parent": os.getpid(), "workers": sorted(set(pids))}), flush=True)
