"""`stetho tree`, `table` and `export` on a real capture.

The capture is of tests/programs/prof_report.py: hot_loop() burns ~0.7 s,
cold_helper() ~0.25 s inside textwrap (standard library), nap() sleeps
~0.3 s.  It is recorded once per module with the newest interpreter (the
reports do not depend on the interpreter; other test files cover those).
"""

import json
import re

import pytest

from conftest import INTERPRETERS, PROGRAMS, run

LINE_RE = re.compile(r"(\d+\.\d+)s\s+(\d+\.\d+)%\s+(\S+)(?:\s+(\S+):(\d+))?")


def err(cp):
    return cp.stderr.decode(errors="replace")


def out(cp):
    return cp.stdout.decode(errors="replace")


def assert_clean(cp):
    text = err(cp)
    assert "Traceback" not in text and "Sanitizer" not in text and "runtime error:" not in text, text


@pytest.fixture(scope="module")
def capture(stetho, tmp_path_factory):
    usable = [i for i in INTERPRETERS if not i.missing]
    if not usable:
        pytest.skip("MISSING INTERPRETER: none found")
    interp = max(usable, key=lambda i: i.version)
    tmp = tmp_path_factory.mktemp("reports")
    cap = tmp / "report.stetho"
    cp = run([stetho, "run", "-q", "-o", str(cap), "--", interp.path,
              str(PROGRAMS / "prof_report.py")], cwd=tmp, timeout=60)
    assert cp.returncode == 0, err(cp)
    assert out(cp) == "done\n"
    assert err(cp) == "", "-q prints nothing of stetho's own"
    return cap


def stetho_ok(stetho, *args, cwd=None):
    cp = run([stetho, *map(str, args)], cwd=cwd)
    assert cp.returncode == 0, f"{args}: status {cp.returncode}\n{err(cp)}"
    assert_clean(cp)
    assert err(cp) == "", f"{args}: unexpected stderr {err(cp)!r}"
    return out(cp)


def tree_lines(text):
    """[(seconds, percent, function, file, line)] for every node of a tree."""
    rows = []
    for line in text.splitlines():
        m = LINE_RE.search(line)
        if m:
            sec, pct, fn, file, ln = m.groups()
            rows.append((float(sec), float(pct), fn, file, int(ln) if ln else None))
    return rows


def export(stetho, capture):
    return json.loads(stetho_ok(stetho, "export", capture, "--format", "json"))


def first_line_of(exp, function):
    lines = {f["first_line"] for f in exp["frames"] if f["function"] == function}
    assert len(lines) == 1, lines
    return lines.pop()


# --------------------------------------------------------------------------
# tree
# --------------------------------------------------------------------------

def test_tree_hot_function_first(stetho, capture):
    text = stetho_ok(stetho, "tree", capture)
    rows = tree_lines(text)
    funcs = {r[2]: r for r in rows}
    for fn in ("hot_loop", "cold_helper", "nap", "<module>"):
        assert fn in funcs, f"{fn} missing from the tree:\n{text}"
    # among the program's functions below <module>, hot_loop has the largest share
    others = [r for r in rows if r[2] not in ("Thread", "<module>", "hot_loop", "[self]")]
    hot = funcs["hot_loop"]
    assert others and all(hot[1] > r[1] for r in others), text
    assert 40 <= hot[1] <= 80, f"hot_loop is ~0.7 s of ~1.25 s:\n{text}"
    assert funcs["hot_loop"][3].endswith("prof_report.py")
    # the percentages agree with the export
    exp = export(stetho, capture)
    frames = exp["frames"]
    hot_wall = sum(s["wall_s"] for s in exp["stacks"]
                   if any(frames[i]["function"] == "hot_loop" for i in s["frames"]))
    assert hot[1] == pytest.approx(100 * hot_wall / exp["totals"]["wall_s"], abs=0.15)
    assert hot[0] == pytest.approx(hot_wall, abs=0.0015)
    # library frames are hidden by default
    assert "textwrap.py" not in text


def test_tree_metric_cpu(stetho, capture):
    # 3%: the first sample in nap() may carry a few ms of its caller's CPU
    wall = stetho_ok(stetho, "tree", capture, "--min-percent", "3")
    cpu = stetho_ok(stetho, "tree", capture, "--metric", "cpu", "--min-percent", "3")
    assert cpu != wall
    assert "By cpu time" in cpu and "By wall time" in wall
    w = {r[2]: r for r in tree_lines(wall)}
    c = {r[2]: r for r in tree_lines(cpu)}
    # nap() only sleeps: ~0.3 s of wall, no CPU
    assert "nap" in w and w["nap"][0] >= 0.2
    assert "nap" not in c, f"a sleeping function in the cpu tree:\n{cpu}"
    assert c["hot_loop"][1] > w["hot_loop"][1]
    assert c["hot_loop"][0] <= w["hot_loop"][0]
    exp = export(stetho, capture)
    t = exp["totals"]
    top = tree_lines(cpu)[0]        # the thread's line: all of its CPU time
    assert top[0] == pytest.approx(t["cpu_user_s"] + t["cpu_sys_s"], abs=0.0015)


def test_tree_show_all(stetho, capture):
    default = stetho_ok(stetho, "tree", capture)
    shown = stetho_ok(stetho, "tree", capture, "--show-all")
    assert shown != default
    assert "textwrap.py" in shown, shown
    rows = tree_lines(shown)
    lib = [r for r in rows if r[3] and r[3].endswith("textwrap.py")]
    assert any(r[2].endswith("wrap") for r in lib), shown
    assert "frames hidden" not in shown, shown
    # every function the default tree shows is still there
    for r in tree_lines(default):
        if not r[2].startswith("["):
            assert any(s[2] == r[2] for s in rows), r


def test_tree_min_percent(stetho, capture):
    default = stetho_ok(stetho, "tree", capture)
    pruned = stetho_ok(stetho, "tree", capture, "--min-percent", "30")
    names = [r[2] for r in tree_lines(pruned)]
    assert "hot_loop" in names
    assert "cold_helper" not in names and "nap" not in names, pruned
    assert "cold_helper" in default


# --------------------------------------------------------------------------
# table
# --------------------------------------------------------------------------

def table_rows(text):
    """Data rows as (numbers, label).  The label (function and place) starts
    where the header's last column name ("function" or "line") starts; the
    numbers are the time columns before it (other columns, such as memory
    ones, may come between and are ignored)."""
    rows = []
    start = None
    for line in text.splitlines():
        if start is None:
            m = re.search(r"\s(function|line)\s*$", line)
            if m and "samples" in line:
                start = m.start(1)
            continue
        nums = []
        for p in line[:start].split():
            try:
                nums.append(float(p))
            except ValueError:
                break
        label = line[start:].strip() if len(line) > start else ""
        if label.startswith("(all samples"):
            label = "(all samples)"         # the totals line
        if len(nums) >= 8 and label:
            rows.append((nums, label))
    assert start is not None, f"no table header in:\n{text}"
    return rows


def test_table_functions(stetho, capture):
    text = stetho_ok(stetho, "table", capture)
    rows = table_rows(text)
    assert rows, text
    # sorted by self time: hot_loop first, at its first line
    nums, label = rows[0]
    exp = export(stetho, capture)
    first = first_line_of(exp, "hot_loop")
    assert label.startswith("hot_loop ") and label.endswith(f"prof_report.py:{first}"), text
    assert nums[0] >= 0.4


def test_table_lines(stetho, capture):
    funcs = stetho_ok(stetho, "table", capture)
    lines = stetho_ok(stetho, "table", capture, "--lines", "--limit", "0")
    assert lines != funcs
    exp = export(stetho, capture)
    first = first_line_of(exp, "hot_loop")
    hot_lines = set()
    for nums, label in table_rows(lines):
        m = re.fullmatch(r"(\S+)\s+(.*):(\d+)", label)
        if m and m.group(1) == "hot_loop":
            hot_lines.add(int(m.group(3)))
    # the lines of hot_loop's body, not its def line
    assert hot_lines, lines
    assert all(first < ln <= first + 7 for ln in hot_lines), (first, hot_lines)
    assert len(hot_lines) >= 2, f"one row per line: {hot_lines}"
    # the lines the export knows for hot_loop are the same
    exp_lines = {f["line"] for f in exp["frames"] if f["function"] == "hot_loop"}
    assert hot_lines <= exp_lines


def test_table_metric_and_limit(stetho, capture):
    text_all = stetho_ok(stetho, "table", capture, "--limit", "0")
    text_2 = stetho_ok(stetho, "table", capture, "--limit", "2")
    rows_all, rows_2 = table_rows(text_all), table_rows(text_2)
    # --limit 2: the first two rows of the full table, then the "(all samples)" line
    assert rows_2 == rows_all[:2] + rows_all[-1:], f"{text_2}\n{text_all}"
    assert rows_2[0][1].startswith("hot_loop ") and rows_2[-1][1] == "(all samples)"
    assert len(rows_all) > 5
    selfs = [r[0][0] for r in rows_all[:-1]]
    assert selfs == sorted(selfs, reverse=True), "rows are sorted by self time"
    wall_nap = [r for r in rows_all if r[1].startswith("nap ")]
    assert wall_nap and wall_nap[0][0][0] >= 0.2
    text = stetho_ok(stetho, "table", capture, "--metric", "cpu", "--limit", "0")
    assert "self cpu" in text
    cpu = table_rows(text)
    assert cpu[0][1].startswith("hot_loop ")
    # nap() only sleeps: it has no CPU time of its own
    assert all(r[0][0] < 0.02 for r in cpu if r[1].startswith("nap ")), text


# --------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------

def test_export_file_equals_stdout(stetho, capture, tmp_path):
    to_stdout = run([stetho, "export", str(capture), "--format", "json"])
    assert to_stdout.returncode == 0, err(to_stdout)
    dest = tmp_path / "out.json"
    to_file = run([stetho, "export", str(capture), "--format", "json", "-o", str(dest)])
    assert to_file.returncode == 0, err(to_file)
    assert to_file.stdout == b"", "with -o nothing goes to stdout"
    assert_clean(to_file)
    assert dest.read_bytes() == to_stdout.stdout
    doc = json.loads(to_stdout.stdout)
    assert doc["schema"] == "stetho-profile/1"
    assert doc["program"]["exit_code"] == 0
    assert doc["totals"]["samples"] >= 50
    # -f is --format
    short = run([stetho, "export", str(capture), "-f", "json"])
    assert short.returncode == 0 and short.stdout == to_stdout.stdout


# --------------------------------------------------------------------------
# errors: exit 2 and one line on stderr
# --------------------------------------------------------------------------

BAD = {
    "tree-unknown-flag": ["tree", "{cap}", "--bogus"],
    "tree-bad-metric": ["tree", "{cap}", "--metric", "nope"],
    "tree-metric-no-value": ["tree", "{cap}", "--metric"],
    "tree-bad-min-percent": ["tree", "{cap}", "--min-percent", "abc"],
    "tree-min-percent-over-100": ["tree", "{cap}", "--min-percent", "101"],
    "tree-bad-threads": ["tree", "{cap}", "--threads", "nope"],
    "tree-no-capture": ["tree"],
    "tree-two-captures": ["tree", "{cap}", "{cap}"],
    "table-bad-sort": ["table", "{cap}", "--sort", "nope"],
    "table-bad-limit": ["table", "{cap}", "--limit", "x"],
    "table-negative-limit": ["table", "{cap}", "--limit", "-3"],
    "table-unknown-flag": ["table", "{cap}", "--line"],
    "export-no-format": ["export", "{cap}"],
    "export-bad-format": ["export", "{cap}", "--format", "xml"],
    "export-output-no-value": ["export", "{cap}", "--format", "json", "-o"],
    "export-unwritable": ["export", "{cap}", "--format", "json", "-o", "/nonexistent/dir/x.json"],
    "tree-missing-file": ["tree", "{tmp}/missing.stetho"],
    "table-missing-file": ["table", "{tmp}/missing.stetho"],
    "export-missing-file": ["export", "{tmp}/missing.stetho", "--format", "json"],
    "tree-text-file": ["tree", "{tmp}/notes.txt"],
    "table-empty-file": ["table", "{tmp}/empty.stetho"],
    "export-json-file": ["export", "{tmp}/export.json", "--format", "json"],
    "tree-directory": ["tree", "{tmp}"],
    "tree-script": ["tree", str(PROGRAMS / "prof_report.py")],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_usage(stetho, capture, tmp_path, case):
    (tmp_path / "notes.txt").write_text("hello, not a capture\n")
    (tmp_path / "empty.stetho").write_bytes(b"")
    (tmp_path / "export.json").write_bytes(
        run([stetho, "export", str(capture), "--format", "json"]).stdout)
    args = [a.format(cap=capture, tmp=tmp_path) for a in BAD[case]]
    cp = run([stetho, *args], cwd=tmp_path)
    assert cp.returncode == 2, f"{args}: status {cp.returncode}\n{err(cp)}"
    assert cp.stdout == b"", f"{args}: stdout {out(cp)!r}"
    lines = err(cp).splitlines()
    assert len(lines) == 1 and lines[0].startswith("stetho: "), f"{args}: stderr {err(cp)!r}"
    assert_clean(cp)
    assert not (tmp_path / "x.json").exists()
