"""The garbage collector's pauses, timed by the agent (gc.callbacks).

tests/programs/gc_pauses.py collects ROUNDS times by hand in each
generation (and lets the automatic collector run too) between two readings
of gc.get_stats(), S0 and S1.  The agent's callback is installed when the
interpreter starts, before S0, so on every interpreter stetho's count per
generation must lie between S1 - S0 (every collection the program made)
and S1 (every collection since the interpreter started), and so must the
objects collected; the histogram's buckets add up to the count.  Without
the agent (--memory off) the pauses are not timed and the report says so.
"""

import json

from conftest import PROGRAMS, record_program, run


def test_pauses_match_gc_stats(stetho, python, tmp_path):
    cap, want = record_program(stetho, python, tmp_path, "gc_pauses.py", "sampled", "gc")
    cp = run([stetho, "leaks", "--json", str(cap)])
    assert cp.returncode == 0
    pauses = json.loads(cp.stdout.decode())["leaks"]["gc"]["exact_pauses"]
    assert pauses is not None and len(pauses) == 3
    for gen, p in enumerate(pauses):
        s0, s1 = want["s0"][gen], want["s1"][gen]
        made = s1["collections"] - s0["collections"]
        assert made >= 20
        assert made <= p["collections"] <= s1["collections"], (gen, p, s0, s1)
        done = s1["collected"] - s0["collected"]
        assert done <= p["collected"] <= s1["collected"], (gen, p, s0, s1)
        assert sum(b["count"] for b in p["histogram"]) == p["collections"]
        assert 0 < p["longest_s"] <= p["total_s"]
        assert p["histogram"][-1]["le_s"] is None
    text = run([stetho, "leaks", str(cap)]).stdout.decode()
    assert "pauses (each collection timed by the agent" in text
    line = next(t for t in text.splitlines() if t.startswith("    generation 2: "))
    assert line.startswith(f"    generation 2: {pauses[2]['collections']:,} collections")


def test_no_agent_no_timed_pauses(stetho, python, tmp_path):
    cap = tmp_path / "off.stetho"
    cp = run([stetho, "run", "-q", "--memory", "off", "-o", str(cap), "--", python.path,
              str(PROGRAMS / "gc_pauses.py")], cwd=tmp_path, timeout=120)
    assert cp.returncode == 0
    cp = run([stetho, "leaks", "--json", str(cap)])
    assert json.loads(cp.stdout.decode())["leaks"]["gc"]["exact_pauses"] is None
    text = run([stetho, "leaks", str(cap)]).stdout.decode()
    assert "pauses: not timed (no agent timings: recorded with --memory off" in text
