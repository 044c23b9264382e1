"""A small profile with a clear shape, for report tests: hot_loop() burns
~0.7 s of CPU, cold_helper() ~0.25 s inside the standard library
(textwrap), nap() sleeps ~0.3 s.  Scale with argv[1] (default 1.0)."""
import sys
import textwrap
import time

TEXT = " ".join(f"word{i}" for i in range(400))


def hot_loop(seconds):
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(1000):
            x += i * i
    return x


def cold_helper(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += len(textwrap.wrap(TEXT, width=37))
    return n


def nap(seconds):
    time.sleep(seconds)


scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
hot_loop(0.7 * scale)
cold_helper(0.25 * scale)
nap(0.3 * scale)
print("done")
