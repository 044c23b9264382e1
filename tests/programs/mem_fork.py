"""os.fork() with memory: the parent allocates, forks, allocates again and
waits; the child allocates in its own function and leaves with os._exit(3).

    mem_fork.py TRUTH.json

The parent exits 5 (after checking the child's status) and writes the truth:
its pid, the child's pid and status, and the bytes each function allocated.
"""
import json
import os
import sys

MB = 1 << 20


def parent_before():
    return bytearray(20 * MB)


def child_alloc():
    return bytearray(30 * MB)


def parent_after():
    return bytearray(10 * MB)


before = parent_before()
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    mine = child_alloc()
    print("child", os.getpid(), len(mine), flush=True)
    os._exit(3)
after = parent_after()
_, status = os.waitpid(pid, 0)
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
truth = {"pid": os.getpid(), "child_pid": pid, "child_status": code,
         "functions": {"parent_before": sys.getsizeof(before),
                       "child_alloc": sys.getsizeof(bytearray(0)) + 30 * MB + 1,
                       "parent_after": sys.getsizeof(after)}}
with open(sys.argv[1], "w") as f:
    json.dump(truth, f)
print("parent saw child exit", code, flush=True)
sys.exit(5)
