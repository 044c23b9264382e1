"""A heap peak made by one allocation right after an idle second, in exact
mode: its time stamp must be the time it was made (the agent's coarse
stamps come from stetho's clock in the ring; a stale clock would date it
to before the idle spell).

usage: mem_after_idle.py OUT.json
Writes CLOCK_MONOTONIC seconds: "start" (first line of the program),
"before" and "after" the allocation that makes the peak.
"""
import json
import sys
import time


def main(out):
    start = time.clock_gettime(time.CLOCK_MONOTONIC)
    warm = [bytearray(200) for _ in range(50000)]   # chunks through the ring
    del warm
    time.sleep(1.0)
    before = time.clock_gettime(time.CLOCK_MONOTONIC)
    big = bytearray(96 << 20)                       # the peak, one event
    after = time.clock_gettime(time.CLOCK_MONOTONIC)
    del big
    time.sleep(0.05)
    with open(out, "w") as f:
        json.dump({"start": start, "before": before, "after": after}, f)


main(sys.argv[1])
