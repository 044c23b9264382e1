"""Allocations in a C extension (native_alloc.c) from known Python lines,
for tests/e2e/test_native_memory.py.

usage: native_alloc.py EXT_DIR OUT.json [numpy]
Writes the truth: each call's Python function and line, and its bytes.
"""
import inspect
import json
import sys

sys.path.insert(0, sys.argv[1])
import native_alloc  # noqa: E402

N, SIZE = 100, 256 * 1024
truth = {}


def line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, t in enumerate(lines) if text in t)


def leaks_malloc():
    native_alloc.leak_malloc(N, SIZE)


def leaks_pymem():
    native_alloc.leak_pymem(N, SIZE)


def churns():
    native_alloc.churn(N, SIZE)


def numpy_ones():
    import numpy as np
    global kept
    kept = np.ones(25 * 1024 * 1024 // 8)
    return kept.nbytes


leaks_malloc()
leaks_pymem()
churns()
truth["leaks_malloc"] = {"line": line_of(leaks_malloc, "leak_malloc("), "bytes": N * SIZE}
truth["leaks_pymem"] = {"line": line_of(leaks_pymem, "leak_pymem("), "bytes": N * SIZE}
truth["churns"] = {"line": line_of(churns, "churn("), "bytes": N * SIZE}
if len(sys.argv) > 3:
    truth["numpy_ones"] = {"line": line_of(numpy_ones, "np.ones("), "bytes": numpy_ones()}
with open(sys.argv[2], "w") as f:
    json.dump(truth, f)
