"""End-to-end tests of libstetho_agent.so, run against every interpreter.

Each test starts a program from tests/agent/programs with the agent
preloaded (harness.py), decodes the FIFO's chunks (decode.py) and checks
what the agent saw.  The agent is build/libstetho_agent.so, or
$STETHO_AGENT_LIB.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import PROGRAMS, agent_path, preload, run_agent, run_plain  # noqa: E402
from conftest import kernel_has_membarrier  # noqa: E402

PY_ALLOCATORS = ("pymem_raw", "pymem", "pyobject")


@pytest.fixture(scope="session", autouse=True)
def agent_built():
    if not os.path.isfile(agent_path()):
        pytest.skip(f"agent not built: {agent_path()} (ninja -C build)")


def line_of(program, marker):
    for i, text in enumerate((PROGRAMS / program).read_text().splitlines(), 1):
        if "# " + marker in text:
            return i
    raise AssertionError(f"no {marker} in {program}")


def live_at(events, stop):
    """addr -> alloc event for the blocks live when event `stop` came."""
    live = {}
    for e in events:
        if e is stop:
            return live
        if e.kind == "alloc":
            live[e.addr] = e
        elif e.kind == "free":
            live.pop(e.addr, None)
    raise AssertionError("stop event not found")


def has_frame(e, name):
    return any(f.name == name or f.name.endswith("." + name) for f in e.stack)


# --------------------------------------------------------------------------

def test_basic_attribution(python):
    prog = str(PROGRAMS / "basic.py")
    r = run_agent(python.path, [prog])
    plain, _ = run_plain(python.path, [prog])
    # the program's output and status are its own
    assert r.returncode == plain.returncode == 3, r.stderr
    assert r.stdout == plain.stdout
    out = json.loads(r.stdout)
    assert out["env"] == {}, "the program saw stetho's environment"
    info = json.loads(r.stderr.strip().splitlines()[-1])

    allocs = [e for e in r.events if e.kind == "alloc"]
    assert allocs and all(e.pid == allocs[0].pid for e in r.events)

    # 10 MB bytearray: one ALLOC, innermost frame big_bytearray at its line
    big = [e for e in allocs if 10_000_000 <= e.size <= 10_000_100]
    assert len(big) == 1, [(e.allocator, e.size) for e in big]
    big = big[0]
    assert big.allocator in PY_ALLOCATORS
    assert big.stack[0].name == "big_bytearray"
    assert big.stack[0].line == line_of("basic.py", "BIG_LINE")
    assert big.stack[0].file == prog
    assert big.stack[-1].name == "<module>"
    # ... and its FREE (del b), after it
    i = r.events.index(big)
    assert any(e.kind == "free" and e.addr == big.addr for e in r.events[i + 1:])

    # ctypes malloc(5_000_000): a MALLOC from native_malloc, then its free
    nat = [e for e in allocs if e.allocator == "malloc" and e.size == 5_000_000]
    assert len(nat) == 1

    # 1000 bytes objects of 1000 bytes, alive while native_malloc runs:
    # attributed to many_bytes within 2%
    live = live_at(r.events, nat[0])
    many = sum(e.size for e in live.values() if has_frame(e, "many_bytes"))
    assert abs(many - info["many_bytes"]) <= 0.02 * info["many_bytes"], (many, info)
    assert nat[0].addr == info["native_addr"]
    assert nat[0].stack[0].name == "native_malloc"
    assert nat[0].stack[0].line == line_of("basic.py", "NATIVE_LINE")
    assert any(e.kind == "free" and e.allocator == "malloc" and e.addr == nat[0].addr
               for e in r.events)

    # FINALIZING exactly once; no Python-domain event after it
    fin = [i for i, e in enumerate(r.events) if e.kind == "finalizing"]
    assert len(fin) == 1
    assert not [e for e in r.events[fin[0]:] if e.allocator in PY_ALLOCATORS]
    # every domain was seen
    seen = {e.allocator for e in allocs}
    assert {"pymem_raw", "pymem", "pyobject", "malloc"} <= seen, seen


def test_time_stamps(python):
    r = run_agent(python.path, [str(PROGRAMS / "sampled.py")])
    assert r.returncode == 0, r.stderr
    assert all(r.start_ns <= e.t_ns <= r.end_ns for e in r.events)
    # in order within a thread's stream, to within the rate estimate's error;
    # but for a small block the nursery held back (agent/nursery.h): its
    # ALLOC is written when it is let go, with its own, earlier stamp
    last = {}
    for e in r.events:
        k = (e.pid, e.tid)
        if e.kind == "temps" or (e.kind == "alloc" and e.size <= 512 and e.allocator != "mmap"):
            continue
        assert e.t_ns >= last.get(k, 0) - 50_000, (e, last[k])
        last[k] = max(last.get(k, 0), e.t_ns)


def test_threads(python):
    r = run_agent(python.path, [str(PROGRAMS / "threads.py")])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "800"
    tids = {}
    for i in range(4):
        size = 10_000 + 1000 * i + 1
        mine = [e for e in r.events if e.kind == "alloc" and e.size == size]
        assert len(mine) >= 200, (i, len(mine))
        assert all(has_frame(e, f"worker_{i}") for e in mine), mine[0].stack
        tids[i] = {e.tid for e in mine}
        assert len(tids[i]) == 1
    assert len(set.union(*tids.values())) == 4
    assert all(t != r.events[0].pid for s in tids.values() for t in s)


@pytest.mark.parametrize("mode", ["exact", "sampled:65536"])
@pytest.mark.parametrize("end", ["finalize", "exit"])
def test_mappings_measured_as_they_go(python, mode, end):
    """The agent measures a recorded mapping's resident part itself
    (mincore) and sends it (RESIDENT) before the mapping goes, after a cut
    that leaves part of it, and for a live one at the end -- before
    FINALIZING, or at os._exit: stetho may read all this long after."""
    args = [str(PROGRAMS / "mapper.py")] + (["exit"] if end == "exit" else [])
    r = run_agent(python.path, args, mode=mode)
    assert r.returncode == 0, r.stderr
    a = json.loads(r.stdout)
    mb = 1 << 20
    w, c, f, k = a["whole"], a["cut"], a["fixed"], a["kept"]
    want = [("alloc", w, 8), ("resident", w, 2), ("free", w, None),
            ("alloc", c, 8), ("resident", c, 8), ("resident", c, 6),     # its tail cut
            ("resident", c, 6), ("resident", c, 4),                      # a hole
            ("resident", c, 4), ("free", c, None),                       # its start
            ("alloc", f, 4), ("resident", f, 4), ("free", f, None),      # MAP_FIXED over it
            ("alloc", f, 4), ("resident", f, 0), ("free", f, None),
            ("alloc", k, 4), ("resident", k, 1)]
    if end == "finalize":
        want.append(("finalizing", 0, None))
    addrs = {w, c, f, k}
    got = [e for e in r.events if e.kind == "finalizing" or
           (e.allocator == "mmap" and e.addr in addrs)]
    i = 0
    for e in got:
        if i == len(want):
            break
        kind, addr, size = want[i]
        if e.kind != kind or (kind != "finalizing" and e.addr != addr):
            continue
        if kind == "alloc":
            assert e.size == size * mb, (i, e)
        elif kind == "resident":
            # transparent huge pages may make a touched page's neighbours
            # resident too: never less than touched, at most 2 MiB more
            if not size * mb <= e.size <= size * mb + 2 * mb:
                continue
        i += 1
    assert i == len(want), (want[i], [(e.kind, e.addr, e.size) for e in got])
    # nothing about a mapping after the process began to finalize
    fin = [j for j, e in enumerate(r.events) if e.kind == "finalizing"]
    assert len(fin) == (end == "finalize")
    if fin:
        assert not [e for e in r.events[fin[0] + 1:] if e.kind == "resident"]


def test_local_frees_only_while_alone(python):
    """A free matched within its chunk (FREE_LOCAL) says its block was not
    freed by another thread in between: so the agent matches frees only
    while one thread records.  handoff.py passes blocks back and forth
    between two threads (an address comes back to its first thread without
    that thread allocating it), between two phases of one thread alone."""
    import bisect
    r = run_agent(python.path, [str(PROGRAMS / "handoff.py")])
    assert r.returncode == 0, r.stderr
    local = [e for e in r.events if e.kind == "free" and e.local]
    assert len(local) > 1000, len(local)      # the alone() phases use it
    by_thread = {}
    for e in r.events:
        if e.kind in ("alloc", "free"):
            by_thread.setdefault(e.tid, []).append(e.t_ns)
    for ts in by_thread.values():
        ts.sort()
    assert len(by_thread) >= 3, by_thread.keys()
    margin = 5_000          # threads' clocks agree to well under this (ns)
    for e in local:
        assert e.alloc_ns <= e.t_ns
        for tid, ts in by_thread.items():
            if tid == e.tid:
                continue
            i = bisect.bisect_right(ts, e.alloc_ns + margin)
            assert i == len(ts) or ts[i] >= e.t_ns - margin, (
                f"thread {tid} recorded at {ts[i]} while thread {e.tid} matched the free "
                f"of {e.addr:#x} allocated at {e.alloc_ns}, freed at {e.t_ns}")


def test_young_blocks_summed(python, tmp_path):
    """A thread recording alone sends its small blocks that die young as
    TEMPS sums (agent/nursery.h), and those it keeps as ALLOCs, each with
    its own stack: tests/programs/mem_young.py's churn() drops every block
    at once, keep() keeps them all, mixed() keeps one in three."""
    prog = Path(__file__).resolve().parents[1] / "programs" / "mem_young.py"
    r = run_agent(python.path, [str(prog), str(tmp_path / "t.json")])
    assert r.returncode == 0, r.stderr
    truth = json.loads((tmp_path / "t.json").read_text())

    def counts(fn):
        allocs = sum(1 for e in r.events if e.kind == "alloc" and has_frame(e, fn))
        temps = [e for e in r.events if e.kind == "temps" and has_frame(e, fn)]
        return allocs, sum(e.count for e in temps), sum(e.temporary for e in temps), temps
    allocs, summed, temporary, temps = counts("churn")
    n = truth["churn"]["count"]
    assert n <= allocs + summed <= n + 16, (allocs, summed)
    assert summed >= 0.99 * n and temporary >= 0.99 * n, (summed, temporary)
    assert all(e.allocator == "pyobject" and 2 ** (e.size_class - 1) * e.count <= e.size
               < 2 ** e.size_class * e.count for e in temps)
    allocs, summed, _, _ = counts("keep")
    assert truth["keep"]["count"] <= allocs <= truth["keep"]["count"] + 16 and summed <= 16
    allocs, summed, temporary, _ = counts("mixed")
    k = truth["mixed"]["count"] // 3
    assert k <= allocs + summed - 2 * k <= k + 16 and allocs >= k, (allocs, summed)
    assert k - 16 <= temporary <= k + 16, temporary


@pytest.mark.parametrize("follow", [False, True], ids=["nofollow", "follow"])
def test_fork_and_subprocess(python, follow):
    r = run_agent(python.path, [str(PROGRAMS / "forker.py")], follow=follow, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["child"] == "7000000" and out["status"] == 0
    pids = {e.pid for e in r.events}
    parent = min(pids, key=lambda p: min(e.t_ns for e in r.events if e.pid == p))
    child = out["child_pid"]
    if not follow:
        assert out["sub_env"] == []
        assert pids == {parent}, pids
        return
    assert "STETHO_AGENT_FIFO" in out["sub_env"] and "LD_PRELOAD" in out["sub_env"]
    cev = [e for e in r.events if e.pid == child and e.kind == "alloc" and e.size >= 7_000_000]
    assert cev and cev[0].stack[0].name == "child_work"
    assert cev[0].stack[0].line == line_of("forker.py", "CHILD_LINE")
    # the exec'd subprocess opened the FIFO itself
    others = pids - {parent, child}
    assert others, pids
    sub = [e for e in r.events if e.pid in others and e.kind == "alloc"
           and e.size >= 3_000_000]
    assert sub and sub[0].stack and sub[0].stack[0].name == "<module>"


def test_code_objects_recycled_deep_and_generators(python):
    r = run_agent(python.path, [str(PROGRAMS / "tricky.py")])
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    allocs = [e for e in r.events if e.kind == "alloc"]
    for i in range(200):
        mine = [e for e in allocs if e.size == 100_000 + i + 1]
        assert mine, i
        assert mine[0].stack[0].name == f"f_{i}", (i, mine[0].stack[:2])
    deep = [e for e in allocs if e.size == 2_000_001]
    assert len(deep) == 1
    assert sum(1 for f in deep[0].stack if f.name == "deep") == 301
    assert deep[0].stack[0].line == line_of("tricky.py", "DEEP_LINE")
    init = [e for e in allocs if e.size == 5_000_001]
    assert len(init) == 1
    assert init[0].stack[0].name.endswith("__init__")
    assert init[0].stack[0].line == line_of("tricky.py", "INIT_LINE")
    assert init[0].stack[1].name == "main", "3.13's __init__ shim frame was not left out"
    gen = [e for e in allocs if e.size == 3_000_001]
    assert gen and gen[0].stack[0].name == "gen"
    assert gen[0].stack[0].line == line_of("tricky.py", "GEN_LINE")


def test_numpy(python):
    probe = subprocess.run([python.path, "-c", "import numpy"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"numpy not installed for {python.id}")
    r = run_agent(python.path, [str(PROGRAMS / "with_numpy.py")])
    assert r.returncode == 0 and r.stdout.strip() == "16000000", r.stderr
    arr = [e for e in r.events if e.kind == "alloc" and e.size == 16_000_000]
    assert len(arr) == 1
    # numpy's data buffers come from the C allocator, or (newer numpy on
    # 3.12+) through PyMem_RawMalloc: either way one block of the array's size
    assert arr[0].allocator in ("malloc", "calloc", "memalign", "pymem_raw")
    # np.ones is Python code in numpy: our function is the first frame of ours
    ours = [f for f in arr[0].stack if f.file.endswith("with_numpy.py")]
    assert ours[0].name == "make_array"
    assert ours[0].line == line_of("with_numpy.py", "NUMPY_LINE")


def test_sampled_estimate(python):
    prog = [str(PROGRAMS / "sampled.py")]
    exact = run_agent(python.path, prog, mode="exact")
    mean = 65536
    samp = run_agent(python.path, prog, mode=f"sampled:{mean}")
    assert exact.returncode == samp.returncode == 0
    assert exact.stdout == samp.stdout
    # a temps event is its blocks' bytes (agent/nursery.h)
    truth = sum(e.size for e in exact.events if e.kind in ("alloc", "temps"))
    assert truth > 200_000_000
    sallocs = [e for e in samp.events if e.kind == "alloc"]
    assert sallocs and all(e.sampled_mean == mean for e in sallocs)
    est = sum(e.size / -math.expm1(-e.size / mean) for e in sallocs)
    assert abs(est - truth) <= 0.10 * truth, (est, truth)
    # frees only of sampled blocks
    live = set()
    for e in samp.events:
        if e.kind == "alloc":
            live.add(e.addr)
        elif e.kind == "free":
            assert e.addr in live, hex(e.addr)
            live.discard(e.addr)
    exact_events = sum(2 * e.count if e.kind == "temps" else 1 for e in exact.events)
    assert len(samp.events) < exact_events / 20


def test_non_python_is_inert():
    # not Python: forwards only, and leaves the environment alone, so that a
    # wrapper (a shell script, env, pyenv's shim) passes the agent on
    r = run_agent("/bin/sh", ["-c", 'echo "[${STETHO_AGENT_FIFO:+set}]"; exit 5'])
    assert r.returncode == 5
    assert r.stdout == "[set]\n"
    assert r.raw_bytes == 0


def test_through_a_wrapper(python):
    prog = str(PROGRAMS / "basic.py")
    r = run_agent("/bin/sh", ["-c", f'exec "{python.path}" "{prog}"'])
    assert r.returncode == 3, r.stderr
    assert json.loads(r.stdout)["env"] == {}
    assert any(e.kind == "alloc" and e.size == 5_000_000 and e.stack
               and e.stack[0].name == "native_malloc" for e in r.events)


def test_no_reader_is_inert(python, tmp_path):
    prog = str(PROGRAMS / "basic.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STETHO")}
    env["STETHO_AGENT_PRELOAD_ORIG"] = preload(env)
    env["STETHO_AGENT_FIFO"] = str(tmp_path / "missing")
    p = subprocess.run([python.path, prog], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 3 and json.loads(p.stdout)["env"] == {}
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)                     # exists, but nobody reads it
    env["STETHO_AGENT_FIFO"] = str(fifo)
    p = subprocess.run([python.path, prog], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 3 and json.loads(p.stdout)["env"] == {}


def test_preload_restored(python):
    code = "import os; print(os.environ.get('LD_PRELOAD'))"
    env = dict(os.environ)
    env["LD_PRELOAD"] = "libm.so.6"
    r = run_agent(python.path, ["-c", code], env=env)
    assert r.returncode == 0 and r.stdout == "libm.so.6\n", r.stderr


@pytest.mark.parametrize("follow", [False, True], ids=["nofollow", "follow"])
def test_exec(python, follow):
    r = run_agent(python.path, [str(PROGRAMS / "execer.py")], follow=follow)
    assert r.returncode == 0 and r.stdout == "after 6000000\n", r.stderr
    before = [e for e in r.events if e.kind == "alloc" and e.size == 4_000_001]
    assert len(before) == 1, "events held when exec came were lost"
    assert before[0].stack[0].name == "before_exec"
    after = [e for e in r.events if e.kind == "alloc" and e.size == 6_000_001]
    assert len(after) == (1 if follow else 0), r.stderr
    if follow:              # same pid, a new stream
        assert after[0].pid == before[0].pid and after[0].stack[0].name == "<module>"


def test_program_closes_our_descriptor(python, tmp_path):
    out = tmp_path / "mine"
    r = run_agent(python.path, [str(PROGRAMS / "closer.py"), str(out)])
    assert r.returncode == 0 and r.stdout == "100200\n", r.stderr
    assert out.read_bytes() == b"", "the agent wrote into the program's file"


def test_daemon_threads_at_exit(python):
    r = run_agent(python.path, [str(PROGRAMS / "daemon.py")], timeout=60)
    assert r.returncode == 0 and r.stdout == "bye\n", r.stderr
    assert len({e.tid for e in r.events}) >= 2


@pytest.mark.parametrize("membarrier", [True, False], ids=["membarrier", "lock-word"])
def test_threads_inside_the_agent_at_exit(python, membarrier):
    """The finalization's flush takes each thread's chunk while the thread
    may be inside its own event (rawexit.py: ctypes calls PyMem_RawMalloc and
    PyMem_RawFree without the GIL).  Owners enter with a plain store and the flush's membarrier
    (agent.h, thread_enter), or, as where membarrier is missing, with the
    lock word: either way no chunk is sent half-written and no event is
    lost or doubled -- each thread's blocks pair up, allocation before
    free, one at most still live when it was stopped."""
    if membarrier:
        assert kernel_has_membarrier(), "the kernel has no membarrier(2): the fast way is not tested"
    env = {} if membarrier else {"STETHO_AGENT_NO_MEMBARRIER": "1"}
    r = run_agent(python.path, [str(PROGRAMS / "rawexit.py")], agent_env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    size = int(r.stdout)
    by_tid = {}
    for e in r.events:
        if e.kind in ("alloc", "free") and e.allocator == "pymem_raw":
            by_tid.setdefault(e.tid, []).append(e)
    workers = {t: evs for t, evs in by_tid.items()
               if sum(e.kind == "alloc" and e.size == size for e in evs) > 0}
    assert len(workers) == 3, {t: len(evs) for t, evs in by_tid.items()}
    for tid, evs in workers.items():
        live, allocs = set(), 0
        for e in evs:
            if e.kind == "alloc":
                if e.size == size:
                    assert e.addr not in live, f"thread {tid}: {e.addr:#x} allocated twice"
                    live.add(e.addr)
                    allocs += 1
            else:
                live.discard(e.addr)
        assert allocs >= 3000, (tid, allocs)
        assert len(live) <= 1, (tid, len(live))
