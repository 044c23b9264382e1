"""Allocation-heavy, large buffers: bytearrays and bytes of 64 KiB-16 MiB
created, filled, sliced, joined and dropped; numpy arrays too when numpy
is importable (the harness installs it into its venv).  Stresses the
allocator's large-block paths (mmap/munmap) and page faults, which is where
memory profilers that hook malloc pay.
"""

import random

import pyperf

try:
    import numpy as np
except ImportError:  # still a valid workload without numpy
    np = None


def buffers(rng):
    chunks = []
    total = 0
    for i in range(60):
        size = rng.choice((1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24))
        buf = bytearray(size)
        buf[::4096] = b"x" * len(buf[::4096])   # touch every page
        chunks.append(bytes(buf[: size // 2]))
        if len(chunks) > 8:
            joined = b"".join(chunks)
            total += len(joined)
            chunks = chunks[4:]
    return total


def arrays(rng):
    if np is None:
        return 0.0
    acc = 0.0
    for i in range(30):
        n = rng.choice((1 << 14, 1 << 17, 1 << 20))
        a = np.arange(n, dtype=np.float64)
        b = np.ones(n)
        c = a * 2.0 + b          # temporaries
        d = np.concatenate([c, a])
        acc += float(d[:: max(1, n // 16)].sum())
    return acc


def run(seed):
    rng = random.Random(seed)
    buffers(rng)
    arrays(rng)


def main():
    runner = pyperf.Runner()
    runner.bench_func("alloc_buffers", run, 7)


if __name__ == "__main__":
    main()
