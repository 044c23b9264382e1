"""Overhead of the agent: plain vs exact vs sampled on allocation-heavy
scripts, and events per second.  Not a pytest test (run it by hand):

    python3 tests/agent/bench_agent.py [PYTHON ...]

Times are the best of REPEAT runs, wall clock and CPU (user+sys of the
program); a cat-like reader drains the FIFO, and events are counted by
decoding the FIFO's bytes of one more run as they stream.
"""
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from decode import Decoder  # noqa: E402
from harness import PROGRAMS, agent_path  # noqa: E402

REPEAT = 3
MODES = ("plain", "exact", "sampled:524288", "sampled:65536")
WORKLOADS = ("alloc_heavy.py", "deep_alloc.py")


def run(py, prog, mode, count=False):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STETHO_AGENT")}
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "f")
        os.mkfifo(fifo)
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        wfd = os.open(fifo, os.O_WRONLY)
        os.set_blocking(rfd, True)
        stats = {"bytes": 0, "events": 0}
        dec = Decoder()

        def reader():
            while True:
                b = os.read(rfd, 1 << 20)
                if not b:
                    return
                stats["bytes"] += len(b)
                if count:
                    stats["events"] += len(dec.feed(b))

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        if mode != "plain":
            env.update(LD_PRELOAD=agent_path(), STETHO_AGENT_FIFO=fifo, STETHO_AGENT_MODE=mode)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        subprocess.run([py, str(PROGRAMS / prog)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        os.close(wfd)
        t.join()
        os.close(rfd)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, stats


def main(argv):
    pythons = argv[1:] or [sys.executable]
    for py in pythons:
        for prog in WORKLOADS:
            print(f"{py} {prog}")
            base = None
            for mode in MODES:
                rs = [run(py, prog, mode) for _ in range(REPEAT)]
                wall = min(r[0] for r in rs)
                cpu = min(r[1] for r in rs)
                if base is None:
                    base = (wall, cpu)
                line = (f"  {mode:15} wall {wall:6.3f} s x{wall / base[0]:5.2f}   "
                        f"cpu {cpu:6.3f} s x{cpu / base[1]:5.2f}")
                if mode != "plain":
                    _, _, st = run(py, prog, mode, count=True)
                    n = st["events"]
                    line += (f"   {n:9d} events  {n / wall / 1e6:5.2f} M/s  "
                             f"{st['bytes'] / max(n, 1):5.1f} B/event")
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
