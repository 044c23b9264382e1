"""Overhead of the agent: plain vs exact vs sampled on an allocation-heavy
script, and events per second.  Not a pytest test (run it by hand):

    python3 tests/agent/bench_agent.py [PYTHON ...]
"""
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PROGRAMS, run_agent, run_plain  # noqa: E402

REPEAT = 5


def best(f):
    return min(f() for _ in range(REPEAT))


def main(argv):
    pythons = argv[1:] or [sys.executable]
    prog = [str(PROGRAMS / "alloc_heavy.py")]
    for py in pythons:
        plain = best(lambda: run_plain(py, prog)[1])
        runs = {}
        for mode in ("exact", "sampled:524288", "sampled:65536"):
            rs = [run_agent(py, prog, mode=mode) for _ in range(REPEAT)]
            r = min(rs, key=lambda r: r.seconds)
            runs[mode] = r
        print(f"{py}: plain {plain:.3f} s")
        for mode, r in runs.items():
            n = len(r.events)
            print(f"  {mode:16} {r.seconds:.3f} s  x{r.seconds / plain:.2f}  "
                  f"{n} events  {n / r.seconds / 1e6:.2f} M events/s  "
                  f"{r.raw_bytes / n if n else 0:.1f} B/event")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
