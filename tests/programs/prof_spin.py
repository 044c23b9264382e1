"""Burns CPU in spin_here() until told to stop, answering on stdin.

Prints "READY <pid>" first.  Each line on stdin: "ping" -> prints
"pong <iterations>"; "quit" (or end of input) -> exits with status 7.
Gives up by itself after argv[1] seconds (default 60) with status 3.
"""
import os
import select
import sys
import time


def spin_here(limit):
    end = time.monotonic() + limit
    n = 0
    pending = b""
    while time.monotonic() < end:
        x = 0
        for i in range(3000):
            x += i * i
        n += 1
        if select.select([0], [], [], 0)[0]:
            data = os.read(0, 4096)
            if not data:
                return 7
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if line.strip() == b"ping":
                    print("pong", n, flush=True)
                elif line.strip() == b"quit":
                    return 7
    return 3


print("READY", os.getpid(), flush=True)
sys.exit(spin_here(float(sys.argv[1]) if len(sys.argv) > 1 else 60.0))
