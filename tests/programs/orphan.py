"""Starts a `sleep 30` that inherits stdout/stderr, then exits 0 at once."""
import subprocess

p = subprocess.Popen(["sleep", "30"])
print("spawned", p.pid, flush=True)
