"""Allocates steadily, then kills itself with SIGKILL (status 137).

    mem_killself.py TRUTH.json [STEPS]

grow() makes STEPS (default 100) bytearrays of 1 MiB, one every 10 ms, and
keeps them; before the kill the program writes the bytes it holds and how
long the growth took to TRUTH.json.
"""
import json
import os
import signal
import sys
import time

MB = 1 << 20


def grow(steps, kept):
    for i in range(steps):
        kept.append(bytearray(MB))
        time.sleep(0.01)


steps = int(sys.argv[2]) if len(sys.argv) > 2 else 100
kept = []
t0 = time.monotonic()
grow(steps, kept)
took = time.monotonic() - t0
held = sum(map(sys.getsizeof, kept))
with open(sys.argv[1], "w") as f:
    json.dump({"pid": os.getpid(), "held": held, "steps": steps, "seconds": took}, f)
print("killing myself", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
time.sleep(5)
print("still alive", flush=True)
