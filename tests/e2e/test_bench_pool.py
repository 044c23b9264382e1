"""bench/run.py --pool: several result files read as one run, paired per round."""

import json
import math
import os
import subprocess
import sys

RUN = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "run.py")


def runs(*walls):
    return [{"ok": w is not None, "wall": w or 0.0, "total_cpu": w or 0.0} for w in walls]


def write(path, by_workload):
    with open(path, "w") as f:
        json.dump({"meta": {}, "runs": by_workload}, f)
    return str(path)


def pool(*paths):
    return subprocess.run([sys.executable, RUN, "--pool", *paths],
                          capture_output=True, text=True, timeout=60)


def row(out, tool):
    for line in out.splitlines():
        if line.startswith(f"| {tool} |"):
            return [c.strip() for c in line.strip("|").split("|")]
    raise AssertionError(f"no row for {tool}:\n{out}")


def test_rounds_pair_across_files(tmp_path):
    # File A: X is 10 % slower in two rounds of nbody out of three, 20 % in go.
    # A slow round (plain 2.0) slows X too and cancels out of its ratio.
    a = write(tmp_path / "a.json", {
        "nbody": {"plain": runs(1.0, 2.0, 1.0), "X": runs(1.1, 2.2, 1.0)},
        "go": {"plain": runs(1.0, 1.0, 1.0), "X": runs(1.3, 1.2, 1.2)},
    })
    # File B: X failed one run, Y ran only here: A's rounds must not shift.
    b = write(tmp_path / "b.json", {
        "nbody": {"plain": runs(3.0, 3.0), "X": runs(3.3, None), "Y": runs(3.0, 6.0)},
        "go": {"plain": runs(1.0, 1.0), "X": runs(1.2, 1.2), "Y": runs(1.0, 1.0)},
    })
    res = pool(a, b)
    assert res.returncode == 0, res.stderr
    x = row(res.stdout, "X")
    # nbody: 1.1, 1.1, 1.0, 1.1 -> 1.1; go: 1.3, 1.2, 1.2, 1.2, 1.2 -> 1.2
    assert x[1:3] == ["1.100", "1.200"]
    assert x[3] == f"**{math.sqrt(1.1 * 1.2):.3f}**"
    assert x[4] == "9"                       # runs that completed
    assert x[5] == "1.300 (go)"              # worst paired
    y = row(res.stdout, "Y")                 # absent from A: not failures, not pairs
    assert y[1:3] == ["1.500", "1.000"] and y[4] == "4"
    assert "| plain |" not in res.stdout


def test_bad_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for path in (str(bad), str(tmp_path / "missing.json")):
        res = pool(path)
        assert res.returncode == 1
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("bench: ") and "Traceback" not in res.stderr
