"""Exact mode's frame-evaluation hook (src/agent/evalhook.c) on programs
that recurse deeply: from 3.11 a Python call normally takes no C stack, and
from 3.12 does not count against the C recursion limit (1500); with a hook
set every call goes through C, so the hook must step aside before either
matters.  The program (tests/programs/deep_calls.py) recurses 3000 deep in
its main thread and 3000 deep in a thread with a 256 KiB stack (3.11+;
2000 and 100 before, where every call takes C stack anyway): under stetho
it must finish exactly as without, and its allocation at the bottom of each
recursion be attributed to `bottom` called from `down` (the stack may be
cut at the walker's 16384 frames, with its root marked truncated)."""
import pytest

from conftest import PROGRAMS, load_json_stdout, record_program, run
from test_api import export


def test_deep_recursion_runs_as_without_stetho(stetho, python, tmp_path):
    plain = run([python.path, str(PROGRAMS / "deep_calls.py")], timeout=120)
    assert plain.returncode == 0, plain.stderr.decode(errors="replace")
    want = load_json_stdout(plain)
    cap, got = record_program(stetho, python, tmp_path, "deep_calls.py", "exact", "deep",
                              timeout=300)
    assert got == want
    exp = export(stetho, cap, tmp_path)
    names = [f["function"] for f in exp["frames"]]
    at_bottom = [s for s in exp["stacks"]
                 if s["frames"] and names[s["frames"][-1]] == "bottom"
                 and s.get("alloc_bytes", 0) >= want["bottom"]]
    # one per thread, each under `down`, as deep as the walker goes
    assert len({s["tid"] for s in at_bottom}) == 2, [(s["tid"], len(s["frames"])) for s in at_bottom]
    for s in at_bottom:
        downs = sum(names[i] == "down" for i in s["frames"])
        assert names[s["frames"][-2]] == "down", s
        assert downs >= min(want["thread_depth"], 1000), downs
    assert sum(s["alloc_bytes"] for s in at_bottom) < 2 * want["bottom"] + 4096


def test_hook_pauses_where_calls_cost_more(stetho, python, tmp_path):
    """tests/programs/evalhook_phases.py: 300k calls that allocate little,
    then 800k allocations 40 frames deep with few calls.  From 3.11 a call
    through the hook costs several frames' walk: the hook pauses in the
    first phase and is back in the second (tried again after 4096 stacks
    taken, by a pending call).  On 3.9/3.10 a call costs it little and
    every small int `add` makes is a stack spared a walk: it stays in."""
    _, got = record_program(stetho, python, tmp_path, "evalhook_phases.py", "exact", "phases")
    if python.version >= (3, 11):
        assert got == {"start": False, "after_calls": True, "after_allocs": False}
    else:
        assert got == {"start": False, "after_calls": False, "after_allocs": False}
    # not in any other mode
    cp = run([stetho, "run", "-q", "--memory", "sampled", "-o", str(tmp_path / "s.stetho"), "--",
              python.path, str(PROGRAMS / "evalhook_phases.py")], cwd=tmp_path)
    assert load_json_stdout(cp) == {"start": True, "after_calls": True, "after_allocs": True}


@pytest.mark.parametrize("case,follow", [("thread", False), ("fork-aside", True),
                                         ("fork-plain", False)])
def test_hook_state_changed_without_the_gil(stetho, python, tmp_path, case, follow):
    """tests/programs/evalhook_threads.py: a thread with a 256 KiB stack
    makes the hook step aside (3.11+) and ends, or is still aside when the
    program forks.  The hook must be back for the other threads once it has
    ended, in a followed child (where that thread does not exist), and out
    of a child not followed (it records nothing).  Before, the first two
    kept it out for the rest of the run and the last kept it in."""
    cap = tmp_path / "cap.stetho"
    cp = run([stetho, "run", "-q", "--memory", "exact", *(["--subprocesses"] if follow else []),
              "-o", str(cap), "--", python.path, str(PROGRAMS / "evalhook_threads.py"), case],
             cwd=tmp_path, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    got = load_json_stdout(cp)
    aside = python.version >= (3, 11)
    want = {"main": True}
    if case != "fork-plain":
        want["thread"] = not aside
    if case == "thread":
        want["after_thread"] = True
    else:
        want["child"] = follow
    assert got == want
