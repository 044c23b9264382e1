"""`stetho html`: the HTML report, loaded and driven in a real headless Chromium.

A real capture of tests/programs/html_demo.py (two threads; leaf() called
from caller_a() and caller_b(); a "sleeper" thread in nap()) is made with
`stetho run --calls -o cap.stetho`, then rendered with `stetho html`.
tests/html/check_report.mjs (Node + playwright-core, the system's
/usr/bin/chromium, nothing downloaded) opens the page and checks what a
user would: no console errors, the flame graph drawn, click-to-zoom,
search, a time range dragged on the timeline, the metric switch, the
inverted and callers views, the tables (the calls column: leaf's count as
the pstats export has it), the thread filter.  A synthetic
1,000,000-sample capture with memory records (tests/unit/synth_capture.c)
checks the size and load time of a long run.

Needs: node, `npm install --prefix tests/html playwright-core`, chromium
(`apt-get install chromium`); .ci/run and tests/run install them.  Without
them the tests skip (and fail under CI=true).
STETHO_UPDATE_SCREENSHOT=1 writes docs/img/report.png from the demo.
"""

import json
import os
import pstats
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import AVAILABLE, PROGRAMS, REPO, note_timing, run

CHECKER = REPO / "tests" / "html" / "check_report.mjs"
PLAYWRIGHT = REPO / "tests" / "html" / "node_modules" / "playwright-core"
CHROMIUM = os.environ.get("STETHO_CHROMIUM", "/usr/bin/chromium")
DEMO = str(PROGRAMS / "html_demo.py")
BROWSER_TIMEOUT = 180
SIZE_LIMIT_1M = 5_000_000         # bytes, for a million samples
LOAD_LIMIT_1M_MS = 5000           # generous: the page opens in well under 1 s


def need_browser():
    missing = []
    if not shutil.which("node"):
        missing.append("node")
    if not PLAYWRIGHT.is_dir():
        missing.append("playwright-core (npm install --prefix tests/html playwright-core)")
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        msg = "the HTML report's browser tests need " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def check_report(path, *args):
    """Run the browser driver; its JSON result."""
    need_browser()
    cp = run(["node", str(CHECKER), str(path), "--chromium", CHROMIUM, *map(str, args)],
             timeout=BROWSER_TIMEOUT, cwd=REPO)
    out = cp.stdout.decode(errors="replace")
    try:
        result = json.loads(out)
    except ValueError:
        pytest.fail(f"check_report.mjs exit {cp.returncode}, no JSON:\n{out[-3000:]}\n"
                    f"{cp.stderr.decode(errors='replace')[-3000:]}")
    assert cp.returncode == 0 and not result["failures"], json.dumps(result, indent=1)
    return result


@pytest.fixture(scope="module")
def python():
    if not AVAILABLE:
        pytest.skip("no Python interpreter found")
    return AVAILABLE[0]


@pytest.fixture(scope="module")
def capture(stetho, python, tmp_path_factory):
    d = tmp_path_factory.mktemp("html")
    cap = d / "cap.stetho"
    cp = run([stetho, "run", "--quiet", "--calls", "-o", str(cap), "--", python.path, DEMO,
              "1.5"], cwd=d, timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert cap.is_file()
    return cap


@pytest.fixture(scope="module")
def report(stetho, capture):
    out = capture.parent / "report.html"
    cp = run([stetho, "html", str(capture), "-o", str(out)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert f"wrote {out}" in cp.stderr.decode()
    return out


def test_page_is_one_offline_file(report):
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "@@" not in page, "a template marker was left unfilled"
    # nothing to fetch: no external scripts, styles, images or fonts
    for bad in ("<script src", "<link rel=\"stylesheet\"", "<img", "@import", "url(http",
                "src=\"http", "href=\"http"):
        assert bad not in page, bad
    assert page.count("</script>") == 2
    data = page[page.index('id="stetho-data">') + len('id="stetho-data">'):]
    data = json.loads(data[:data.index("</script>")])
    assert data["format"] == "stetho-html/1"
    names = {data["strings"][data["funcs"][i]] for i in range(0, len(data["funcs"]), 7)}
    assert {"leaf", "caller_a", "caller_b", "nap"} <= names
    assert len(data["threads"]) // 3 >= 2
    assert data["totals"]["samples"] > 50


def leaf_calls(stetho, capture, tmp_path):
    """The demo's leaf's exact count (the capture is of run --calls), as
    the pstats export says: "all/primitive" when they differ."""
    out = tmp_path / "demo.pstats"
    cp = run([stetho, "export", str(capture), "-f", "pstats", "-o", str(out)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    (cc, nc), = [v[:2] for k, v in pstats.Stats(str(out)).stats.items() if k[2] == "leaf"]
    assert nc > 0
    return str(nc) if nc == cc else f"{nc}/{cc}"


def test_report_in_chromium(stetho, capture, report, tmp_path):
    shot = tmp_path / "report.png"
    result = check_report(report, "--func", "leaf", "--callers", "caller_a,caller_b",
                          "--calls", leaf_calls(stetho, capture, tmp_path), "--screenshot", shot)
    assert "callers of leaf include caller_a" in result["passed"]
    assert "calls column shows the count of leaf" in result["passed"]
    assert shot.stat().st_size > 10000
    note_timing("html report: open the demo page", result["timings"]["loadMs"] / 1000)
    if os.environ.get("STETHO_UPDATE_SCREENSHOT"):
        (REPO / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "img" / "report.png")


def test_export_format_and_run_extension(stetho, python, capture, tmp_path):
    # stetho export --format html
    out = tmp_path / "x.html"
    cp = run([stetho, "export", str(capture), "--format", "html", "-o", str(out)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    # stetho run -o NAME.html renders directly, the capture beside it
    direct = tmp_path / "direct.html"
    cp = run([stetho, "run", "--quiet", "-o", str(direct), "--", python.path, DEMO, "0.3"],
             cwd=tmp_path, timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert direct.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (tmp_path / "direct.stetho").is_file()


def test_html_errors(stetho, tmp_path):
    cp = run([stetho, "html"])
    assert cp.returncode == 2 and b"which capture" in cp.stderr
    cp = run([stetho, "html", str(tmp_path / "missing.stetho"), "-o", str(tmp_path / "m.html")])
    assert cp.returncode == 2 and cp.stderr.startswith(b"stetho: ")
    assert not (tmp_path / "m.html").exists()
    cp = run([stetho, "html", "--bogus"])
    assert cp.returncode == 2 and b"unknown option" in cp.stderr


def test_million_samples(stetho, tmp_path):
    """A long run, with memory records: the page stays under 5 MB and opens
    fast (docs/html-report.md)."""
    synth = Path(stetho).parent / "tests" / "unit" / "synth_capture"
    if not synth.is_file():
        pytest.skip(f"{synth} not built")
    need_browser()
    cap, page = tmp_path / "big.stetho", tmp_path / "big.html"
    cp = run([str(synth), str(cap), "1000000", "8", "1", "memory"], timeout=120)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    cp = run([stetho, "html", str(cap), "-o", str(page)], timeout=300)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    size = page.stat().st_size
    assert size < SIZE_LIMIT_1M, f"{size} bytes for 1M samples"
    result = check_report(page, "--measure")
    load = result["timings"]["loadMs"]
    note_timing(f"html report: open a 1M-sample page ({size / 1e6:.1f} MB)", load / 1000)
    assert load < LOAD_LIMIT_1M_MS, result["timings"]
