"""Cost of --native for memory: ns per recorded allocation, with and without
the native stack, in exact and sampled mode.  Not a pytest test (run it by
hand):

    python3 tests/agent/bench_native.py [PYTHON ...]

The agent runs alone (bench_agent.run: a reader drains the FIFO); the
figure is the program's CPU time (user+sys), not wall time, so a loaded
machine changes it little; runs of a mode and its --native twin are
interleaved and the best of REPEAT taken.  Recorded allocations are
counted by decoding one more run's stream.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_agent import run  # noqa: E402
from decode import Decoder  # noqa: E402

REPEAT = 3
MODES = ("exact", "sampled:65536")
WORKLOADS = ("alloc_heavy.py", "deep_alloc.py")


def allocs(py, prog, mode):
    import bench_agent
    counted = {"n": 0}
    feed = Decoder.feed

    def counting(self, data):
        ev = feed(self, data)
        counted["n"] += sum(e.kind == "alloc" for e in ev)
        return ev

    Decoder.feed = counting
    try:
        bench_agent.run(py, prog, mode, count=True)
    finally:
        Decoder.feed = feed
    return counted["n"]


def main(argv):
    pythons = argv[1:] or [sys.executable]
    for py in pythons:
        for prog in WORKLOADS:
            base = min(run(py, prog, "plain")[1] for _ in range(REPEAT))
            for mode in MODES:
                plain, native = [], []
                for _ in range(REPEAT):
                    plain.append(run(py, prog, mode)[1])
                    native.append(run(py, prog, mode + ",native")[1])
                n = allocs(py, prog, mode + ",native")
                p, q = min(plain), min(native)
                print(f"{py} {prog} {mode:14} cpu plain {base:6.3f} s  without {p:6.3f} s  "
                      f"native {q:6.3f} s  {n:9d} recorded  "
                      f"{(p - base) / max(n, 1) * 1e9:7.0f} ns/alloc without  "
                      f"{(q - base) / max(n, 1) * 1e9:7.0f} ns/alloc native  "
                      f"(+{(q - p) / max(n, 1) * 1e9:.0f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
