"""Calls into tests/programs/native_burn.c: py_caller -> burn -> burn_a -> burn_b.

Usage: native_burn.py EXTENSION_DIR SECONDS [sleeper]
With "sleeper", a second thread sleeps meanwhile, 0.2 s at a time, in
sleeper (a thread blocked in a system call, for the native unwinds of
blocked threads).  Prints READY {"pid", "file", "caller_line",
"outer_line", "module_line", "sleep_line"} just before the call.
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, sys.argv[1])
import native_burn  # noqa: E402

SECONDS = float(sys.argv[2])


def py_caller():
    native_burn.burn(SECONDS)  # CALLER


def sleeper():
    while True:
        time.sleep(0.2)  # SLEEP


def outer():
    py_caller()  # OUTER


def line_of(mark):
    with open(__file__) as f:
        return next(i for i, l in enumerate(f, 1) if l.rstrip().endswith("# " + mark))


if sys.argv[3:] == ["sleeper"]:
    threading.Thread(target=sleeper, name="sleeper", daemon=True).start()
print("READY " + json.dumps({"pid": os.getpid(), "file": os.path.abspath(__file__),
                             "caller_line": line_of("CALLER"), "outer_line": line_of("OUTER"),
                             "module_line": line_of("MODULE"),
                             "sleep_line": line_of("SLEEP")}), flush=True)
outer()  # MODULE
