"""Workload for tests/e2e/test_calls.py: the Python API's calls=True.

Runs calls_workload.w_suite() once inside `stetho.profile(calls=True,
memory=argv[2], output=argv[1])`, then once more under cProfile (enabled
and disabled around it, in this process), whose stats go to argv[3]: the
counts of the two windows must be the same.
"""
import cProfile
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import stetho  # noqa: E402
import calls_workload as w  # noqa: E402

cap, memory, ref = sys.argv[1:4]
with stetho.profile(memory=memory, calls=True, output=cap):
    w.w_suite()
prof = cProfile.Profile()
prof.enable()
w.w_suite()
prof.disable()
prof.dump_stats(ref)
