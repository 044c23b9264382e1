"""Exact mode's stacks, pinned in the cases a stack is easy to get wrong.

tests/programs/stack_truth.py allocates bytearrays at lines marked
`# @alloc_...` under known stacks: one callee from two call sites of one
caller (and lines that move while frames are reused), a generator and a
coroutine resumed from two callers, recursion 3000 deep (20000 on 3.11+),
four threads in four chains at once, exceptions unwinding between
allocations (except, finally, a with's __exit__), two greenlets switching
back and forth, two asyncio tasks interleaving.  It prints, per stack, the
bytes it allocated there (count * sys.getsizeof) and the thread.

The program runs three times per interpreter: alone, under `stetho run
--memory exact`, and with the agent loaded late by the Python API (`with
stetho.profile(memory="exact")` around the cases, whose threads,
generators and greenlets were started before it).  Its output must be the
same each time (tids aside), and in both recordings every stack's bytes
must be where the program says: function AND line of every level.

A stack is compared by the program's own frames (and stetho's markers,
such as [truncated]), root first: the frames of threading, asyncio and the
import system around them are left out, since where those lines are is
not this test's business.  Only stacks whose innermost frame is the
program's count.  Every (stack, size) has a size of its own, so bytes
given to the wrong stack show as too much on one stack and too little on
another.

Tolerance: each stack within 1 % + 1 KiB of the truth (seen: exact to the
byte); bytes at an allocation line under a stack the program never made
there ("stray"): at most 1 KiB per case.

Deep stacks: 3000 levels must be whole.  20000 may be cut: a stack whose
root is stetho's [truncated] marker counts for the full one if the frames
it keeps are the innermost MIN_KEPT or more of the truth's (today: the
innermost 16384, PY_MAX_DEPTH in src/cpython/walker.h).
"""
import json
import os
import re

import pytest

from conftest import PROGRAMS, record_program, run
from test_api import api_env, export
from test_memory import assert_no_sanitizer, check_memory_invariants

PROGRAM = PROGRAMS / "stack_truth.py"
CASES = ("sites", "generators", "deep", "deeper", "threads", "exceptions", "greenlet",
         "asyncio")
TOL = 0.01
SLACK = 1024
MIN_KEPT = 128
TRUNCATED = ("[truncated]", 0)


def markers():
    """{name: line} of the `# @name` markers in the program."""
    found = {}
    with open(PROGRAM, encoding="utf-8") as f:
        for n, text in enumerate(f, 1):
            m = re.search(r"#\s*@(\w+)\s*$", text)
            if m:
                assert m.group(1) not in found, f"marker @{m.group(1)} twice"
                found[m.group(1)] = n
    return found


MARKERS = markers()
ALLOC_LINES = {line for name, line in MARKERS.items() if name.startswith("alloc_")}


def parse_output(cp):
    text = cp.stdout.decode()
    try:
        return json.loads(text)
    except ValueError:
        pytest.fail(f"the program's output is not JSON:\n{text[:2000]}\n"
                    f"{cp.stderr.decode(errors='replace')[-3000:]}")


def without_tids(out):
    return {**out, "truth": [{k: v for k, v in t.items() if k != "tid"} for t in out["truth"]]}


@pytest.fixture(scope="module")
def plain(python, tmp_path_factory):
    """The program alone: what it prints without stetho."""
    cp = run([python.path, str(PROGRAM)], cwd=tmp_path_factory.mktemp("plain"))
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    return parse_output(cp)


@pytest.fixture(scope="module", params=["run", "api"])
def recorded(request, stetho, python, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"stacks-{request.param}")
    if request.param == "run":
        cap, out = record_program(stetho, python, tmp, "stack_truth.py", "exact", "stacks")
    else:
        cap = tmp / "stacks.stetho"
        cp = run([python.path, str(PROGRAM), "api", str(cap)], cwd=tmp, env=api_env(stetho),
                 timeout=120)
        err = cp.stderr.decode(errors="replace")
        assert cp.returncode == 0, err
        assert_no_sanitizer(err)
        out = parse_output(cp)
    exp = export(stetho, cap, tmp)
    check_memory_invariants(exp)
    return dict(interp=python, mode=request.param, out=out, got=by_stack(exp))


def by_stack(exp):
    """{(tid, key): bytes} over the stacks whose innermost frame is the
    program's, at one of its allocation lines; key: its own frames and
    stetho's markers, root first, as (function, line).  (The recursion's
    descent alone makes thousands of deep stacks on 3.9: skipped first.)"""
    frames = exp["frames"]
    own = [f["kind"] == "python" and os.path.basename(f["file"]) == PROGRAM.name
           for f in frames]
    keep = [f["kind"] == "synthetic" or o for f, o in zip(frames, own)]
    leaf = [o and f["line"] in ALLOC_LINES for f, o in zip(frames, own)]
    got = {}
    for s in exp["stacks"]:
        if not s["frames"] or not leaf[s["frames"][-1]] or not s["alloc_bytes"]:
            continue
        key = tuple((frames[i]["function"], frames[i]["line"] if own[i] else 0)
                    for i in s["frames"] if keep[i])
        got[(s["tid"], key)] = got.get((s["tid"], key), 0) + s["alloc_bytes"]
    return got


def expected_key(entry, interp):
    key = []
    for function, where, repeat in entry["stack"]:
        if not interp.qualnames:            # 3.9, 3.10: frames have co_name only
            function = function.rsplit(".", 1)[-1]
        line = MARKERS[where] if isinstance(where, str) else where
        key += [(function, line)] * repeat
    return tuple(key)


def matches(key, want, cut_ok):
    if key == want:
        return True
    kept = len(key) - 1
    if not cut_ok:
        return False
    return key[:1] == (TRUNCATED,) and kept >= MIN_KEPT and key[1:] == want[-kept:]


def show(key):
    """A key, runs of one frame folded: f:12 x3000."""
    out, i = [], 0
    while i < len(key):
        j = i
        while j < len(key) and key[j] == key[i]:
            j += 1
        out.append(f"{key[i][0]}:{key[i][1]}" + (f" x{j - i}" if j - i > 1 else ""))
        i = j
    return " > ".join(out)


@pytest.mark.parametrize("case", CASES)
def test_stacks(recorded, case):
    out, got, interp = recorded["out"], recorded["got"], recorded["interp"]
    if case in out["missing"]:
        why = out["missing"][case]
        pytest.skip(("GREENLET MISSING: " if case == "greenlet" else "") + why)
    assert case in out["cases"], out["cases"]
    truth = [(t["case"], t["tid"], expected_key(t, interp), t["bytes"]) for t in out["truth"]]
    mine = [(tid, want, nbytes) for c, tid, want, nbytes in truth if c == case]
    cut_ok = case == "deeper"
    assert mine, f"the program reported no stack for {case}"
    problems, used = [], set()
    for tid, want, nbytes in mine:
        hits = {k: b for k, b in got.items() if k[0] == tid and matches(k[1], want, cut_ok)}
        used.update(hits)
        have = sum(hits.values())
        if abs(have - nbytes) > TOL * nbytes + SLACK:
            leaf = want[-1]
            near = sorted(((b, show(k[1])) for k, b in got.items()
                           if k[0] == tid and k[1][-1] == leaf and k not in hits), reverse=True)
            problems.append(f"{show(want)}\n    want {nbytes} bytes, got {have}"
                            + "".join(f"\n    same leaf, other stack: {b} bytes at {s}"
                                      for b, s in near[:4]))
    # bytes at this case's allocation lines under a stack the program never made there
    leaves = {w[-1] for _, w, _ in mine}
    every = [(c == "deeper", tid, w) for c, tid, w, _ in truth]
    stray = {k: b for k, b in got.items() if k[1][-1] in leaves and k not in used
             and not any(k[0] == tid and matches(k[1], w, cut) for cut, tid, w in every)}
    if sum(stray.values()) > SLACK:
        problems += [f"stray: {b} bytes at {show(k[1])} (tid {k[0]})" for k, b in stray.items()]
    assert not problems, (f"{recorded['mode']} on {interp.id}, case {case}:\n"
                          + "\n".join(problems))


def test_same_output(recorded, plain):
    """The program does the same with stetho as without (deep recursion
    included: no crash, no RecursionError)."""
    assert without_tids(recorded["out"]) == without_tids(plain)
