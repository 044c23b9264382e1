"""pytest plugin: time and memory of every test, limits per test.

Registered by the `pytest11` entry point; does nothing unless `--stetho` is
given.  Each test's call phase (not its fixtures) is one stetho.Profiler
window; the numbers come from the capture (stetho stats / export), and
travel to the controller in the test reports' user_properties, so the
summary is whole under pytest-xdist too.  See docs/python-api.md.
"""
import json
import os
import re
import threading
import time

import pytest

from ._engine import StethoError

KEY = "stetho"
CACHE_KEY = "stetho/results"
MEMORY_UNITS = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40,
                "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0}
INCREASE_RATIO = 1.10           # --stetho-fail-on-increase: peak up by > 10% ...
INCREASE_MIN = 256 << 10        # ... and by more than 256 KiB
LIMIT_MARKERS = ("limit_memory", "limit_leaks", "limit_time")


def pytest_addoption(parser):
    g = parser.getgroup("stetho", "stetho: time and memory of every test")
    g.addoption("--stetho", action="store_true", default=False,
                help="record each test's time and memory with stetho")
    g.addoption("--stetho-memory", default="sampled", metavar="MODE",
                help="memory mode: sampled (default), sampled:BYTES, exact or off; a test "
                     "with limit_memory or limit_leaks is always recorded exactly")
    g.addoption("--stetho-interval", type=float, default=5.0, metavar="MS",
                help="sampling interval in milliseconds (default 5)")
    g.addoption("--stetho-top", type=int, default=5, metavar="N",
                help="list the N slowest and N hungriest tests at the end (default 5)")
    g.addoption("--stetho-dir", default=None, metavar="DIR",
                help="keep each test's capture in DIR (named after the test)")
    g.addoption("--stetho-calls", action="store_true", default=False,
                help="also count every call of each test exactly (cProfile's figures, in "
                     "its capture: stetho table --calls; with --stetho-dir)")
    g.addoption("--stetho-fail-on-increase", action="store_true", default=False,
                help="fail a test whose peak memory grew since the previous run "
                     "(kept in pytest's cache)")


def pytest_configure(config):
    config.addinivalue_line("markers", "limit_memory(size): fail if the test's peak memory "
                            "exceeds size, e.g. '24 MB' (with --stetho)")
    config.addinivalue_line("markers", "limit_leaks(size): fail if memory allocated from one "
                            "place and still held at the test's end exceeds size (with --stetho)")
    config.addinivalue_line("markers", "limit_time(wall=None, cpu=None): fail if the test "
                            "takes longer, e.g. wall='2 s', cpu='500 ms' (with --stetho)")
    if config.getoption("stetho"):
        config.pluginmanager.register(StethoPlugin(config), "stetho-plugin")


# ---- units ----

def parse_size(text):
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
    unit = (m.group(2) or "B").lower() if m else None
    if not m or unit not in MEMORY_UNITS:
        raise ValueError(f"{text!r} is not a size (a number and one of B, KB, MB, GB, "
                         "KiB, MiB, GiB; KB = 1024 B)")
    return int(float(m.group(1)) * MEMORY_UNITS[unit])


def parse_seconds(text):
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
    unit = (m.group(2) or "s").lower() if m else None
    if not m or unit not in TIME_UNITS:
        raise ValueError(f"{text!r} is not a duration (a number and one of ns, us, ms, s, min)")
    return float(m.group(1)) * TIME_UNITS[unit]


def fmt_bytes(n):
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def limits_of(item):
    """{name: value} of the item's limit markers; ValueError names the bad one."""
    out = {}
    for name in LIMIT_MARKERS:
        mark = item.get_closest_marker(name)
        if mark is None:
            continue
        try:
            if name == "limit_time":
                unknown = set(mark.kwargs) - {"wall", "cpu"}
                if mark.args or unknown or not mark.kwargs:
                    raise ValueError("takes wall= and/or cpu=, e.g. limit_time(wall='2 s')")
                for k, v in mark.kwargs.items():
                    out[f"time_{k}"] = parse_seconds(v)
            else:
                if len(mark.args) != 1 or mark.kwargs:
                    raise ValueError("takes one size, e.g. '24 MB'")
                out[name] = parse_size(mark.args[0])
        except ValueError as e:
            raise ValueError(f"@pytest.mark.{name} on {item.nodeid}: {e}") from None
    return out


def safe_name(nodeid):
    return re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", nodeid).strip("_")[:200] or "test"


# ---- the stacks behind a failure ----

def top_stacks(export, key, tid=None, n=3):
    """The n stacks with the most `key`, a line each: value, innermost frames
    (of thread tid only, if given: where the test's own time went, not that
    of a thread waiting all along, such as pytest-xdist's receiver)."""
    frames = export["frames"]
    stacks = sorted((s for s in export["stacks"] if s.get(key) and tid in (None, s["tid"])),
                    key=lambda s: -s[key])[:n]
    lines = []
    for s in stacks:
        where = " < ".join(
            f"{frames[i]['function']} ({os.path.basename(frames[i]['file'] or '?')}:"
            f"{frames[i]['line']})" for i in reversed(s["frames"][-3:])) or "[native]"
        value = f"{s[key]:.3f} s" if key.endswith("_s") else fmt_bytes(s[key])
        lines.append(f"    {value:>10}  {where}")
    return lines


class StethoPlugin:
    def __init__(self, config):
        self.config = config
        self.memory = config.getoption("stetho_memory")
        self.interval = config.getoption("stetho_interval")
        self.top = config.getoption("stetho_top")
        self.dir = config.getoption("stetho_dir")
        self.calls = config.getoption("stetho_calls")
        self.on_increase = config.getoption("stetho_fail_on_increase")
        self.results = {}           # nodeid -> numbers (the controller's view)
        self.failures = {}          # nodeid -> message
        self.cache = getattr(config, "cache", None)
        if self.on_increase and self.cache is None:
            raise pytest.UsageError("stetho: --stetho-fail-on-increase compares with pytest's "
                                    "cache, which is off (-p no:cacheprovider)")
        self.previous = self.cache.get(CACHE_KEY, {}) if self.on_increase else {}
        self.worker = hasattr(config, "workerinput")
        if self.dir:
            os.makedirs(self.dir, exist_ok=True)

    # a bad limit stops the run at collection, with one line
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        for item in items:
            try:
                limits_of(item)
            except ValueError as e:
                raise pytest.UsageError(f"stetho: {e}") from None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        from ._profiler import Profiler
        limits = limits_of(item)
        memory = "exact" if ("limit_memory" in limits or "limit_leaks" in limits) \
            else self.memory
        output = os.path.join(self.dir, safe_name(item.nodeid) + ".stetho") if self.dir else None
        p = Profiler(memory=memory, interval_ms=self.interval, output=output, calls=self.calls)
        try:
            p.start()
        except StethoError as e:
            item.stetho_error = str(e)
            yield
            return
        t0 = time.perf_counter()
        try:
            yield
        finally:
            wall = time.perf_counter() - t0
            try:
                p.stop()
                self._measure(item, p, limits, wall, threading.get_native_id())
            except StethoError as e:
                item.stetho_error = str(e)

    def _measure(self, item, p, limits, wall, tid):
        from . import _engine
        st = p.stats()
        cache = []

        def export():
            """The capture's stacks: read only for a limit or a failure."""
            if not cache:
                cache.append(json.loads(_engine.run(["export", p.capture_path(), "--format",
                                                     "json"])))
            return cache[0]
        numbers = {
            "wall": wall, "user": st["user"], "sys": st["sys"],
            "cpu": (st["user"] or 0) + (st["sys"] or 0),
            **{k: v for k, v in st.items() if k.startswith("wait")},
            "peak": st["peak_heap"], "allocated": st["allocated"], "leaked": st["leaked"],
        }
        leak_by_stack = max((s.get("leaked_bytes", 0) for s in export()["stacks"]),
                            default=0) if "limit_leaks" in limits else 0
        problems = []

        def over(what, measured, limit, shown, key):
            problems.append(f"stetho: {what} limit {shown(limit)} exceeded: measured "
                            f"{shown(measured)}; top stacks:")
            problems.extend(top_stacks(export(), key, tid if key.endswith("_s") else None))

        secs = lambda v: f"{v:.3f} s"
        if "limit_memory" in limits and (numbers["peak"] or 0) > limits["limit_memory"]:
            over("limit_memory", numbers["peak"], limits["limit_memory"], fmt_bytes,
                 "peak_bytes")
        if "limit_leaks" in limits and leak_by_stack > limits["limit_leaks"]:
            over("limit_leaks (per stack)", leak_by_stack, limits["limit_leaks"], fmt_bytes,
                 "leaked_bytes")
        if "time_wall" in limits and wall > limits["time_wall"]:
            over("limit_time wall", wall, limits["time_wall"], secs, "wall_s")
        if "time_cpu" in limits and numbers["cpu"] > limits["time_cpu"]:
            over("limit_time cpu", numbers["cpu"], limits["time_cpu"], secs, "cpu_user_s")
        old = self.previous.get(item.nodeid)
        if self.on_increase and old and numbers["peak"] is not None and old.get("peak"):
            if (numbers["peak"] > old["peak"] * INCREASE_RATIO
                    and numbers["peak"] - old["peak"] > INCREASE_MIN):
                problems.append(f"stetho: peak memory increased from {fmt_bytes(old['peak'])} "
                                f"(previous run) to {fmt_bytes(numbers['peak'])}; top stacks:")
                problems.extend(top_stacks(export(), "peak_bytes"))
        item.user_properties.append((KEY, numbers))
        if problems:
            item.stetho_failure = "\n".join(problems)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        if call.when != "call":
            return
        msg = getattr(item, "stetho_failure", None)
        if msg and rep.passed:
            rep.outcome = "failed"
            rep.longrepr = msg
        err = getattr(item, "stetho_error", None)
        if err:
            rep.sections.append(("stetho", err))

    # ---- on the controller (or the only process) ----

    def pytest_runtest_logreport(self, report):
        if report.when != "call":
            return
        for k, v in report.user_properties:
            if k == KEY:
                self.results[report.nodeid] = v
        for name, text in report.sections:
            if name == "stetho" and report.nodeid not in self.failures:
                self.failures[report.nodeid] = text

    def pytest_sessionfinish(self, session):
        if self.worker or self.cache is None or not self.results:
            return
        kept = dict(self.cache.get(CACHE_KEY, {}))
        kept.update({k: {"peak": v.get("peak"), "wall": v.get("wall")}
                     for k, v in self.results.items()})
        self.cache.set(CACHE_KEY, kept)

    def pytest_terminal_summary(self, terminalreporter):
        if self.worker:
            return
        tr = terminalreporter
        if self.failures:
            tr.write_sep("-", "stetho could not record")
            for nodeid, text in list(self.failures.items())[:5]:
                tr.write_line(f"{nodeid}: {text}")
        if not self.results or self.top <= 0:
            return
        rows = list(self.results.items())

        def line(nodeid, r):
            waits = ", ".join(f"{k[5:]} {v:.2f}" for k, v in r.items()
                              if k.startswith("wait_") and v and v >= 0.005)
            return (f"{r['wall']:8.3f}s wall {r['cpu']:7.3f}s cpu (user {r['user']:.2f} sys "
                    f"{r['sys']:.2f}{'; wait ' + waits if waits else ''})  peak "
                    f"{fmt_bytes(r['peak'])}  alloc {fmt_bytes(r['allocated'])}  leaked "
                    f"{fmt_bytes(r['leaked'])}  {nodeid}")
        tr.write_sep("-", f"stetho: {min(self.top, len(rows))} slowest tests")
        for nodeid, r in sorted(rows, key=lambda kv: -kv[1]["wall"])[:self.top]:
            tr.write_line(line(nodeid, r))
        tr.write_sep("-", f"stetho: {min(self.top, len(rows))} hungriest tests (peak memory)")
        for nodeid, r in sorted(rows, key=lambda kv: -(kv[1]["peak"] or 0))[:self.top]:
            tr.write_line(line(nodeid, r))
