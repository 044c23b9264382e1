"""A program that closes every descriptor it did not open itself, as a
daemon does, and takes the low numbers again with files of its own: what
it allocates after is recorded as what it allocated before.

    mem_closefds.py TRUTH.json DECOY

before() and after() each make and keep 4,000 bytes objects of 2,000 bytes
(a list made once: no growth by realloc); between them the program closes
descriptors 3 and up, opens /dev/null 64 times, puts the file DECOY under
every number the agent takes for its FIFO (1000, 500, 200, 100: the next
number it opens should not be one of them for the test to mean much, so
the program takes them all), and allocates for a quarter of a second
(churn: the agent notices a lost FIFO within ~100 ms of its chunks' time
in exact mode).  DECOY must stay empty.  The truth file holds each
function's bytes (sys.getsizeof).
"""
import json
import os
import sys
import time

N = 4_000
SIZE = 2_000
INDICES = list(range(N))


def before():
    out = [None] * N
    for i in INDICES:
        out[i] = bytes(SIZE)
    return out


def after():
    out = [None] * N
    for i in INDICES:
        out[i] = bytes(SIZE)
    return out


def churn():
    start = time.monotonic()
    while time.monotonic() - start < 0.25:
        [str(i) for i in INDICES]


def size(lst):
    return sum(map(sys.getsizeof, lst)) + sys.getsizeof(lst)


path = sys.argv[1]
a = before()
os.closerange(3, os.sysconf("SC_OPEN_MAX"))
mine = [os.open(os.devnull, os.O_RDONLY) for _ in range(64)]
decoy = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
for n in (1000, 500, 200, 100):
    os.dup2(decoy, n)
churn()
b = after()
with open(path, "w") as f:
    json.dump({"before": size(a), "after": size(b)}, f)
