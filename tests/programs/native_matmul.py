"""numpy's matrix product in a loop, for tests/e2e/test_native.py.

Prints READY {"pid", "file", "line"} (line: the product's line) first.
"""
import json
import os
import sys

import numpy as np

a = np.random.rand(400, 400)


def matmul_loop(seconds):
    import time
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        a @ a  # MATMUL


with open(__file__) as f:
    LINE = next(i for i, l in enumerate(f, 1) if l.rstrip().endswith("# MATMUL"))
print("READY " + json.dumps({"pid": os.getpid(), "file": os.path.abspath(__file__),
                             "line": LINE}), flush=True)
matmul_loop(float(sys.argv[1]))
