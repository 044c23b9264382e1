"""Allocates, then replaces itself with another Python (os.execv)."""
import os
import sys


def before_exec():
    return bytearray(4_000_000)  # BEFORE_LINE


if __name__ == "__main__":
    if len(sys.argv) > 1:
        b = bytearray(6_000_000)
        print("after", len(b))
        sys.exit(0)
    keep = before_exec()
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, __file__, "again"])
