"""Spends argv[1] seconds (default 1.0) of CPU in burn_cpu(), prints done."""
import sys
import time


def burn_cpu(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


burn_cpu(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
print("done")
