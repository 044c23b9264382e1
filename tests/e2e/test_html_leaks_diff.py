"""The HTML report's Leaks tab and `stetho diff --html`, in headless Chromium.

The Leaks tab: a real capture of tests/programs/leaky_server.py (MODE=leak,
exact memory) rendered by `stetho html`; tests/html/check_pages.mjs opens
the tab and finds respond() -- the stack `stetho leaks` names -- listed as
a suspect with its growth chart, and the held-at-exit, temporaries and GC
sections.  The diff page: the regress.py pair of test_compare.py (WORK=1,
then WORK=2 with the lines shifted), `stetho diff --metric cpu --html`;
regressed()'s frame must be red with its base, new and delta in the
tooltip, and the delta table must list it as grown.  Same needs as
test_html.py (node, playwright-core, chromium).  In one interpreter (the
newest): the pages read a capture the same way from every one, and what
goes into it per interpreter is tested without a browser (test_leaks.py,
test_types.py, test_compare.py).
STETHO_UPDATE_SCREENSHOT=1 writes docs/img/leaks.png and docs/img/diff.png.
"""

import json
import os

import pytest

from conftest import PROGRAMS, REPO, run
from test_compare import SHIFT, record as record_regress
from test_html import BROWSER_TIMEOUT, CHROMIUM, need_browser

CHECKER = REPO / "tests" / "html" / "check_pages.mjs"


def err(cp):
    return cp.stderr.decode(errors="replace")


def check_page(path, *args):
    need_browser()
    cp = run(["node", str(CHECKER), str(path), "--chromium", CHROMIUM, *map(str, args)],
             timeout=BROWSER_TIMEOUT, cwd=REPO)
    out = cp.stdout.decode(errors="replace")
    try:
        result = json.loads(out)
    except ValueError:
        pytest.fail(f"check_pages.mjs exit {cp.returncode}, no JSON:\n{out[-3000:]}\n{err(cp)[-3000:]}")
    assert cp.returncode == 0 and not result["failures"], json.dumps(result, indent=1)
    return result


def screenshot(name, tmp_path):
    if os.environ.get("STETHO_UPDATE_SCREENSHOT"):
        return REPO / "docs" / "img" / name
    return tmp_path / name


def test_leaks_tab_lists_the_growing_cache(stetho, one_python, tmp_path):
    cap = tmp_path / "leak.stetho"
    cp = run([stetho, "run", "-q", "--memory", "exact", "-o", str(cap), "--", one_python.path,
              str(PROGRAMS / "leaky_server.py")], cwd=tmp_path, timeout=120,
             env=dict(os.environ, MODE="leak"))
    assert cp.returncode == 0, err(cp)
    page = tmp_path / "leak.html"
    cp = run([stetho, "html", str(cap), "-o", str(page)])
    assert cp.returncode == 0, err(cp)
    # the page's facts are those of `stetho leaks --json`, from the same code
    cp = run([stetho, "leaks", "--json", str(cap)])
    assert cp.returncode == 0, err(cp)
    leaks = json.loads(cp.stdout)["leaks"]
    assert [s["frames"][0]["function"] for s in leaks["suspects"]] == ["respond"]
    text = page.read_text()
    data = json.loads(text[text.index('id="stetho-data">') + 17:].split("</script>")[0])
    assert data["leaks"] == leaks
    shot = screenshot("leaks.png", tmp_path)
    result = check_page(page, "--leaks", "respond", "--screenshot", shot)
    assert [s["name"] for s in result["facts"]["suspects"]] == ["respond"]


def test_leaks_tab_lists_live_objects_by_type(stetho, one_python, tmp_path):
    cap = tmp_path / "types.stetho"
    cp = run([stetho, "run", "-q", "--memory", "exact", "-o", str(cap), "--", one_python.path,
              str(PROGRAMS / "type_census.py")], cwd=tmp_path, timeout=120,
             env=dict(os.environ, PAIRS="5000", CACHE="5000", HOLD="1.5"))
    assert cp.returncode == 0, err(cp)
    page = tmp_path / "types.html"
    cp = run([stetho, "html", str(cap), "-o", str(page)])
    assert cp.returncode == 0, err(cp)
    cp = run([stetho, "leaks", "--json", str(cap)])
    assert cp.returncode == 0, err(cp)
    rows = {r["type"]: r for r in json.loads(cp.stdout)["leaks"]["types"]["rows"]}
    assert rows["Leaf"]["end_count"] == 10000, rows.get("Leaf")   # the program's 2 x PAIRS
    cells = check_page(page, "--type", "Leaf")["facts"]["type"]
    # type, objects at the end, bytes, at the peak, growth, created at
    assert cells[1] == f"{rows['Leaf']['end_count']:,}", cells
    assert cells[5].endswith("make_pairs  type_census.py:" + str(
        rows["Leaf"]["created_at"]["line"])), cells


def test_no_leaks_tab_without_memory(stetho, one_python, tmp_path):
    cap = tmp_path / "nomem.stetho"
    cp = run([stetho, "run", "-q", "--memory", "off", "-o", str(cap), "--", one_python.path,
              str(PROGRAMS / "burn.py"), "0.3"], cwd=tmp_path, timeout=120)
    assert cp.returncode == 0, err(cp)
    page = tmp_path / "nomem.html"
    assert run([stetho, "html", str(cap), "-o", str(page)]).returncode == 0
    text = page.read_text()
    assert '"leaks":' not in text


def test_diff_page_colours_the_regression(stetho, one_python, tmp_path):
    base, _ = record_regress(stetho, one_python, tmp_path, 1, 0)
    new, truth = record_regress(stetho, one_python, tmp_path, 2, SHIFT)
    page = tmp_path / "diff.html"
    cp = run([stetho, "diff", str(base), str(new), "--metric", "cpu", "--html", str(page)])
    assert cp.returncode == 0, err(cp)
    assert err(cp) == f"stetho: wrote {page}\n"
    assert cp.stdout == b""
    shot = screenshot("diff.png", tmp_path)
    result = check_page(page, "--diff", "regressed", "--screenshot", shot)
    f = result["facts"]["frame"]
    # the frame's delta is the one `stetho diff --json` prints (same matching)
    cp = run([stetho, "diff", str(base), str(new), "--metric", "cpu", "--json"])
    doc = json.loads(cp.stdout)
    rows = [r for r in doc["functions"] if r["function"] == "regressed"]
    assert len(rows) == 1
    assert abs((f["new"] - f["base"]) / 1e9 - rows[0]["total"]["delta"]["cpu_s"]) < 1e-6


def test_diff_html_bad_output(stetho, one_python, tmp_path):
    cap = tmp_path / "a.stetho"
    cp = run([stetho, "run", "-q", "-o", str(cap), "--", one_python.path,
              str(PROGRAMS / "burn.py"), "0.3"], cwd=tmp_path, timeout=120)
    assert cp.returncode == 0, err(cp)
    for bad in (tmp_path / "no-such-dir" / "d.html", tmp_path):
        cp = run([stetho, "diff", str(cap), str(cap), "--html", str(bad)])
        assert cp.returncode == 2
        lines = err(cp).splitlines()
        assert len(lines) == 1 and lines[0].startswith("stetho: diff: cannot write"), lines
    cp = run([stetho, "diff", str(cap), str(cap), "--html", "/dev/full"])
    assert cp.returncode == 2 and len(err(cp).splitlines()) == 1, err(cp)
    assert os.path.exists("/dev/full")
    cp = run([stetho, "diff", str(cap), str(cap), "--html"])
    assert cp.returncode == 2 and err(cp).startswith("stetho: diff: --html"), err(cp)
