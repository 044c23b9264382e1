"""Signal behaviour.

  signals.py handler   installs handlers for SIGTERM/SIGINT/SIGHUP that print
                       "GOT <signum>" and exit 0
  signals.py default   keeps the default dispositions

Either way prints "READY" once set up and then waits (at most 30 s, then
exits 99 so a lost signal is visible rather than a hang)."""
import os
import signal
import sys
import time

if sys.argv[1] == "handler":
    def on_signal(signum, frame):
        print("GOT", signum, flush=True)
        os._exit(0)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

print("READY", os.getpid(), flush=True)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    time.sleep(0.05)
print("no signal arrived", flush=True)
sys.exit(99)
