"""Collections of every generation, for the GC pause histogram.

Reads gc.get_stats() (S0), makes ROUNDS rounds of reference-cycle garbage
collected by hand in each generation (gc.collect(0), (1), (2)) with the
automatic collector on as well, reads gc.get_stats() again (S1), and
prints both as JSON.  stetho's agent times every collection after it
installed its callback (at the interpreter's start, before S0), so its
count per generation is between S1 - S0 and S1.
"""
import gc
import json
import os

ROUNDS = int(os.environ.get("ROUNDS", "20"))


class Node:
    def __init__(self):
        self.other = None


def garbage(n):
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a


def main():
    s0 = gc.get_stats()
    for _ in range(ROUNDS):
        for gen in (0, 1, 2):
            garbage(500)
            gc.collect(gen)
    s1 = gc.get_stats()
    print(json.dumps({"s0": s0, "s1": s1}))
    os._exit(0)     # no collection while finalizing (3.12+ makes one)


main()
