"""Exact call counts (`stetho run --calls`) end to end, on every interpreter.

tests/programs/calls_workload.py runs its workload (recursion, mutual
recursion, generators, coroutines, exceptions raised through two frames, C
functions and methods) once in the main thread and once more in a thread
started later.  The same program run under cProfile with CALLS_NO_THREAD=1
(cProfile sees only the thread that enabled it, and runs the workload once)
is the reference: for every workload function (w_*), stetho's counts --
all and primitive -- are exactly twice cProfile's, and so is every caller ->
callee edge whose caller is a workload function (C functions included, so
the callee's other callers in the interpreter do not matter).  The figures
are read from stetho's pstats export (w_spin's callees, whose counts
depend on time, are left out) with pstats itself, the way cProfile's
are.  `table --calls` shows the same counts.  w_spin times itself: its
cumulative time is within 10% of the program's own measure.
"""
import json
import os
import pstats
import re

import pytest

from conftest import PROGRAMS, REPO, run

PROGRAM = PROGRAMS / "calls_workload.py"
TIME_TOL = 0.10


def workload(key):
    return os.path.basename(key[0]) == PROGRAM.name and key[2].startswith("w_")


def norm(key):
    """cProfile names a Python function by co_name, stetho (like its samples)
    by co_qualname on 3.11+: compare by the last part."""
    file, line, name = key
    return key if file == "~" else (file, line, name.rsplit(".", 1)[-1])


def load(path):
    stats = pstats.Stats(str(path)).stats
    return {norm(k): (cc, nc, tt, ct, {norm(c): v for c, v in callers.items()})
            for k, (cc, nc, tt, ct, callers) in stats.items()}


@pytest.fixture
def counted(python, stetho, tmp_path):
    cap = tmp_path / "calls.stetho"
    truth = tmp_path / "truth.json"
    cp = run([stetho, "run", "-q", "--calls", "--memory", "off", "-o", str(cap), "--",
              python.path, str(PROGRAM), str(truth)], cwd=tmp_path, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode()
    out = tmp_path / "stetho.pstats"
    cp = run([stetho, "export", str(cap), "-f", "pstats", "-o", str(out)])
    assert cp.returncode == 0, cp.stderr.decode()

    ref = tmp_path / "cprofile.pstats"
    env = dict(os.environ, CALLS_NO_THREAD="1")
    cp = run([python.path, "-m", "cProfile", "-o", str(ref), str(PROGRAM),
              str(tmp_path / "ref.json")], env=env, cwd=tmp_path, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode()
    return cap, load(out), load(ref), json.loads(truth.read_text())


def test_counts_equal_cprofiles(counted):
    _, ours, ref, _ = counted
    funcs = [k for k in ref if workload(k)]
    # every kind of call the workload makes is there to compare
    names = {k[2] for k in funcs}
    assert {"w_fib", "w_even", "w_odd", "w_gen", "w_inner", "w_coro", "w_raise",
            "w_middle", "w_builtins", "w_spin", "w_suite"} <= names
    for k in funcs:
        assert k in ours, f"{k} not counted"
        cc, nc = ref[k][0], ref[k][1]
        assert (ours[k][0], ours[k][1]) == (2 * cc, 2 * nc), k


def test_caller_edges_equal_cprofiles(counted):
    _, ours, ref, _ = counted
    edges = 0
    c_edges = 0
    for callee, st in ref.items():
        for caller, (nc, cc, _tt, _ct) in st[4].items():
            if not workload(caller) or caller[2] == "w_spin":   # w_spin's depend on time
                continue
            edges += 1
            c_edges += callee[0] == "~"
            assert callee in ours and caller in ours[callee][4], (caller, callee)
            got = ours[callee][4][caller]
            assert (got[0], got[1]) == (2 * nc, 2 * cc), (caller, callee)
    assert edges >= 20 and c_edges >= 8      # C functions and methods among them


def test_time_within_10_percent_of_the_programs_own(counted):
    _, ours, _, truth = counted
    spin = [v for k, v in ours.items() if workload(k) and k[2] == "w_spin"]
    assert len(spin) == 1
    cum = spin[0][3]
    own = truth["spin_seconds"]
    assert abs(cum - own) <= TIME_TOL * own, (cum, own)


def test_table_shows_the_counts(counted, stetho):
    cap, ours, _, _ = counted
    cp = run([stetho, "table", str(cap), "--calls", "--limit", "0"])
    assert cp.returncode == 0, cp.stderr.decode()
    lines = cp.stdout.decode().splitlines()
    assert "ncalls" in lines[3] and "cumtime" in lines[3] and "user" in lines[3]
    rows = {}
    for line in lines[4:]:
        m = re.match(r"\s*(\d+)(?:/(\d+))?\s.*\((w_\w+)\)$", line)
        if m:
            rows[m.group(3)] = (int(m.group(1)), int(m.group(2) or m.group(1)))
    for k, v in ours.items():
        if workload(k):
            assert rows[k[2]] == (v[1], v[0]), k


def test_tree_shows_the_counts(counted, stetho):
    """Each sampled node of a counted function shows the function's count
    and, under its caller's node, that edge's: the pstats export's."""
    cap, ours, _, _ = counted
    cp = run([stetho, "tree", str(cap), "--min-percent", "0"])
    assert cp.returncode == 0, cp.stderr.decode()
    by_name = {k[2]: v for k, v in ours.items() if workload(k)}
    seen = 0
    for m in re.finditer(r" (w_\w+)  \S+  \[(\d+)(?:/(\d+))? calls?(?:, (\d+)(?:/(\d+))? "
                         r"from (\w+))?\]", cp.stdout.decode()):
        name, n, prim, en, eprim, caller = m.groups()
        cc, nc, _, _, callers = by_name[name]
        assert (int(n), int(prim or n)) == (nc, cc), m.group(0)
        if caller:
            ckey = next(k for k in callers if k[2] == caller)
            enc, ecc = callers[ckey][:2]       # pstats: a caller's (nc, cc, ...)
            assert (int(en), int(eprim or en)) == (enc, ecc), m.group(0)
            seen += 1
    assert seen >= 2, cp.stdout.decode()      # w_spin under w_suite, in both threads


def test_calls_compose_with_memory(python, stetho, tmp_path):
    cap = tmp_path / "both.stetho"
    cp = run([stetho, "run", "-q", "--calls", "--memory", "exact", "-o", str(cap), "--",
              python.path, str(PROGRAM), str(tmp_path / "t.json")], cwd=tmp_path, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode()
    cp = run([stetho, "table", str(cap), "--calls", "--limit", "0"])
    assert cp.returncode == 0 and b"(w_fib)" in cp.stdout
    cp = run([stetho, "stats", str(cap)])
    assert cp.returncode == 0 and b"alloc" in cp.stdout.lower()


def test_the_floor_delivers_the_events_and_counts_nothing(python, stetho, tmp_path):
    """STETHO_CALLS_FLOOR=1 (bench's stetho-calls-floor): the same events go
    to callbacks that return at once -- the program runs to its end as
    under --calls, and no call is counted."""
    cap, truth = tmp_path / "floor.stetho", tmp_path / "t.json"
    env = dict(os.environ, STETHO_CALLS_FLOOR="1")
    cp = run([stetho, "run", "-q", "--calls", "--memory", "off", "-o", str(cap), "--",
              python.path, str(PROGRAM), str(truth)], cwd=tmp_path, timeout=120, env=env)
    assert cp.returncode == 0, cp.stderr.decode()
    assert json.loads(truth.read_text()), "the program did not finish its workload"
    cp = run([stetho, "table", str(cap), "--calls"])
    assert cp.returncode == 2 and b"(w_fib)" not in cp.stdout, cp.stdout.decode()
    cp = run([stetho, "table", str(cap), "--limit", "0"])
    assert cp.returncode == 0 and b"w_" in cp.stdout, "the samples are still taken"


def test_table_calls_without_counts_is_an_error(python, stetho, tmp_path):
    cap = tmp_path / "plain.stetho"
    cp = run([stetho, "run", "-q", "--memory", "off", "-o", str(cap), "--",
              python.path, "-c", "pass"], cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr.decode()
    cp = run([stetho, "table", str(cap), "--calls"])
    assert cp.returncode == 2
    assert cp.stderr.decode().startswith("stetho: ") and "--calls" in cp.stderr.decode()


def test_subprocesses_count_each_process(python, stetho, tmp_path):
    prog = tmp_path / "parent.py"
    prog.write_text(
        "import subprocess, sys\n"
        "def w_parent():\n    return 1\n"
        "w_parent(); w_parent()\n"
        "subprocess.run([sys.executable, '-c', "
        "'def w_child():\\n    pass\\nfor i in range(3): w_child()'], check=True)\n")
    cap = tmp_path / "sub.stetho"
    cp = run([stetho, "run", "-q", "--calls", "--subprocesses", "--memory", "off", "-o", str(cap),
              "--", python.path, str(prog)], cwd=tmp_path, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode()
    cp = run([stetho, "table", str(cap), "--calls", "--limit", "0"])
    rows = {m.group(2): int(m.group(1)) for m in
            re.finditer(r"^\s*(\d+)\s.*\((w_\w+)\)$", cp.stdout.decode(), re.M)}
    assert rows == {"w_parent": 2, "w_child": 3}


def test_counts_after_the_program_closes_our_descriptor(python, stetho, tmp_path):
    """A program that closes every descriptor above 2 (a daemon's
    os.closerange) closes the agent's call-count FIFO too: it is opened
    again, and the counts arrive (before: "no call counts")."""
    prog = tmp_path / "daemon.py"
    prog.write_text(
        "import os\n"
        "def w_before():\n    return 1\n"
        "def w_after():\n    return 2\n"
        "w_before()\n"
        "os.closerange(3, os.sysconf('SC_OPEN_MAX'))\n"
        "mine = [os.open(os.devnull, os.O_RDONLY) for _ in range(64)]\n"
        "for i in range(1000): w_after()\n")
    cap = tmp_path / "daemon.stetho"
    cp = run([stetho, "run", "-q", "--calls", "--memory", "off", "-o", str(cap),
              "--", python.path, str(prog)], cwd=tmp_path, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode()
    cp = run([stetho, "table", str(cap), "--calls", "--limit", "0"])
    assert cp.returncode == 0, cp.stderr.decode()
    rows = {m.group(2): int(m.group(1)) for m in
            re.finditer(r"^\s*(\d+)\s.*\((w_\w+)\)$", cp.stdout.decode(), re.M)}
    assert rows == {"w_before": 1, "w_after": 1000}


def test_no_counts_from_a_killed_program_is_said(python, stetho, tmp_path):
    cap = tmp_path / "killed.stetho"
    cp = run([stetho, "run", "-q", "--calls", "--memory", "off", "-o", str(cap), "--",
              python.path, "-c", "import os; os._exit(3)"], cwd=tmp_path)
    assert cp.returncode == 3
    assert b"stetho: no call counts" in cp.stderr
    cp = run([stetho, "table", str(cap), "--calls"])
    assert cp.returncode == 2


def test_a_killed_program_keeps_the_counts_of_its_earlier_seconds(python, stetho, tmp_path):
    """The agent sends its table every second: a program killed by SIGKILL
    after 3 s has w_tick's count of some moment in its last ~1 s."""
    cap, progress = tmp_path / "killed.stetho", tmp_path / "progress.txt"
    cp = run([stetho, "run", "-q", "--calls", "--memory", "off", "-o", str(cap), "--",
              python.path, str(PROGRAMS / "calls_killed.py"), str(progress), "3"],
             cwd=tmp_path, timeout=120)
    assert cp.returncode == 128 + 9, cp.stderr.decode()
    assert b"no call counts" not in cp.stderr
    marks = [tuple(map(float, line.split())) for line in progress.read_text().splitlines()]
    end = marks[-1][0]
    out = tmp_path / "stetho.pstats"
    cp = run([stetho, "export", str(cap), "-f", "pstats", "-o", str(out)])
    assert cp.returncode == 0, cp.stderr.decode()
    counted = [nc for (file, line, name), (cc, nc, tt, ct, callers) in
               pstats.Stats(str(out)).stats.items() if name.endswith("w_tick")]
    assert len(counted) == 1
    # a send per second: the last one after end - 1 s, give or take a
    # loaded machine's slack; never more calls than were made
    before = max([c for t, c in marks if t <= end - 1.6] or [0])
    assert before > 0
    assert before <= counted[0] <= marks[-1][1]


@pytest.mark.parametrize("memory", ["off", "sampled"])
def test_api_calls_equal_cprofiles_in_the_same_window(python, stetho, tmp_path, memory):
    """stetho.profile(calls=True) around the workload counts what cProfile
    enabled around the same workload counts, edges included; with memory
    recorded or not."""
    cap, ref = tmp_path / "api.stetho", tmp_path / "ref.pstats"
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"), STETHO=stetho)
    env.pop("STETHO_AGENT", None)
    cp = run([python.path, str(PROGRAMS / "calls_api.py"), str(cap), memory, str(ref)],
             cwd=tmp_path, env=env, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode()
    out = tmp_path / "api.pstats"
    cp = run([stetho, "export", str(cap), "-f", "pstats", "-o", str(out)])
    assert cp.returncode == 0, cp.stderr.decode()
    ours, theirs = load(out), load(ref)

    def mine(key):
        return os.path.basename(key[0]) == "calls_workload.py" and key[2].startswith("w_")

    keys = {k for k in theirs if mine(k)}
    assert len(keys) >= 12
    for k in keys:
        assert ours[k][:2] == theirs[k][:2], k
    for callee, (_, _, _, _, callers) in theirs.items():
        for caller, v in callers.items():
            if mine(caller) and "w_spin" not in caller[2]:
                assert ours[callee][4][caller][:2] == v[:2], (caller, callee)



def test_attach_takes_calls_only_from_the_api(stetho):
    """Counting is set up inside the program: attach refuses --calls unless
    the Python API drives it (--handshake), with one line and exit 2."""
    cp = run([stetho, "attach", "--calls", str(os.getpid())])
    assert cp.returncode == 2
    err = cp.stderr.decode()
    assert err.startswith("stetho: attach: --calls is for run") and err.count("\n") == 1, err
