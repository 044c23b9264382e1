"""Reserved address space is not memory held (issue 9).

tests/programs/mem_mapped.py maps 64 MiB it never touches, 64 MiB of which
it touches 16, and 32 MiB it touches whole, and 16 mappings of 256 KiB it
never touches, and keeps them all to the end; 16 more of 256 KiB it
replaces at once with a file mapped over each (MAP_FIXED), which count
nothing.  stetho counts an anonymous mapping of 1 MiB or more in the heap
by its resident pages, and keeps its whole size beside ("mapped"); a
smaller one counts whole, as a malloc'd block does (measuring each cost
more than its pages could be wrong by):

* per function, held at the peak and leaked = what it touched, and the
  small ones' whole size (1 MiB of slack for the interpreter's own small
  objects and the page tables' view);
* the totals: mapped at the peak >= the 160 MiB mapped, its resident part
  about the 48 MiB touched, and the peak heap below the program's RSS plus
  a little (it was 112 MiB above it when mappings counted whole);
* `import numpy`: OpenBLAS's untouched buffers (32 MiB per thread) are
  mapped but not resident, and the heap no longer exceeds the RSS;
* however late stetho decodes: with its memory thread held a second
  behind the program (the test hook STETHO_TEST_MEMORY_LAG_MS), mappings
  touched and unmapped at once, or kept while the program ends at once,
  count what the agent measured of them (mincore) as they went.
"""

import functools
import json
import os
import subprocess

import pytest

from conftest import PROGRAMS, run

MB = 1 << 20
SLACK = 1 * MB
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:")


def err(cp):
    return cp.stderr.decode(errors="replace")


def record(stetho, python, tmp, args, mode="exact", env=None):
    out = tmp / "cap.json"
    cmd = [stetho, "run", "-q", "--memory", mode, "-o", str(out), "--", python.path, *args]
    cp = run(cmd, cwd=tmp, timeout=120, env=env)
    assert cp.returncode == 0, f"{cmd}\n{err(cp)}"
    for mark in SANITIZER_MARKS:
        assert mark not in err(cp), err(cp)
    st = run([stetho, "stats", str(tmp / "cap.stetho"), "--json"], cwd=tmp)
    assert st.returncode == 0, err(st)
    return json.loads(out.read_text()), json.loads(st.stdout)["memory"]


def func_mem(export, function, key):
    idx = {i for i, f in enumerate(export["frames"]) if f["function"] == function}
    return sum(s[key] for s in export["stacks"] if idx.intersection(s["frames"]))


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_mappings_count_what_is_resident(stetho, python, tmp_path, mode):
    if python.missing:
        pytest.skip("MISSING INTERPRETER: " + python.missing)
    truth_path = tmp_path / "truth.json"
    export, mem = record(stetho, python, tmp_path,
                         [str(PROGRAMS / "mem_mapped.py"), str(truth_path)], mode)
    truth = json.loads(truth_path.read_text())
    for f, counted in truth["counted"].items():
        peak, leaked = func_mem(export, f, "peak_bytes"), func_mem(export, f, "leaked_bytes")
        print(f"{python.id} {mode} {f}: counted {counted}, peak {peak}, leaked {leaked}")
        assert abs(peak - counted) <= SLACK, (f, peak, counted)
        assert abs(leaked - counted) <= SLACK, (f, leaked, counted)
    mapped, touched = sum(truth["mapped"].values()), sum(truth["touched"].values())
    print(f"{python.id} {mode}: {mem}")
    assert mem["peak_mapped_bytes"] >= mapped, mem
    assert abs(mem["peak_mapped_resident_bytes"] - touched) <= 2 * SLACK, mem
    assert mem["leaked_mapped_bytes"] >= mapped, mem
    assert mem["peak_heap_bytes"] >= touched + truth["counted"]["small"], mem
    assert mem["peak_heap_bytes"] <= mem["peak_rss_bytes"] + 8 * MB, mem


@functools.lru_cache(maxsize=None)
def has_numpy(path):
    try:
        return subprocess.run([path, "-c", "import numpy"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_numpy_reservations_not_held(stetho, python, tmp_path):
    if python.missing:
        pytest.skip("MISSING INTERPRETER: " + python.missing)
    if not has_numpy(python.path):
        pytest.skip(f"numpy is not installed for {python.path}")
    _, mem = record(stetho, python, tmp_path, ["-c", "import numpy"])
    print(f"{python.id}: {mem}")
    reserved = mem["peak_mapped_bytes"] - mem["peak_mapped_resident_bytes"]
    assert reserved >= 32 * MB - SLACK, mem
    assert mem["peak_heap_bytes"] < mem["peak_rss_bytes"], mem


LAG_MS = 1000


@pytest.mark.parametrize("end", ["finalize", "exit"])
@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_mappings_counted_however_late_stetho_decodes(stetho, python, tmp_path, mode, end):
    """tests/programs/mem_mapped_brief.py: kept() keeps 24 MiB touched, brief()
    touches 40 MiB and unmaps it at once, ten times, cut() touches 16 MiB and
    shrinks it to 8 (mremap); then the program ends at once (returning, or
    os._exit).  stetho decodes each chunk a second after it was written, so
    none of these pages is ever seen by its own measures: the heap's peak
    (during brief) and what is left come from the agent's."""
    if python.missing:
        pytest.skip("MISSING INTERPRETER: " + python.missing)
    truth_path = tmp_path / "truth.json"
    env = dict(os.environ, STETHO_TEST_MEMORY_LAG_MS=str(LAG_MS))
    export, mem = record(stetho, python, tmp_path,
                         [str(PROGRAMS / "mem_mapped_brief.py"), str(truth_path), end],
                         mode, env)
    truth = json.loads(truth_path.read_text())
    for f in truth["peak"]:
        peak, leaked = func_mem(export, f, "peak_bytes"), func_mem(export, f, "leaked_bytes")
        print(f"{python.id} {mode} {end} {f}: peak {peak} (truth {truth['peak'][f]}), "
              f"leaked {leaked} (truth {truth['leaked'][f]})")
        assert abs(peak - truth["peak"][f]) <= SLACK, (f, peak, truth["peak"][f])
        assert abs(leaked - truth["leaked"][f]) <= SLACK, (f, leaked, truth["leaked"][f])
    held = truth["peak"]["kept"] + truth["peak"]["brief"]
    print(f"{python.id} {mode} {end}: {mem}")
    assert abs(mem["peak_mapped_resident_bytes"] - held) <= 2 * SLACK, mem
    assert mem["peak_heap_bytes"] >= held, mem
