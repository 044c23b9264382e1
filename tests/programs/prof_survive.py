"""Burns CPU in survive_burn() for argv[1] seconds, then writes "finished
<pid>" into the file argv[2] and exits 0.  Prints "READY <pid>" first."""
import os
import sys
import time


def survive_burn(seconds):
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(1000):
            x += i * i


print("READY", os.getpid(), flush=True)
survive_burn(float(sys.argv[1]))
# whole or not at all: the test reads it as soon as it is there
with open(sys.argv[2] + ".part", "w") as f:
    f.write(f"finished {os.getpid()}\n")
os.rename(sys.argv[2] + ".part", sys.argv[2])
