"""A program in two phases, for exact mode's frame-evaluation hook
(src/agent/evalhook.c), which weighs what it costs (every call) against
what it saves (the frames an allocation's walk is spared): first many calls
and no allocation, then allocations 40 frames deep and few calls.  Prints
one JSON object: whether the interpreter's own frame evaluation was in
place (no hook) at the start, after each phase; tests/e2e/test_evalhook.py."""
import json

from evalframe import deep, own_evaluation


def add(a, b):
    return a + b


def calls_only(n):
    t = 0
    for i in range(n):
        t = add(t, i & 7)
    return t


start = own_evaluation()
calls_only(300_000)
after_calls = own_evaluation()
for _ in range(40):
    deep(40, 20_000)
after_allocs = own_evaluation()
print(json.dumps({"start": start, "after_calls": after_calls, "after_allocs": after_allocs}))
