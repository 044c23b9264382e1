"""Live objects of known types and counts, for the type census.

Makes PAIRS reference cycles of two Leaf objects (kept alive in a list:
two Leaf per pair, no instance dict thanks to __slots__) and a dict cache
that grows by one small dict per add() call, CACHE of them.  Then it holds
them HOLD seconds, longer than stetho's census spacing (250 ms, up to ~1 s
when a census costs ~100 ms of CPU), so a census sees the end state, and
prints the expected figures as JSON.  Automatic collection stays on: the cycles are reachable,
nothing is collected.
"""
import json
import os
import time

PAIRS = int(os.environ.get("PAIRS", "20000"))
CACHE = int(os.environ.get("CACHE", "30000"))
HOLD = float(os.environ.get("HOLD", "2.5"))


class Leaf:
    __slots__ = ("other", "__weakref__")

    def __init__(self):
        self.other = None


def make_pairs(n):
    pairs = []
    for _ in range(n):
        a, b = Leaf(), Leaf()
        a.other, b.other = b, a
        pairs.append(a)
    return pairs


cache = {}


def add(i):
    cache[i] = {"value": i}


def main():
    pairs = make_pairs(PAIRS)
    for i in range(CACHE):
        add(i)
        if i % 1000 == 0:
            time.sleep(0.01)    # a growth over time, seen by several censuses
    time.sleep(HOLD)
    print(json.dumps({"leaf": 2 * len(pairs), "dicts": len(cache)}))


main()
