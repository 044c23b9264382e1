"""Garbage-collection heavy: makes reference cycles in make_cycles() and
collects them with gc.collect() in collect_loop() for argv[1] seconds
(default 1.0).  Prints the number of objects collected."""
import gc
import sys
import time


class Node:
    def __init__(self, other=None):
        self.other = other
        self.payload = [self, {"k": self}]


def make_cycles(n):
    for _ in range(n):
        a = Node()
        b = Node(a)
        a.other = b


def collect_loop(seconds):
    end = time.perf_counter() + seconds
    collected = 0
    while time.perf_counter() < end:
        make_cycles(20000)
        collected += gc.collect()
    return collected


print(collect_loop(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0))
