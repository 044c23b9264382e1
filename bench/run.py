#!/usr/bin/env python3
"""Profiler overhead, side by side: stetho against plain Python and other
profilers, each run as a wrapper command around the same workload.

    python3 bench/run.py --quick            # smoke test, < 1 minute
    python3 bench/run.py                    # everything (long)
    python3 bench/run.py --tools plain,stetho,py-spy --workloads nbody,go --runs 7

See bench/README.md for what is measured and how to read the table.
Standard library only; the profilers and pyperformance are pip-installed
into bench/.venv/<python>/, built from the same Python as the workloads.
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
WORK = os.path.join(BENCH, ".work")          # scratch, gitignored
VENVS = os.path.join(BENCH, ".venv")         # gitignored
LOCAL_WORKLOADS = os.path.join(BENCH, "workloads")
DEFAULT_PYTHON = os.path.expanduser("~/.pyenv/versions/3.11.7/bin/python3")

# PyPI packages, pinned so that results from different days compare.
PINS = {
    "pyperformance": "1.14.0",
    "py-spy": "0.4.3",
    "pyinstrument": "5.1.3",
    "memray": "1.20.0",
    "scalene": "2.4.0",
    "numpy": "2.4.6",
    "pandas": "3.1.1",
    "black": "26.10.1",
    "yappi": "1.6.10",
    "austin-dist": "3.7.0",   # 4.0.0 needs glibc 2.38 (Debian 12 has 2.36)
}

# name -> (source, loops, note).  source "pyperformance:bm_x" takes
# bm_x/run_benchmark.py from the installed pyperformance; "local:file.py"
# takes bench/workloads/file.py.  loops: fixed count of benchmark-function
# calls for ~1.25 s plain on the reference machine (2 cores, CPython 3.11.7);
# re-derive with --calibrate.
WORKLOADS = {
    "nbody":         ("pyperformance:bm_nbody", 22, "float arithmetic, tuples"),
    "richards":      ("pyperformance:bm_richards", 39, "OO task scheduler"),
    "fannkuch":      ("pyperformance:bm_fannkuch", 4, "list permutations"),
    "float":         ("pyperformance:bm_float", 19, "float objects, math"),
    "spectral_norm": ("pyperformance:bm_spectral_norm", 18, "numeric loops"),
    "chaos":         ("pyperformance:bm_chaos", 25, "splines, random"),
    "raytrace":      ("pyperformance:bm_raytrace", 6, "OO raytracer"),
    "json_dumps":    ("pyperformance:bm_json_dumps", 130, "json encoder (C + Python)"),
    "json_loads":    ("pyperformance:bm_json_loads", 3500, "json decoder"),
    "regex_v8":      ("pyperformance:bm_regex_v8", 90, "regular expressions (C)"),
    "deltablue":     ("pyperformance:bm_deltablue", 490, "constraint solver"),
    "go":            ("pyperformance:bm_go", 12, "Go-playing MCTS"),
    "deepstack":     ("local:deepstack.py", 150, "150-250 frames deep parser"),
    "callbound":     ("local:callbound.py", 85, "nearly every operation a call (deterministic profilers' worst case)"),
    "alloc_objects": ("local:alloc_objects.py", 8, "millions of small objects"),
    "alloc_buffers": ("local:alloc_buffers.py", 6, "64 KiB-16 MiB buffers, numpy"),
    "pipeline":      ("local:pipeline.py", 3, "pandas read_csv+groupby, json, black (PyPI)"),
}

# What a workload needs from PyPI besides the standard library.
WORKLOAD_PACKAGES = {
    "alloc_buffers": ["numpy"],         # optional: it runs without
    "pipeline": ["pandas", "black"],
}

QUICK_WORKLOAD = "deepstack"


class Tool:
    """A wrapper command.  argv(ctx, prog, out) -> list; prog is
    [script, args...]; out is a fresh per-run directory for output files."""

    def __init__(self, name, argv, packages=(), sampler=False, note=""):
        self.name = name
        self.argv = argv
        self.packages = list(packages)
        self.sampler = sampler      # out-of-process: its own CPU is overhead
        self.note = note
        self.problem = None         # why it can't run (install/preflight)


# The Python API around the whole program (docs/python-api.md): the same
# sampler and agent, started from inside, memory through the GOT (no
# LD_PRELOAD).  argv: the package's directory, stetho, the capture, prog...
API_WRAPPER = """\
import os, runpy, sys
sys.path[0] = sys.argv[1]
os.environ["STETHO"] = sys.argv[2]
import stetho
out, sys.argv = sys.argv[3], sys.argv[4:]
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))   # as `python prog.py`
with stetho.profile(output=out):
    runpy.run_path(sys.argv[0], run_name="__main__")
"""


def make_tools(stetho_extra, baseline=False):
    def py(ctx):
        return ctx["python"]

    def vbin(ctx, name):
        return os.path.join(ctx["venv"], "bin", name)

    tools = [
        Tool("plain", lambda c, p, o: [py(c), *p], note="the workload alone"),
        Tool("plain-control", lambda c, p, o: [py(c), *p],
             note="the workload alone again: the noise floor of every ratio, worst paired included"),
        Tool("stetho", lambda c, p, o: [c["stetho"], "run", "--quiet", "--", py(c), *p],
             sampler=True, note="stetho run --quiet (10 ms interval, memory sampled: the defaults)"),
    ]
    if baseline:
        # --baseline-stetho: another build of stetho (e.g. the commit before a
        # change), run with the defaults and interleaved with this one
        for extra in ["", *stetho_extra]:
            words = extra.split()
            tools.append(Tool(
                " ".join(["stetho-base", *words]),
                lambda c, p, o, w=words: [c["stetho_base"], "run", "--quiet", *w, "--", py(c), *p],
                sampler=True, note=f"the baseline stetho: run --quiet {' '.join(words)}".rstrip()))
    tools.append(Tool(
        "stetho-calls", lambda c, p, o: [c["stetho"], "run", "--quiet", "--calls", "--", py(c), *p],
        sampler=True, note="stetho run --quiet --calls: the defaults plus exact call counts (cProfile's figures)"))
    tools.append(Tool(
        "stetho-calls-only",
        lambda c, p, o: [c["stetho"], "run", "--quiet", "--calls", "--memory", "off", "--", py(c), *p],
        sampler=True, note="stetho run --quiet --calls --memory off: sampled time plus exact call counts, "
                           "no memory recording (like for like with cProfile)"))
    tools.append(Tool(
        "stetho-calls-floor",
        lambda c, p, o: ["env", "STETHO_CALLS_FLOOR=1", c["stetho"], "run", "--quiet", "--calls",
                         "--memory", "off", "--", py(c), *p],
        sampler=True, note="as stetho-calls-only with callbacks that return at once "
                           "(STETHO_CALLS_FLOOR=1): CPython's own cost of delivering the events"))
    tools.append(Tool(
        "stetho-native", lambda c, p, o: [c["stetho"], "run", "--quiet", "--native", "--memory", "off",
                                          "--", py(c), *p],
        sampler=True, note="stetho run --quiet --native --memory off: time with native frames "
                           "(perf events; ptrace pauses where refused)"))
    tools.append(Tool(
        "stetho-api", lambda c, p, o: [py(c), "-c", API_WRAPPER, os.path.join(REPO, "python"),
                                       c["stetho"], os.path.join(o, "api.stetho"), *p],
        note="with stetho.profile(): the Python API around the program (10 ms, memory sampled)"))
    for extra in stetho_extra:
        words = extra.split()
        tools.append(Tool(
            "stetho " + " ".join(words),
            lambda c, p, o, w=words: [c["stetho"], "run", "--quiet", *w, "--", py(c), *p],
            sampler=True, note=f"stetho run --quiet {' '.join(words)}"))
    tools += [
        Tool("py-spy", lambda c, p, o: [vbin(c, "py-spy"), "record", "-o", os.path.join(o, "pyspy.txt"),
                                        "-f", "raw", "--", py(c), *p],
             packages=["py-spy"], sampler=True, note="py-spy record -f raw (100 Hz, pauses the target per sample)"),
        Tool("py-spy-1k", lambda c, p, o: [vbin(c, "py-spy"), "record", "--rate", "1000",
                                           "-o", os.path.join(o, "pyspy.txt"), "-f", "raw", "--", py(c), *p],
             packages=["py-spy"], sampler=True,
             note="py-spy record --rate 1000 -f raw (1 kHz, pauses the target per sample)"),
        Tool("austin", lambda c, p, o: [vbin(c, "austin"), "-t", "1000", "-i", "10000", "-o", os.path.join(o, "austin.txt"),
                                        py(c), *p],
             packages=["austin-dist"], sampler=True, note="austin -t 1000 -i 10000 -o FILE (100 Hz, never pauses the target)"),
        Tool("austin-1k", lambda c, p, o: [vbin(c, "austin"), "-t", "1000", "-i", "1000", "-o", os.path.join(o, "austin.txt"),
                                           py(c), *p],
             packages=["austin-dist"], sampler=True, note="austin -t 1000 -i 1000 -o FILE (1 kHz)"),
        Tool("py-spy-nonblocking", lambda c, p, o: [vbin(c, "py-spy"), "record", "--nonblocking",
                                                    "-o", os.path.join(o, "pyspy.txt"), "-f", "raw", "--", py(c), *p],
             packages=["py-spy"], sampler=True, note="py-spy record --nonblocking -f raw (100 Hz)"),
        Tool("py-spy-native", lambda c, p, o: [vbin(c, "py-spy"), "record", "--native",
                                               "-o", os.path.join(o, "pyspy.txt"), "-f", "raw", "--", py(c), *p],
             packages=["py-spy"], sampler=True,
             note="py-spy record --native -f raw (100 Hz, pauses the target to unwind)"),
        Tool("pyinstrument", lambda c, p, o: [py(c), "-m", "pyinstrument", "-r", "text",
                                              "-o", os.path.join(o, "pyinstrument.txt"), *p],
             packages=["pyinstrument"], note="python -m pyinstrument -r text -o FILE (1 ms interval)"),
        Tool("cProfile", lambda c, p, o: [py(c), "-m", "cProfile", "-o", os.path.join(o, "cprofile.prof"), *p],
             note="python -m cProfile -o FILE (deterministic)"),
        Tool("yappi", lambda c, p, o: [py(c), "-m", "yappi", "-f", "pstat", "-o", os.path.join(o, "yappi.pstat"), *p],
             packages=["yappi"], note="python -m yappi -f pstat -o FILE (deterministic, CPU clock: its default)"),
        Tool("memray", lambda c, p, o: [py(c), "-m", "memray", "run", "-q", "-o", os.path.join(o, "memray.bin"), *p],
             packages=["memray"], note="python -m memray run -q -o FILE"),
        Tool("memray-pyalloc", lambda c, p, o: [py(c), "-m", "memray", "run", "-q", "--trace-python-allocators",
                                                "-o", os.path.join(o, "memray.bin"), *p],
             packages=["memray"], note="memray run --trace-python-allocators"),
        Tool("memray-native", lambda c, p, o: [py(c), "-m", "memray", "run", "-q", "--native",
                                               "-o", os.path.join(o, "memray.bin"), *p],
             packages=["memray"], note="memray run --native (a native stack per allocation)"),
        Tool("tracemalloc", lambda c, p, o: [py(c), "-X", "tracemalloc=1", *p],
             note="python -X tracemalloc=1 (1 frame)"),
        Tool("scalene-cpu", lambda c, p, o: [py(c), "-m", "scalene", "run", "--cpu-only",
                                             "-o", os.path.join(o, "scalene.json"), p[0], "---", *p[1:]],
             packages=["scalene"], note="python -m scalene run --cpu-only -o FILE"),
        Tool("scalene", lambda c, p, o: [py(c), "-m", "scalene", "run",
                                         "-o", os.path.join(o, "scalene.json"), p[0], "---", *p[1:]],
             packages=["scalene"], note="python -m scalene run -o FILE (CPU + memory)"),
    ]
    return tools


# ---------------------------------------------------------------- utilities

def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(argv, timeout=900, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout, **kw)


def tail(path, n=12):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:]).strip()
    except OSError:
        return ""


def gmean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------ environment

def python_version(python):
    out = sh([python, "-c", "import platform; print(platform.python_version())"])
    if out.returncode:
        sys.exit(f"bench: cannot run {python}: {out.stdout.strip()}")
    return out.stdout.strip()


def ensure_venv(python, version):
    venv = os.path.join(VENVS, "py" + version)
    vpy = os.path.join(venv, "bin", "python")
    if os.path.exists(vpy) and os.path.realpath(vpy) != os.path.realpath(python):
        # a venv's python symlinks the base one; a different base: rebuild
        if python_version(vpy) != version:
            shutil.rmtree(venv)
    if not os.path.exists(vpy):
        log(f"bench: creating venv {venv}")
        out = sh([python, "-m", "venv", venv])
        if out.returncode:
            sys.exit(f"bench: cannot create venv: {out.stdout.strip()}")
    return venv


def installed_packages(vpy):
    out = sh([vpy, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"])
    if out.returncode:
        return {}
    try:
        # pip may print warnings before the JSON
        text = out.stdout[out.stdout.index("["):]
        return {p["name"].lower(): p["version"] for p in json.loads(text.splitlines()[0])}
    except (ValueError, IndexError, KeyError):
        return {}


def ensure_packages(vpy, packages):
    """Install each package on its own; return {package: problem}."""
    problems = {}
    have = installed_packages(vpy)
    for pkg in packages:
        want = PINS.get(pkg)
        if pkg.lower() in have and (want is None or have[pkg.lower()] == want):
            continue
        spec = f"{pkg}=={want}" if want else pkg
        log(f"bench: pip install {spec}")
        try:
            out = sh([vpy, "-m", "pip", "install", "-q", "--disable-pip-version-check", spec])
        except subprocess.TimeoutExpired:
            problems[pkg] = f"pip install {spec}: timed out"
            continue
        if out.returncode:
            lines = [ln for ln in out.stdout.splitlines() if "ignored: it is neither" not in ln]
            why = " | ".join(lines[-2:])
            problems[pkg] = f"pip install {spec} failed: " + (why[:300] + " …" if len(why) > 300 else why)
    return problems


def find_stetho(path, snapname="stetho-snapshot"):
    if path:
        cand = path
    elif os.access(os.path.join(REPO, "build", "stetho"), os.X_OK):
        cand = os.path.join(REPO, "build", "stetho")
    else:
        cand = shutil.which("stetho")
    if not cand or not os.access(cand, os.X_OK):
        return None, None
    # Snapshot the binary: others may rebuild build/stetho while we run.
    snapdir = os.path.join(WORK, snapname)
    os.makedirs(snapdir, exist_ok=True)
    snap = os.path.join(snapdir, "stetho")
    real = os.path.realpath(cand)
    with open(real, "rb") as src:
        head = src.read(4)
    if head == b"\x7fELF":
        shutil.copy2(real, snap)
        # the memory agent lives beside the binary; stetho looks for it there
        agent = os.path.join(os.path.dirname(real), "libstetho_agent.so")
        if os.path.exists(agent):
            shutil.copy2(agent, os.path.join(snapdir, "libstetho_agent.so"))
    else:  # a script (e.g. a pyenv shim): run it as is
        snap = cand
    return snap, real


def git_info():
    def git(*a):
        out = sh(["git", "-C", REPO, *a])
        return out.stdout.strip() if out.returncode == 0 else None
    return {"commit": git("rev-parse", "HEAD"),
            "dirty_files": len((git("status", "--porcelain") or "").splitlines())}


def materialize_workloads(names, vpy, problems):
    """Copy each workload, plus the pyperf shim, into one directory."""
    wdir = os.path.join(WORK, "workloads")
    os.makedirs(wdir, exist_ok=True)
    shutil.copy2(os.path.join(LOCAL_WORKLOADS, "pyperf.py"), os.path.join(wdir, "pyperf.py"))
    bm_root = None
    scripts = {}
    for name in names:
        source = WORKLOADS[name][0]
        kind, _, ref = source.partition(":")
        if kind == "local":
            src = os.path.join(LOCAL_WORKLOADS, ref)
        else:
            if "pyperformance" in problems:
                problems.setdefault(f"workload:{name}", "pyperformance not installed")
                continue
            if bm_root is None:
                out = sh([vpy, "-c", "import importlib.util as u, os; "
                          "print(os.path.join(u.find_spec('pyperformance').submodule_search_locations[0],"
                          " 'data-files', 'benchmarks'))"])
                bm_root = out.stdout.strip() if out.returncode == 0 else ""
            src = os.path.join(bm_root, ref, "run_benchmark.py")
        if not os.path.exists(src):
            problems[f"workload:{name}"] = f"no such file {src}"
            continue
        dst = os.path.join(wdir, name + ".py")
        shutil.copy2(src, dst)
        scripts[name] = dst
    return scripts


# --------------------------------------------------------------- running

class RunTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise RunTimeout()


CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_self_cpu(pid):
    """CPU seconds of a zombie `pid` itself, excluding the children it reaped.

    /proc/PID/stat utime+stime is the whole thread group's but truncated to
    clock ticks; /proc/PID/schedstat is nanosecond-exact but the leader
    thread's only.  When they agree (single-threaded), take the exact one."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = (int(fields[11]) + int(fields[12])) / CLK_TCK
        child_ticks = (int(fields[13]) + int(fields[14])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None, None, None
    sched = None
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            sched = int(f.read().split()[0]) / 1e9
    except (OSError, IndexError, ValueError):
        pass
    if sched is not None and ticks - 0.001 <= sched <= ticks + 2.0 / CLK_TCK + 0.001:
        return sched, child_ticks, "schedstat"
    return ticks + 1.0 / CLK_TCK, child_ticks, "stat-ticks"


def run_once(argv, env, outdir, timeout):
    """Spawn argv, wait for it to exit; wall time from spawn to exit."""
    os.makedirs(outdir, exist_ok=True)
    errpath = os.path.join(outdir, "stderr.txt")
    exe = argv[0] if os.sep in argv[0] else shutil.which(argv[0], path=env.get("PATH"))
    if not exe:
        return {"ok": False, "error": f"{argv[0]}: not found"}
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, errpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    old = signal.signal(signal.SIGALRM, _alarm)
    t0 = time.perf_counter()
    pid = os.posix_spawn(exe, argv, env, file_actions=actions, setsid=True)
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)   # exited, not reaped
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except (RunTimeout, KeyboardInterrupt) as e:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        signal.signal(signal.SIGALRM, old)
        if isinstance(e, KeyboardInterrupt):
            raise
        return {"ok": False, "error": f"timed out after {timeout:.0f} s", "stderr": tail(errpath)}
    wall = time.perf_counter() - t0
    signal.signal(signal.SIGALRM, old)
    self_cpu, child_cpu_ticks, how = read_self_cpu(pid)
    _, status, ru = os.wait4(pid, 0)
    # The tool may leave helpers behind in its session (it should not).
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    code = os.waitstatus_to_exitcode(status)
    res = {
        "ok": code == 0,
        "wall": wall,
        "exit": code,
        "self_cpu": self_cpu,            # the top process alone (e.g. stetho)
        "self_cpu_method": how,
        "total_cpu": ru.ru_utime + ru.ru_stime,   # it + every child it reaped
        "maxrss_kb": ru.ru_maxrss,
    }
    if code != 0:
        res["error"] = f"exit status {code}"
        res["stderr"] = tail(errpath)
    return res


def run_env(ctx):
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("PYTHON") or k in ("VIRTUAL_ENV", "MEMRAY_FOLLOW_FORK"))}
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["VIRTUAL_ENV"] = ctx["venv"]
    env["PATH"] = os.path.join(ctx["venv"], "bin") + os.pathsep + env.get("PATH", "")
    return env


# ------------------------------------------------------------ calibration

def calibrate(ctx, scripts, target, env):
    rows = []
    for name, script in scripts.items():
        base = min(run_once([ctx["python"], script, "--bench-loops", "0"], env,
                            os.path.join(ctx["scratch"], "cal"), 120).get("wall", 1e9)
                   for _ in range(3))
        loops = 1
        while True:
            r = run_once([ctx["python"], script, "--bench-loops", str(loops)], env,
                         os.path.join(ctx["scratch"], "cal"), 600)
            if not r["ok"]:
                log(f"  {name}: failed: {r.get('error')} {r.get('stderr', '')}")
                break
            if r["wall"] - base > 0.3 or loops >= 1 << 20:
                break
            loops *= 4
        if not r["ok"]:
            continue
        per = (r["wall"] - base) / loops
        best = max(1, round((target - base) / per))
        rows.append((name, base, per, best))
        log(f"  {name:14s} start-up {base:.3f} s  per loop {per * 1e3:8.2f} ms  -> loops {best}")
    return rows


# ------------------------------------------------------------ statistics

def summarize(results, tools, workloads):
    """results[workload][tool] = [run dicts].  Ratios are run wall over the
    median plain wall of the same workload."""
    summary = {"tools": {}, "plain_median": {}, "plain_median_cpu": {}}
    for w in workloads:
        plain = [r for r in results.get(w, {}).get("plain", []) if r["ok"]]
        if plain:
            summary["plain_median"][w] = statistics.median(r["wall"] for r in plain)
            summary["plain_median_cpu"][w] = statistics.median(r["total_cpu"] for r in plain)
    for t in tools:
        s = {"median_ratio": {}, "cpu_ratio": {}, "runs_ok": 0, "runs_failed": 0, "worst": None,
             "worst_paired": None, "paired_median": {},
             "sampler_cpu_pct": {}, "failures": []}
        cpu_all = wall_all = 0.0
        for w in workloads:
            runs = results.get(w, {}).get(t, [])
            ok = [r for r in runs if r["ok"]]
            s["runs_ok"] += len(ok)
            for r in runs:
                if not r["ok"] and not r.get("absent"):
                    s["runs_failed"] += 1
                    s["failures"].append({"workload": w, "error": r.get("error"), "stderr": r.get("stderr", "")})
            base = summary["plain_median"].get(w)
            if not ok or not base:
                continue
            ratios = [r["wall"] / base for r in ok]
            s["median_ratio"][w] = statistics.median(ratios)
            # CPU of the whole process tree (tool + workload), less sensitive
            # to a busy machine than wall time, and it counts a sampler's CPU
            # on the other core that wall time hides.
            if summary["plain_median_cpu"].get(w):
                s["cpu_ratio"][w] = (statistics.median(r["total_cpu"] for r in ok)
                                     / summary["plain_median_cpu"][w])
            worst = max(ratios)
            if s["worst"] is None or worst > s["worst"]["ratio"]:
                s["worst"] = {"ratio": worst, "workload": w}
            # Paired: each run over the plain run of the same round (runs are
            # appended round by round, so index i is round i).  A slow spell
            # of the machine that lasts a round slows both and cancels out;
            # plain-control's paired worst is this figure's own noise floor.
            plain_runs = results.get(w, {}).get("plain", [])
            paired = [r["wall"] / q["wall"] for r, q in zip(runs, plain_runs)
                      if r["ok"] and q["ok"] and q["wall"]]
            if paired and t != "plain":
                # The median paired ratio: the steadiest estimate of a tool's
                # cost the bench has (plain-control's reads 1.000 within a
                # per cent where its plain-median ratio moves by 5).
                s["paired_median"][w] = statistics.median(paired)
                pw = max(paired)
                if s["worst_paired"] is None or pw > s["worst_paired"]["ratio"]:
                    s["worst_paired"] = {"ratio": pw, "workload": w}
            cpu = [r["self_cpu"] for r in ok if r.get("self_cpu") is not None]
            if len(cpu) == len(ok):
                wsum = sum(r["wall"] for r in ok)
                s["sampler_cpu_pct"][w] = 100.0 * sum(cpu) / wsum
                cpu_all += sum(cpu)
                wall_all += wsum
        s["geomean"] = gmean(list(s["median_ratio"].values()))
        s["geomean_cpu"] = gmean(list(s["cpu_ratio"].values()))
        s["geomean_paired"] = (gmean(list(s["paired_median"].values()))
                               if len(s["paired_median"]) == len(workloads) else None)
        s["sampler_cpu_pct_all"] = 100.0 * cpu_all / wall_all if wall_all else None
        summary["tools"][t] = s
    return summary


def fmt_ratio(x):
    return "—" if x is None else f"{x:.3f}"


def markdown(meta, summary, tools_by_name, tool_order, workloads, problems):
    L = []
    L.append(f"# Profiler overhead — {meta['date']} on {meta['host']}")
    L.append("")
    L.append(f"- Python {meta['python_version']} (`{meta['python']}`), {meta['cpus']} CPUs, "
             f"load average before/after: {meta['loadavg_before']} / {meta['loadavg_after']}")
    L.append(f"- stetho: `{meta['stetho_path']}` ({meta['stetho_version']}), repo commit "
             f"{(meta['git']['commit'] or '?')[:12]}"
             + (f" with {meta['git']['dirty_files']} uncommitted files" if meta['git']['dirty_files'] else ""))
    L.append(f"- {meta['runs']} runs per tool and workload, tools interleaved round-robin "
             f"(order shuffled each round, seed {meta['seed']}); wall time end to end, "
             f"start-up and output writing included; {meta['elapsed_s'] / 60:.1f} min in all")
    if meta.get("interrupted"):
        L.append(f"- **Incomplete:** {meta['interrupted']}")
    L.append("")
    L.append("Slowdown = wall time / median plain wall time of the same workload "
             "(1.000 = no overhead). Cells: median over runs. "
             "*geomean*: geometric mean of the medians over workloads. "
             "*worst*: the single slowest run of any workload (tail). "
             "*paired*: the geometric mean over workloads of the median ratio of a run to the "
             "plain run of its own round (slow spells cancel; the steadiest figure here). "
             "*worst paired*: the largest ratio of a run to the plain run of the same round "
             "(a slow spell of the machine slows both; plain-control, the workload alone "
             "again, shows this figure's noise floor). "
             "*geomean CPU*: the same for CPU time (user+sys) of the whole process tree, "
             "tool and workload together — steadier than wall time on a busy machine, and it "
             "counts what a sampler burns on another core. "
             "*sampler CPU*: CPU time of the profiler's own process (out-of-process tools only) "
             "as % of one core over its wall time.")
    L.append("")
    head = ["tool", *workloads, "geomean", "paired", "worst run", "worst paired", "geomean CPU", "sampler CPU"]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for t in tool_order:
        tool = tools_by_name[t]
        if tool.problem:
            L.append(f"| {t} | " + " | ".join(["n/a"] * (len(head) - 1)) + " |")
            continue
        s = summary["tools"][t]
        cells = []
        for w in workloads:
            if w in s["median_ratio"]:
                cells.append(fmt_ratio(s["median_ratio"][w]))
            else:
                cells.append("FAIL" if any(f["workload"] == w for f in s["failures"]) else "—")
        n = len(s["median_ratio"])
        gm = fmt_ratio(s["geomean"]) + ("" if n == len(workloads) else f" ({n}/{len(workloads)})")
        worst = "—" if not s["worst"] else f"{s['worst']['ratio']:.3f} ({s['worst']['workload']})"
        wp = s.get("worst_paired")
        paired = "—" if not wp else f"{wp['ratio']:.3f} ({wp['workload']})"
        cpu = "—" if not tool.sampler or s["sampler_cpu_pct_all"] is None else f"{s['sampler_cpu_pct_all']:.1f}%"
        L.append(f"| {t} | " + " | ".join(cells) + f" | **{gm}** | {fmt_ratio(s.get('geomean_paired'))} | "
                 f"{worst} | {paired} | "
                 f"{fmt_ratio(s['geomean_cpu'])} | {cpu} |")
    L.append("")
    L.append("Plain wall time (median, seconds) and loop counts:")
    L.append("")
    L.append("| workload | what | loops | plain median s |")
    L.append("|---|---|---:|---:|")
    for w in workloads:
        pm = summary["plain_median"].get(w)
        L.append(f"| {w} | {WORKLOADS[w][2]} | {meta['loops'][w]} | {'—' if pm is None else f'{pm:.3f}'} |")
    samplers = [t for t in tool_order if tools_by_name[t].sampler and not tools_by_name[t].problem]
    if samplers:
        L.append("")
        L.append("Sampler's own CPU, % of one core, per workload:")
        L.append("")
        L.append("| tool | " + " | ".join(workloads) + " |")
        L.append("|---|" + "---:|" * len(workloads))
        for t in samplers:
            per = summary["tools"][t]["sampler_cpu_pct"]
            L.append(f"| {t} | " + " | ".join(f"{per[w]:.1f}%" if w in per else "—" for w in workloads) + " |")
    L.append("")
    L.append("Tools:")
    L.append("")
    for t in tool_order:
        tool = tools_by_name[t]
        ver = ", ".join(f"{p} {meta['versions'].get(p.lower(), '?')}" for p in tool.packages)
        L.append(f"- **{t}**: {tool.note}" + (f" — {ver}" if ver else ""))
    issues = []
    for t in tool_order:
        tool = tools_by_name[t]
        if tool.problem:
            issues.append(f"- **{t}** not measured: {tool.problem}")
        else:
            for f in summary["tools"][t]["failures"]:
                last = (f.get("stderr") or "").splitlines()[-1:] or [""]
                issues.append(f"- **{t}** failed a run of {f['workload']}: {f['error']} {last[0]}".rstrip())
    for k, v in problems.items():
        if k.startswith("workload:"):
            issues.append(f"- workload **{k[9:]}** not measured: {v}")
        elif not any(k in tools_by_name[t].packages for t in tool_order):
            issues.append(f"- package **{k}**: {v}")
    if issues:
        L.append("")
        L.append("Problems:")
        L.append("")
        L.extend(dict.fromkeys(issues))      # de-duplicated, in order
    L.append("")
    L.append("Caveat: a 2-core machine that may be shared (compiles, other jobs); the plain "
             "row's *worst run* shows the run-to-run noise floor — differences smaller than "
             "that are not significant.")
    return "\n".join(L) + "\n"


def pool(paths):
    """Several result files of the same workloads read as one run: each
    file's rounds are kept whole (a tool a file lacks is padded with absent
    runs, so that run i still pairs with plain run i), then summarized the
    same way.  Returns the markdown."""
    loaded, tools, workloads = [], [], []
    for path in paths:
        try:
            with open(path) as f:
                d = json.load(f)
            runs = d["runs"]
            if not isinstance(runs, dict):
                raise ValueError("no runs")
        except (OSError, ValueError, KeyError, TypeError) as e:
            sys.exit(f"bench: {path}: not a bench result file ({e})")
        loaded.append((path, d))
        for w, by_tool in runs.items():
            if w in WORKLOADS and w not in workloads:
                workloads.append(w)
            for t in by_tool:
                if t not in tools:
                    tools.append(t)
    if "plain" not in tools:
        sys.exit("bench: --pool: no plain runs in these files")
    results = {w: {t: [] for t in tools} for w in workloads}
    for _, d in loaded:
        for w in workloads:
            by_tool = d["runs"].get(w)
            if not by_tool:
                continue
            n = len(by_tool.get("plain", []))
            for t in tools:
                got = by_tool.get(t, [])
                results[w][t].extend(got[:n] + [{"ok": False, "absent": True}] * (n - len(got)))
    summary = summarize(results, tools, workloads)
    L = [f"# Pooled: {', '.join(os.path.basename(p) for p, _ in loaded)}", "",
         "Each file's rounds kept whole. Cells: the median, over every round of every file, of a "
         "run's wall time over the plain run of its own round. *paired*: their geometric mean over "
         "workloads. *runs*: runs that completed (the files' plain medians differ from day to day, "
         "so only paired ratios pool).", ""]
    head = ["tool", *workloads, "paired", "runs", "worst paired"]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for t in tools:
        if t == "plain":
            continue
        st = summary["tools"][t]
        wp = st.get("worst_paired")
        L.append(f"| {t} | " + " | ".join(fmt_ratio(st["paired_median"].get(w)) for w in workloads)
                 + f" | **{fmt_ratio(st['geomean_paired'])}** | {st['runs_ok']} | "
                 + ("—" if not wp else f"{wp['ratio']:.3f} ({wp['workload']})") + " |")
    return "\n".join(L) + "\n"


def out_paths(outdir, stamp):
    os.makedirs(outdir, exist_ok=True)
    base = os.path.join(outdir, stamp)
    n = 1
    while os.path.exists(base + ".md") or os.path.exists(base + ".json"):
        n += 1
        base = os.path.join(outdir, f"{stamp}-{n}")
    return base + ".md", base + ".json"


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=DEFAULT_PYTHON,
                    help=f"Python that runs the workloads and tools (default {DEFAULT_PYTHON})")
    ap.add_argument("--stetho", help="stetho binary (default: build/stetho, else stetho on PATH)")
    ap.add_argument("--baseline-stetho", metavar="PATH",
                    help="another stetho binary (e.g. a build of the commit before a change): "
                         "adds tools stetho-base [ARGS], interleaved with stetho [ARGS]")
    ap.add_argument("--tools", help="comma-separated subset of tools (see --list)")
    ap.add_argument("--workloads", help="comma-separated subset of workloads (see --list)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per tool and workload (default 5)")
    ap.add_argument("--stetho-args", action="append", default=[], metavar="ARGS",
                    help="an extra stetho configuration, e.g. '--interval 1' (repeatable)")
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: {QUICK_WORKLOAD}, 2 runs, plain + stetho; results under bench/.work/")
    ap.add_argument("--out", help="results directory (default bench/results, --quick: bench/.work/results)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the per-round tool order")
    ap.add_argument("--time-budget", type=float, metavar="MIN",
                    help="start no new workload after MIN minutes (the rest is reported as skipped)")
    ap.add_argument("--timeout-factor", type=float, default=30.0,
                    help="a run is killed after this many times the workload's plain time (default 30)")
    ap.add_argument("--calibrate", action="store_true",
                    help="print loop counts that make each workload last --target-seconds plain, and exit")
    ap.add_argument("--target-seconds", type=float, default=1.25)
    ap.add_argument("--list", action="store_true", help="list tools and workloads, and exit")
    ap.add_argument("--pool", nargs="+", metavar="JSON",
                    help="read these result files as one run (their rounds pooled) and print "
                         "the paired table; nothing is run")
    args = ap.parse_args()
    if args.out:        # the run works in a scratch directory: resolve --out first
        args.out = os.path.abspath(args.out)

    all_tools = make_tools(args.stetho_args, baseline=bool(args.baseline_stetho))
    by_name = {t.name: t for t in all_tools}
    if args.pool:
        sys.stdout.write(pool(args.pool))
        return 0
    if args.list:
        print("tools:")
        for t in all_tools:
            print(f"  {t.name:20s} {t.note}")
        print("workloads:")
        for w, (src, loops, note) in WORKLOADS.items():
            print(f"  {w:14s} loops {loops:<6d} {note}  [{src}]")
        return 0

    if args.quick:
        tool_names = ["plain", "stetho"]
        workloads = [QUICK_WORKLOAD]
        args.runs = 2
    else:
        tool_names = [t.name for t in all_tools]
        if args.tools:
            want = [x.strip() for x in args.tools.split(",") if x.strip()]
            bad = [x for x in want if x not in by_name]
            if bad:
                sys.exit(f"bench: unknown tool(s) {', '.join(bad)}; see --list")
            extra = [t.name for t in all_tools
                     if t.name.startswith(("stetho ", "stetho-base"))]
            tool_names = list(dict.fromkeys(["plain", *want, *extra]))
        workloads = list(WORKLOADS)
        if args.workloads:
            workloads = [x.strip() for x in args.workloads.split(",") if x.strip()]
            bad = [x for x in workloads if x not in WORKLOADS]
            if bad:
                sys.exit(f"bench: unknown workload(s) {', '.join(bad)}; see --list")
    if args.runs < 1:
        sys.exit("bench: --runs must be at least 1")
    tool_names = list(dict.fromkeys(["plain", *tool_names]))   # plain is the baseline
    tools = [by_name[n] for n in tool_names]

    started = time.time()
    loadavg_before = "%.2f %.2f %.2f" % os.getloadavg()
    python = os.path.abspath(os.path.expanduser(args.python))
    if not os.access(python, os.X_OK):
        sys.exit(f"bench: no Python at {python} (use --python)")
    version = python_version(python)
    venv = ensure_venv(python, version)
    vpy = os.path.join(venv, "bin", "python")

    packages = []
    for t in tools:
        packages += t.packages
    for w in workloads:
        if WORKLOADS[w][0].startswith("pyperformance:"):
            packages.append("pyperformance")
    for w in workloads:
        packages += WORKLOAD_PACKAGES.get(w, [])
    problems = ensure_packages(vpy, list(dict.fromkeys(packages)))
    for t in tools:
        for p in t.packages:
            if p in problems:
                t.problem = problems[p]
    if "numpy" in problems:
        problems["workload:alloc_buffers (numpy part)"] = problems["numpy"]
    for w in [w for w in workloads if w != "alloc_buffers"]:
        missing = [p for p in WORKLOAD_PACKAGES.get(w, []) if p in problems]
        if missing:
            problems[f"workload:{w}"] = "not installed: " + ", ".join(missing)
            workloads.remove(w)

    stetho, stetho_real = find_stetho(args.stetho)
    stetho_version = "?"
    if stetho:
        out = sh([stetho, "--version"])
        stetho_version = out.stdout.strip() or "?"
    for t in tools:
        if t.name.startswith("stetho") and not stetho:
            t.problem = "no stetho binary (build it with `ninja -C build`, or pass --stetho)"

    scratch = tempfile.mkdtemp(prefix="stetho-bench-")
    os.chdir(scratch)        # stray output files of tools land here
    stetho_base = None
    if args.baseline_stetho:
        stetho_base, _ = find_stetho(args.baseline_stetho, "stetho-base-snapshot")
        if not stetho_base:
            sys.exit(f"bench: no stetho binary at {args.baseline_stetho}")
    ctx = {"python": vpy, "venv": venv, "stetho": stetho, "scratch": scratch,
           "stetho_base": stetho_base}
    env = run_env(ctx)
    scripts = materialize_workloads(workloads, vpy, problems)
    workloads = [w for w in workloads if w in scripts]
    if not workloads:
        sys.exit("bench: no workload can run: " + "; ".join(f"{k}: {v}" for k, v in problems.items()))

    if args.calibrate:
        log(f"bench: calibrating to {args.target_seconds} s plain with {vpy}")
        calibrate(ctx, scripts, args.target_seconds, env)
        shutil.rmtree(scratch, ignore_errors=True)
        return 0

    loops = {w: WORKLOADS[w][1] for w in workloads}
    run_counter = [0]

    def prog(w, n=None):
        return [scripts[w], "--bench-loops", str(loops[w] if n is None else n)]

    def one(tool, w, timeout, n=None):
        run_counter[0] += 1
        outdir = os.path.join(scratch, f"run{run_counter[0]}")
        res = run_once(tool.argv(ctx, prog(w, n), outdir), env, outdir, timeout)
        shutil.rmtree(outdir, ignore_errors=True)
        return res

    # Preflight: every tool once on a short run of the first workload; a tool
    # that fails here is reported and left out.  Doubles as a cache warm-up.
    log(f"bench: python {version}, stetho {stetho_version}, scratch {scratch}")
    for t in tools:
        if t.problem:
            log(f"bench: {t.name}: NOT AVAILABLE: {t.problem}")
            continue
        r = one(t, workloads[0], 300, n=1)
        if not r["ok"]:
            t.problem = f"preflight run failed ({r.get('error')}): " + " | ".join(
                (r.get("stderr") or "").splitlines()[-3:])
            log(f"bench: {t.name}: FAILED preflight: {t.problem}")

    active = [t for t in tools if not t.problem]
    if by_name["plain"].problem:
        sys.exit(f"bench: plain python fails: {by_name['plain'].problem}")
    rng = random.Random(args.seed)
    results = {}
    order_log = {}
    interrupted = None
    try:
        for wi, w in enumerate(workloads):
            if args.time_budget and (time.time() - started) / 60 > args.time_budget:
                interrupted = f"time budget of {args.time_budget} min spent; skipped: {', '.join(workloads[wi:])}"
                log(f"bench: {interrupted}")
                break
            warm = one(by_name["plain"], w, 600)        # untimed warm-up
            if not warm["ok"]:
                problems[f"workload:{w}"] = f"plain run failed: {warm.get('error')} {warm.get('stderr', '')}"
                log(f"bench: {w}: plain run failed, skipped")
                continue
            timeout = max(60.0, args.timeout_factor * warm["wall"])
            results[w] = {t.name: [] for t in active}
            order_log[w] = []
            for i in range(args.runs):
                order = active[:]
                rng.shuffle(order)
                order_log[w].append([t.name for t in order])
                for t in order:
                    r = one(t, w, timeout)
                    results[w][t.name].append(r)
                    tag = f"{r['wall']:.3f}s" if r.get("wall") else "-"
                    if not r["ok"]:
                        tag += " FAILED: " + (r.get("error") or "")
                    log(f"  [{w} {i + 1}/{args.runs}] {t.name:20s} {tag}")
    except KeyboardInterrupt:
        interrupted = "interrupted by the user"
        log("bench: interrupted; writing what was measured")

    done = [w for w in workloads if w in results and results[w].get("plain")]
    summary = summarize(results, [t.name for t in active], done)
    meta = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "host": socket.gethostname(),
        "python": python, "python_version": version, "venv_python": vpy,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "loadavg_before": loadavg_before,
        "loadavg_after": "%.2f %.2f %.2f" % os.getloadavg(),
        "stetho_path": stetho_real, "stetho_version": stetho_version,
        "stetho_sha256": sha256(stetho) if stetho and os.path.isfile(stetho) else None,
        "git": git_info(),
        "runs": args.runs, "seed": args.seed,
        "loops": loops,
        "versions": installed_packages(vpy),
        "elapsed_s": time.time() - started,
        "interrupted": interrupted,
        "argv": sys.argv[1:],
    }
    md = markdown(meta, summary, by_name, tool_names, done, problems)
    outdir = args.out or (os.path.join(WORK, "results") if args.quick else os.path.join(BENCH, "results"))
    stamp = datetime.date.today().isoformat() + "-" + socket.gethostname().split(".")[0]
    md_path, json_path = out_paths(outdir, stamp)
    with open(md_path, "w") as f:
        f.write(md)
    with open(json_path, "w") as f:
        json.dump({"meta": meta,
                   "tools": {t: {"note": by_name[t].note, "packages": by_name[t].packages,
                                 "sampler": by_name[t].sampler, "problem": by_name[t].problem}
                             for t in tool_names},
                   "workloads": {w: {"source": WORKLOADS[w][0], "loops": loops[w]} for w in done},
                   "problems": problems, "order": order_log,
                   "summary": summary, "runs": results}, f, indent=1)
    shutil.rmtree(scratch, ignore_errors=True)
    print(md)
    log(f"bench: wrote {md_path} and {json_path}")
    failed = [t.name for t in tools if t.problem] + [
        t for t, s in summary["tools"].items() if s["runs_failed"]]
    # Exit status for scripts: 0 when plain and stetho measured cleanly.
    core_ok = all(not by_name[n].problem and summary["tools"].get(n, {}).get("runs_failed", 1) == 0
                  and summary["tools"].get(n, {}).get("runs_ok", 0) > 0
                  for n in tool_names if n == "plain" or n.startswith("stetho"))
    if failed:
        log(f"bench: problems with: {', '.join(dict.fromkeys(failed))}")
    return 0 if core_ok and not interrupted else 1


if __name__ == "__main__":
    sys.exit(main())
