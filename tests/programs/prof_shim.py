"""Instantiates a class with a Python __init__ in a hot loop (make_objects)
for argv[1] seconds (default 0.5), so that 3.13+ specializes the call
(CALL_ALLOC_AND_ENTER_INIT, which runs __init__ under an internal shim
frame that Python itself never shows).  Prints the object count."""
import sys
import time


class Thing:
    def __init__(self, n):
        total = 0
        for i in range(50):
            total += i * n
        self.total = total


def make_objects(seconds):
    end = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < end:
        for n in range(100):
            Thing(n)
        count += 100
    return count


print(make_objects(float(sys.argv[1]) if len(sys.argv) > 1 else 0.5))
