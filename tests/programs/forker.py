"""os.fork(): child prints and exits 7; parent waits, reports, exits 5."""
import os
import sys

sys.stdout.flush()
pid = os.fork()
if pid == 0:
    print("child says hi", flush=True)
    os._exit(7)
_, status = os.waitpid(pid, 0)
print("parent saw child exit", os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1, flush=True)
sys.exit(5)
