"""Behaviour under the memory agent.

    mem_behave.py ENV.json out      writes known bytes (not all UTF-8, no final
                                    newline) to stdout and a line to stderr,
                                    allocating in between; dumps its own
                                    environment and a child's to ENV.json;
                                    exits 3
    mem_behave.py ENV.json signal   installs a SIGTERM handler, prints READY,
                                    allocates until the signal arrives, then
                                    prints "GOT 15" and exits 42 (99 if no
                                    signal came within 30 s)
"""
import json
import os
import signal
import subprocess
import sys
import time

CHILD = "import json, os, sys; sys.stdout.write(json.dumps(dict(os.environ)))"


def churn(n):
    return [bytearray(4096) for _ in range(n)]


if sys.argv[2] == "out":
    out = sys.stdout.buffer
    for i in range(20):
        keep = churn(50)
        out.write(b"line %d \xff\xfe\x00 caf\xc3\xa9\n" % i)
    out.write(b"no newline at the end")
    out.flush()
    sys.stderr.write("this goes to stderr\n")
    sys.stderr.flush()
    child = subprocess.run([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                           timeout=20, check=True)
    with open(sys.argv[1], "w") as f:
        json.dump({"self": dict(os.environ), "child": json.loads(child.stdout)}, f)
    sys.exit(3)

got = []
signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
print("READY", os.getpid(), flush=True)
deadline = time.monotonic() + 30
while not got and time.monotonic() < deadline:
    keep = churn(20)
    time.sleep(0.005)
if got:
    print("GOT", got[0], flush=True)
    sys.exit(42)
print("no signal arrived", flush=True)
sys.exit(99)
