"""Stops itself with SIGSTOP; once continued prints "resumed", exits 0."""
import os
import signal

print("STOPPING", os.getpid(), flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
print("resumed", flush=True)
