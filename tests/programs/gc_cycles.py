"""Reference cycles of a known count, for the garbage collector's report.

With automatic collection off, it makes PAIRS cycles of two Node objects
and FINS self-referencing objects with a __del__ (which CPython 3.4+
collects: PEP 442), collects once by hand, waits a moment (so the sampler
reads the counters after the collection), prints gc.get_stats() as JSON --
stetho's last reading must be the same -- and leaves without finalizing.
"""
import gc
import json
import os
import time

PAIRS = int(os.environ.get("PAIRS", "10000"))
FINS = int(os.environ.get("FINS", "5000"))


class Node:
    def __init__(self):
        self.other = None


class Fin:
    def __init__(self):
        self.me = self

    def __del__(self):
        pass


def make():
    for _ in range(PAIRS):
        a, b = Node(), Node()
        a.other, b.other = b, a
    for _ in range(FINS):
        Fin()


gc.disable()
make()
print("collected", gc.collect(), flush=True)
time.sleep(0.2)
print(json.dumps(gc.get_stats()), flush=True)
time.sleep(0.2)        # the sampler reads them once more, unchanged
os._exit(0)            # no collection at finalization (3.12 makes one)
