"""A target for `stetho top`: one thread burns CPU in burn_cpu, the main
thread sleeps in wait_forever.  Prints READY, then runs until killed (or
for argv[1] seconds, then exits); it also exits when the process that
started it is gone, so a killed test run leaves no spinning target."""
import os
import sys
import threading
import time


def burn_cpu():
    x = 0
    while True:
        for i in range(10000):
            x += i * i  # BURN_LINE


def wait_forever(seconds):
    end, parent = time.monotonic() + seconds, os.getppid()
    while time.monotonic() < end and os.getppid() == parent:
        time.sleep(0.05)


if __name__ == "__main__":
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1e9
    threading.Thread(target=burn_cpu, name="burner", daemon=True).start()
    print("READY", flush=True)
    wait_forever(seconds)
