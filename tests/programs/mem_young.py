"""Small blocks that die young, and some that stay: what the agent's
nursery (src/agent/nursery.h) sums or lets go, with the truth written to
argv[1] as JSON.

churn() makes N bytes objects of 2..478 payload bytes (each one block of
sys.getsizeof bytes, at most 512) and drops each at once: N allocations,
all temporaries.  keep() makes K of them into a list made beforehand
(K allocations, no temporary: each is kept).  mixed() alternates: a kept
one, then two dropped (the second of each pair is freed before anything
else is allocated, a temporary; the first is freed after the second was
made, not one).  Nothing else allocates in these loops: the sizes, the
indices (ints above 256 are objects) and the lists are made at module
level.
"""
import gc
import json
import sys

N = 200_000
K = 20_000
SIZES = [2 + (i * 7919) % 477 for i in range(N)]
KEPT = [None] * K
MIXED = [None] * K
KEEP_ARGS = [(i, SIZES[i]) for i in range(K)]
MIXED_ARGS = [(i, SIZES[i], SIZES[i + 1], SIZES[i + 2]) for i in range(K)]
truth = {}


def churn():
    for s in SIZES:
        bytes(s)


def keep():
    for i, s in KEEP_ARGS:
        KEPT[i] = bytes(s)


def mixed():
    for i, s0, s1, s2 in MIXED_ARGS:
        MIXED[i] = bytes(s0)
        a = bytes(s1)
        b = bytes(s2)               # a is freed after b was made: not a temporary
        del a
        del b                       # b: the last allocation, freed -- a temporary


def size(s):
    return sys.getsizeof(bytes(s))


gc.disable()
churn()
keep()
mixed()
truth["churn"] = {"count": N, "bytes": sum(size(s) for s in SIZES), "temporary": N}
kept = sum(size(SIZES[i]) for i in range(K))
truth["keep"] = {"count": K, "bytes": kept, "temporary": 0, "leaked": kept}
truth["mixed"] = {"count": 3 * K,
                  "bytes": sum(size(SIZES[i]) + size(SIZES[i + 1]) + size(SIZES[i + 2])
                               for i in range(K)),
                  "temporary": K, "leaked": kept}
with open(sys.argv[1], "w") as f:
    json.dump(truth, f)
