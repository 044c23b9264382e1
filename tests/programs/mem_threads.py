"""Four threads allocate known amounts at the same time, each in its own
function (worker_0 .. worker_3), then hold them until all are done.

    mem_threads.py TRUTH.json

Thread k makes 40*(k+1) bytearrays of 250,000 bytes and 2000*(k+1) bytes
objects of 1,000 bytes, yielding the GIL (time.sleep(0)) every few
allocations so the threads really interleave.  The truth file holds each
worker's native thread id and the bytes it allocated (sys.getsizeof,
measured after the threads joined, so the measuring is not counted).
"""
import json
import os
import sys
import threading
import time

BIG = 250_000
SMALL = 1_000
N = 4
START = threading.Barrier(N)
HOLD = threading.Barrier(N)
INDICES = list(range(2000 * N))          # no int objects made in the loops
kept = [None] * N
tids = [None] * N


def _work(k):
    tids[k] = threading.get_native_id()
    nbig = 40 * (k + 1)
    nsmall = 2000 * (k + 1)
    big = [None] * nbig
    small = [None] * nsmall
    START.wait()
    for i in INDICES[:nbig]:
        big[i] = bytearray(BIG)
        small[i] = bytes(SMALL)
        time.sleep(0)
    for i in INDICES[nbig:nsmall]:
        small[i] = bytes(SMALL)
        if not i & 63:
            time.sleep(0)
    kept[k] = (big, small)
    HOLD.wait()                 # every thread holds its memory here: the peak


def worker_0():
    _work(0)


def worker_1():
    _work(1)


def worker_2():
    _work(2)


def worker_3():
    _work(3)


threads = [threading.Thread(target=f, name=f.__name__)
           for f in (worker_0, worker_1, worker_2, worker_3)]
for t in threads:
    t.start()
for t in threads:
    t.join()

truth = {}
for k in range(N):
    big, small = kept[k]
    size = (sys.getsizeof(big) + sys.getsizeof(small) + sum(map(sys.getsizeof, big))
            + sum(map(sys.getsizeof, small)))
    truth[f"worker_{k}"] = {"tid": tids[k], "alloc": size}
kept = big = small = None
with open(sys.argv[1], "w") as f:
    json.dump({"pid": os.getpid(), "workers": truth}, f)
print("done", flush=True)
