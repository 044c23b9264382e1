"""Calls tests/programs/native_spin.cpp's ns::Klass::spin(int) through the
native_burn extension: spin_caller -> native_burn.spin -> ns::Klass::spin.

Usage: native_spin.py EXTENSION_DIR SECONDS
Prints READY {"pid", "caller_line"} just before the call.
"""
import json
import os
import sys

sys.path.insert(0, sys.argv[1])
import native_burn  # noqa: E402

MS = int(float(sys.argv[2]) * 1000)


def spin_caller():
    native_burn.spin(MS)  # CALLER


with open(__file__) as f:
    CALLER = next(i for i, l in enumerate(f, 1) if l.rstrip().endswith("# CALLER"))
print("READY " + json.dumps({"pid": os.getpid(), "caller_line": CALLER}), flush=True)
spin_caller()
