"""A stand-in for the `pyperf` module, so that pyperformance benchmarks run
as ordinary one-process programs.

pyperformance's `run_benchmark.py` files drive themselves with
`pyperf.Runner`, which spawns worker processes, calibrates loop counts by
time and writes JSON: useless for measuring a profiler wrapped around the
program from outside.  This module offers the same small API surface
(`Runner`, `perf_counter`, `python_implementation`) but simply calls the
benchmark function a FIXED number of times, given by `--bench-loops N`, in
this process.  A fixed count matters: a profiler's overhead must show up as
a longer wall time, not as fewer loops.

The harness copies each benchmark file next to this one; a script's own
directory comes first on sys.path, so `import pyperf` finds this file and
not the real pyperf that pyperformance installs.  The option is deliberately
not `--loops`: the real pyperf would reject `--bench-loops`, so an
accidental import of the real module fails loudly instead of measuring
something else.
"""

import argparse
import asyncio
import platform
import sys
import time

perf_counter = time.perf_counter

__version__ = "0-stetho-bench-shim"
VERSION = (0, 0, 0)


def python_implementation():
    return platform.python_implementation().lower()


def python_has_jit():
    return False


class Runner:
    def __init__(self, *args, add_cmdline_args=None, **kwargs):
        self.metadata = {}
        self.argparser = argparse.ArgumentParser()
        self.argparser.add_argument(
            "--bench-loops", type=int, default=1,
            help="how many times to run the benchmark function (0: set-up only)")
        self.args = None

    def parse_args(self, args=None):
        if self.args is None:
            self.args = self.argparser.parse_args(args)
        return self.args

    def _loops(self):
        return self.parse_args().bench_loops

    def bench_func(self, name, func, *args, inner_loops=None, **kwargs):
        for _ in range(self._loops()):
            func(*args)

    def bench_time_func(self, name, func, *args, inner_loops=None, **kwargs):
        loops = self._loops()
        if loops:
            func(loops, *args)

    def bench_async_func(self, name, func, *args, inner_loops=None, **kwargs):
        for _ in range(self._loops()):
            asyncio.run(func(*args))

    def bench_command(self, name, command):
        raise NotImplementedError("bench_command is not supported by the shim")


if __name__ == "__main__":
    sys.exit("pyperf.py is a module for the benchmark workloads, not a program")
