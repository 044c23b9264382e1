"""Python-level thread names (issue 14, part 1), on every interpreter.

tests/programs/thread_names.py names its threads ("uploader", a
ThreadPoolExecutor's "pool_N", one renamed while running to "renamed-late")
and prints each final name with the native id the thread itself saw.  The
names stetho read from outside must be attached to exactly those threads in
the tree, json, speedscope, chrome, pprof and HTML outputs, and in `stetho
dump`; the renamed thread shows its latest name.
"""

import gzip
import json
import re

import pytest

from conftest import PROGRAMS, READY_TIMEOUT, read_line_with_prefix, run

PROGRAM = str(PROGRAMS / "thread_names.py")
EXPECTED = {"MainThread", "uploader", "renamed-late", "pool_0", "pool_1"}


def names_line(stdout):
    lines = [l for l in stdout.splitlines() if l.startswith(b"NAMES ")]
    assert lines, f"the program printed no NAMES line: {stdout!r}"
    names = json.loads(lines[-1][len(b"NAMES "):])
    assert set(names) == EXPECTED, names
    return names


@pytest.fixture(scope="module")
def recorded(stetho, python, tmp_path_factory):
    work = tmp_path_factory.mktemp("threadnames")
    cap = work / "cap.stetho"
    cp = run([stetho, "run", "--quiet", "--memory", "off", "-o", str(cap), "--",
              python.path, PROGRAM, "2.5"], cwd=work, timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    return work, cap, names_line(cp.stdout)


def export(stetho, cap, fmt):
    out = cap.parent / f"out.{fmt}"
    cp = run([stetho, "export", str(cap), "--format", fmt, "-o", str(out)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    return out


def test_json_names_each_thread(stetho, recorded):
    _, cap, names = recorded
    threads = json.loads(export(stetho, cap, "json").read_text())["threads"]
    by_tid = {t["tid"]: t["name"] for t in threads}
    for name, tid in names.items():
        assert by_tid.get(tid) == name, f"thread {tid}: {by_tid.get(tid)!r}, not {name!r}"
    assert "before-rename" not in by_tid.values()


def test_tree_names_each_thread(stetho, recorded):
    _, cap, names = recorded
    cp = run([stetho, "tree", str(cap)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    text = cp.stdout.decode() + cp.stderr.decode()
    for name, tid in names.items():
        assert f"Thread {tid} ({name})" in text, text[:3000]


def test_speedscope_and_chrome_name_each_thread(stetho, recorded):
    _, cap, names = recorded
    profiles = json.loads(export(stetho, cap, "speedscope").read_text())["profiles"]
    titles = {p["name"] for p in profiles}
    trace = json.loads(export(stetho, cap, "chrome").read_text())
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    chrome = {e["tid"]: e["args"]["name"] for e in events if e.get("name") == "thread_name"}
    for name, tid in names.items():
        assert any(t.startswith(f"Thread {tid} ({name})") for t in titles), titles
        assert chrome.get(tid, "").startswith(name), chrome


def test_pprof_and_html_carry_the_names(stetho, recorded):
    _, cap, names = recorded
    pprof = export(stetho, cap, "pprof").read_bytes()
    if pprof[:2] == b"\x1f\x8b":
        pprof = gzip.decompress(pprof)
    page = export(stetho, cap, "html").read_text()
    m = re.search(r'<script type="application/json" id="stetho-data">(.*?)</script>',
                  page, re.S)
    assert m, "no stetho-data in the HTML report"
    flat = json.loads(m.group(1))["threads"]          # pid, tid, name, ...
    html = {flat[i + 1]: flat[i + 2] for i in range(0, len(flat), 3)}
    for name, tid in names.items():
        assert name.encode() in pprof, f"{name} not in the pprof string table"
        assert html.get(tid) == name, html


def test_dump_shows_python_names(stetho, python, spawn):
    proc = spawn.popen([python.path, PROGRAM, "0", "wait"])
    line, earlier, _ = read_line_with_prefix(proc, b"READY", READY_TIMEOUT)
    names = names_line(b"\n".join(earlier))
    cp = run([stetho, "dump", "--json", str(proc.pid)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    by_tid = {t["tid"]: t["name"] for t in json.loads(cp.stdout)["threads"]}
    for name, tid in names.items():
        assert by_tid.get(tid) == name, by_tid
    cp = run([stetho, "dump", str(proc.pid)])
    assert cp.returncode == 0
    assert f'Thread {names["uploader"]} "uploader"' in cp.stdout.decode()


def test_reused_ident_gets_its_own_name(stetho, python, tmp_path):
    """Threads run one after the other share a pthread ident: each keeps its
    own name (the kernel tid tells them apart)."""
    cap = tmp_path / "cap.stetho"
    cp = run([stetho, "run", "--quiet", "--memory", "off", "-o", str(cap), "--",
              python.path, str(PROGRAMS / "thread_reuse.py")], cwd=tmp_path, timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    lines = [l for l in cp.stdout.splitlines() if l.startswith(b"NAMES ")]
    seen = json.loads(lines[-1][len(b"NAMES "):])
    idents = [ident for ident, _ in seen.values()]
    assert len(set(idents)) < len(idents), f"no pthread ident was reused: {seen}"
    threads = json.loads(export(stetho, cap, "json").read_text())["threads"]
    by_tid = {t["tid"]: t["name"] for t in threads}
    for name, (_, tid) in seen.items():
        assert by_tid.get(tid) == name, by_tid
