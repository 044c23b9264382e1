"""An allocation storm between two timed phases, or at the very end.

    mem_storm.py TRUTH.json middle|end

"middle": quiet_before() sleeps, storm() makes a million small tuples
(three allocations each, about 3M events: far more than stetho decodes in
real time in exact mode), quiet_after() sleeps.  "end": quiet_before(), then
the storm is the last thing the program does.  The program measures each
phase's wall time itself (perf_counter), and its own peak RSS (ru_maxrss and
VmHWM), and writes them to TRUTH.json.
"""
import json
import resource
import sys
import time

QUIET = 0.5


def quiet_before():
    time.sleep(QUIET)


def storm():
    return [(i, i + 1) for i in range(1_000_000)]


def quiet_after():
    time.sleep(QUIET)


def vm_hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    out, where = sys.argv[1], sys.argv[2]
    phases = [quiet_before, storm] + ([quiet_after] if where == "middle" else [])
    walls, keep = {}, []
    for f in phases:
        t0 = time.perf_counter()
        keep.append(f())
        walls[f.__name__] = time.perf_counter() - t0
    truth = {"wall_s": walls,
             "ru_maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
             "vm_hwm_bytes": vm_hwm()}
    with open(out, "w") as f:
        json.dump(truth, f)


main()
