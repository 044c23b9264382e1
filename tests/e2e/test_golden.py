"""Golden test: committed captures rendered into every view and format give
the committed output, byte for byte (binary formats: their decoded content).

tests/data/golden/ holds two captures recorded once, in /tmp/stetho-golden:

* demo.stetho -- examples/demo.py (threads, I/O, sleep, sampled memory);
* mp.stetho   -- tests/programs/golden_mp.py with --memory exact and
  --subprocesses (two threads, a forked child, recursion).

and, in expected/<capture>/<view>.xz, what each view printed.  The outputs
were first made by the commit before the report model (issue 8); a view
whose answer the model deliberately changed has its expected file updated
in a commit of its own that says why.

Renders run in a fresh directory, so file names print as recorded
(absolute), whatever checkout the test runs from.

To (re)write the expected files with a given binary:
    STETHO=/path/to/stetho STETHO_GOLDEN_WRITE=1 pytest tests/e2e/test_golden.py
"""

import gzip
import lzma
import marshal
import os

import pytest

from conftest import REPO, run

DATA = REPO / "tests" / "data" / "golden"
CAPTURES = ("demo", "mp")

# name -> arguments after the capture (the command goes first).  Not
# `leaks` as text: it names the capture's path in the commands it suggests.
VIEWS = {
    "tree": ["tree", "{cap}"],
    "tree-peak": ["tree", "{cap}", "--metric", "peak"],
    "tree-show-all": ["tree", "{cap}", "--show-all"],
    "tree-merged": ["tree", "{cap}", "--threads", "merged"],
    "tree-keep-recursion": ["tree", "{cap}", "--keep-recursion"],
    "tree-show-all-keep-recursion": ["tree", "{cap}", "--show-all", "--keep-recursion"],
    "table": ["table", "{cap}"],
    "table-lines": ["table", "{cap}", "--lines"],
    "table-allocated": ["table", "{cap}", "--metric", "allocated", "--limit", "0"],
    "stats": ["stats", "{cap}"],
    "stats-json": ["stats", "{cap}", "--json"],
    "leaks-json": ["leaks", "{cap}", "--json"],
    "json": ["export", "{cap}", "--format", "json"],
    "speedscope": ["export", "{cap}", "--format", "speedscope"],
    "collapsed": ["export", "{cap}", "--format", "collapsed"],
    "collapsed-cpu-merged": ["export", "{cap}", "--format", "collapsed", "--metric", "cpu",
                             "--merge-threads"],
    "pprof": ["export", "{cap}", "--format", "pprof"],
    "pstats": ["export", "{cap}", "--format", "pstats"],
    "chrome": ["export", "{cap}", "--format", "chrome"],
    "html": ["export", "{cap}", "--format", "html"],
}


def decoded(view, data):
    """What is compared: the bytes, or for binary formats their content."""
    if view == "pprof":
        return gzip.decompress(data)
    if view == "pstats":
        return marshal.loads(data)
    return data


def render(stetho, cwd, cap, view):
    args = [a.format(cap=DATA / f"{cap}.stetho") for a in VIEWS[view]]
    env = dict(os.environ, NO_COLOR="1")
    cp = run([stetho] + args, cwd=cwd, env=env)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert not cp.stderr or b"Sanitizer" not in cp.stderr
    return decoded(view, cp.stdout)


@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize("cap", CAPTURES)
def test_golden(stetho, tmp_path, cap, view):
    expected_path = DATA / "expected" / cap / f"{view}.xz"
    got = render(stetho, tmp_path, cap, view)
    if os.environ.get("STETHO_GOLDEN_WRITE"):
        expected_path.parent.mkdir(parents=True, exist_ok=True)
        raw = got if view != "pstats" else marshal.dumps(got)
        expected_path.write_bytes(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))
        return
    raw = lzma.decompress(expected_path.read_bytes())
    want = marshal.loads(raw) if view == "pstats" else raw
    if got != want and isinstance(got, bytes):
        # the first differing line, to say what changed
        a, b = want.splitlines(), got.splitlines()
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                pytest.fail(f"{cap}/{view} line {i + 1}:\n- {x[:300]!r}\n+ {y[:300]!r}")
        pytest.fail(f"{cap}/{view}: {len(a)} lines expected, {len(b)} rendered")
    assert got == want
