"""Two timed phases: phase_a() and phase_b() sleep SECONDS each.

    two_sleeps.py TRUTH.json SECONDS

Prints READY (flushed) just before phase_a, then writes each phase's wall
time as it measured it (perf_counter) to TRUTH.json.
"""
import json
import sys
import time


def phase_a(t):
    time.sleep(t)


def phase_b(t):
    time.sleep(t)


def main():
    out, t = sys.argv[1], float(sys.argv[2])
    walls = {}
    print("READY", flush=True)
    for f in (phase_a, phase_b):
        t0 = time.perf_counter()
        f(t)
        walls[f.__name__] = time.perf_counter() - t0
    with open(out, "w") as f:
        json.dump({"wall_s": walls}, f)


main()
