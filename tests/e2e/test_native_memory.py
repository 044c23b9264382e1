"""`stetho run --native --memory ...`: each allocation's C frames merged with
its Python frames.

A C extension (tests/programs/native_alloc.c) is compiled here for each
interpreter, with frame pointers and without; native_alloc.py calls, from
known lines, leak_malloc -> keep_blocks -> alloc_malloc (malloc, kept: a
leak), leak_pymem -> keep_blocks -> alloc_pymem (PyMem_Malloc, kept) and
churn -> alloc_temp (malloc then free), 100 blocks of 256 KiB each.

Asserted: the stacks holding those bytes end in the C function that called
the allocator (malloc, PyMem_Malloc and the agent are hidden), with the
extension's callers between it and the Python line that called in, and
every Python frame of the program there ("no Python frame lost"); the
bytes within the memory tests' tolerances (exact: 2 %; sampled: 10 %, the
blocks being 4x the sampling mean: sigma ~1.4 %); the same Python totals
without --native.  numpy's np.ones shows a numpy C function under its line
on the interpreters that have numpy.  The same through the Python API
(`stetho.profile(native=True)`) and `stetho attach --memory --native` on a
program started without stetho.
"""

import json
import subprocess
import time

import pytest

from conftest import PROGRAMS, READY_TIMEOUT, read_line_with_prefix, run
from test_api import api_env
from test_attach_memory import ATTACH_TIMEOUT, start_attach, stop_attach
from test_memory import EXACT_TOL, FREED_SLACK, SAMPLED_TOL, assert_no_sanitizer, has_numpy
from test_native import FLAGS

ALLOC_C = PROGRAMS / "native_alloc.c"
ALLOC_PY = PROGRAMS / "native_alloc.py"
TOL = {"exact": EXACT_TOL, "sampled": SAMPLED_TOL}


def build_extension(python, tmp_path, flavour):
    cp = subprocess.run(
        [python.path, "-c", "import sysconfig; print(sysconfig.get_paths()['include']);"
         "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
        capture_output=True, text=True, timeout=30, check=True)
    include, suffix = cp.stdout.split()
    out = tmp_path / flavour
    out.mkdir()
    cc = subprocess.run(["cc", "-O2", "-shared", "-fPIC", *FLAGS[flavour], "-I", include,
                         "-o", str(out / ("native_alloc" + suffix)), str(ALLOC_C)],
                        capture_output=True, text=True, timeout=60)
    assert cc.returncode == 0, f"cannot build the test extension:\n{cc.stderr}"
    return out


def record(stetho, python, tmp_path, ext, mode, native, name, numpy=False):
    out, truth = tmp_path / f"{name}.json", tmp_path / f"{name}-truth.json"
    cmd = [stetho, "run", *(["--native"] if native else []), "--memory", mode, "-o", str(out),
           "--", python.path, str(ALLOC_PY), str(ext), str(truth), *(["numpy"] if numpy else [])]
    cp = run(cmd, cwd=tmp_path, timeout=120)
    stderr = cp.stderr.decode(errors="replace")
    assert cp.returncode == 0, f"{cmd}\nstatus {cp.returncode}\n{stderr}"
    assert_no_sanitizer(stderr)
    with open(out, encoding="utf-8") as f:
        export = json.load(f)
    with open(truth, encoding="utf-8") as f:
        return export, json.load(f), stderr


def stacks_ending_in(export, function):
    """(stack, its frames root first) of the stacks whose innermost frame is
    the native function."""
    frames = export["frames"]
    for s in export["stacks"]:
        if s["frames"] and frames[s["frames"][-1]]["function"] == function \
                and frames[s["frames"][-1]]["kind"] == "native":
            yield s, [frames[i] for i in s["frames"]]


def python_part(chain):
    return [(f["function"], f["line"]) for f in chain if f["kind"] == "python"]


def py_total(export, function, field):
    idx = {i for i, f in enumerate(export["frames"])
           if f["function"] == function and f["kind"] == "python"}
    return sum(s[field] for s in export["stacks"] if idx.intersection(s["frames"]))


def check_c_function(export, truth, cfunc, chain_names, pyfunc, field, mode):
    found = list(stacks_ending_in(export, cfunc))
    names_seen = sorted({f["function"] for s in export["stacks"] if s["frames"]
                         for f in [export["frames"][s["frames"][-1]]]})
    assert found, f"no stack ends in {cfunc}; innermost frames seen: {names_seen}"
    got = sum(s[field] for s, _ in found)
    want = truth[pyfunc]["bytes"]
    assert abs(got - want) <= TOL[mode] * want, (cfunc, field, got, want)
    for s, chain in found:
        names = [f["function"] for f in chain]
        # root first: the Python line, then the extension's C frames in order
        pos = [names.index(n) for n in [pyfunc, *chain_names, cfunc]]
        assert pos == sorted(pos), names
        assert all(f["kind"] == "native" for f in chain[pos[1]:]), chain
        assert python_part(chain) == [("<module>", python_part(chain)[0][1]),
                                      (pyfunc, truth[pyfunc]["line"])], chain
        assert chain[-1]["file"].endswith(".so"), chain[-1]


@pytest.mark.parametrize("flavour", ["fp", "nofp"])
@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_c_allocations_under_their_python_line(python, stetho, tmp_path, flavour, mode):
    ext = build_extension(python, tmp_path, flavour)
    export, truth, stderr = record(stetho, python, tmp_path, ext, mode, True, "native")
    check_c_function(export, truth, "alloc_malloc", ["leak_malloc", "keep_blocks"],
                     "leaks_malloc", "leaked_bytes", mode)
    check_c_function(export, truth, "alloc_pymem", ["leak_pymem", "keep_blocks"],
                     "leaks_pymem", "leaked_bytes", mode)
    check_c_function(export, truth, "alloc_temp", ["churn"], "churns", "alloc_bytes", mode)
    temp_leaked = sum(s["leaked_bytes"] for s, _ in stacks_ending_in(export, "alloc_temp"))
    assert temp_leaked <= FREED_SLACK, temp_leaked
    # the allocator's frames are hidden: no stack ends in them
    for hidden in ("malloc", "PyMem_Malloc", "PyMem_RawMalloc", "_PyObject_Malloc"):
        # (time samples may well be taken inside them: only allocations count)
        assert not [s for s, _ in stacks_ending_in(export, hidden) if s["alloc_count"]], hidden
    assert "allocation stacks merged partially" in stderr, stderr

    # the same Python totals without --native
    plain, truth2, _ = record(stetho, python, tmp_path, ext, mode, False, "plain")
    for pyfunc, field in (("leaks_malloc", "leaked_bytes"), ("leaks_pymem", "leaked_bytes"),
                          ("churns", "alloc_bytes")):
        with_native = py_total(export, pyfunc, field)
        without = py_total(plain, pyfunc, field)
        want = truth2[pyfunc]["bytes"]
        for got in (with_native, without):
            assert abs(got - want) <= TOL[mode] * want, (pyfunc, field, got, want)
    assert not any(f["kind"] == "native" for f in plain["frames"])


def test_no_python_frame_lost(python, stetho, tmp_path):
    """Every stack of a --native run keeps the Python frames the agent saw:
    the Python part of each stack is one of the Python stacks of a run
    without --native."""
    ext = build_extension(python, tmp_path, "nofp")
    export, _, stderr = record(stetho, python, tmp_path, ext, "exact", True, "native")
    plain, _, _ = record(stetho, python, tmp_path, ext, "exact", False, "plain")

    def py_stacks(e):
        fr = e["frames"]
        return {tuple((fr[i]["function"], fr[i]["line"]) for i in s["frames"]
                      if fr[i]["kind"] == "python") for s in e["stacks"]}

    def of_program(stacks):
        return {s for s in stacks if any(f in ("leaks_malloc", "leaks_pymem", "churns")
                                         for f, _ in s)}

    assert of_program(py_stacks(export)) == of_program(py_stacks(plain))


def test_numpy_ones_under_its_line(python, stetho, tmp_path):
    if not has_numpy(python.path):
        pytest.skip(f"NUMPY MISSING for {python.id}: np.ones is not checked")
    ext = build_extension(python, tmp_path, "nofp")
    export, truth, _ = record(stetho, python, tmp_path, ext, "exact", True, "numpy", numpy=True)
    frames, want = export["frames"], truth["numpy_ones"]
    held = [s for s in export["stacks"]
            if ("numpy_ones", want["line"]) in python_part([frames[i] for i in s["frames"]])]
    big = max(held, key=lambda s: s["leaked_bytes"], default=None)
    assert big and abs(big["leaked_bytes"] - want["bytes"]) <= EXACT_TOL * want["bytes"], held
    chain = [frames[i] for i in big["frames"]]
    inner = chain[-1]
    assert inner["kind"] == "native" and "_multiarray_umath" in inner["file"], chain


API_WRAPPER = """\
import runpy, sys
import stetho
ext, truth, out, prog = sys.argv[1:5]
sys.argv = [prog, ext, truth]
with stetho.profile(memory="exact", native=True, output=out):
    runpy.run_path(prog, run_name="__main__")
"""


def test_python_api_native(python, stetho, tmp_path):
    """stetho.profile(native=True): the agent started inside the running
    interpreter records native stacks too, and the sampler merges them."""
    ext = build_extension(python, tmp_path, "fp")
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(API_WRAPPER)
    capture, truth_path = tmp_path / "api.stetho", tmp_path / "truth.json"
    cp = run([python.path, str(wrapper), str(ext), str(truth_path), str(capture), str(ALLOC_PY)],
             cwd=tmp_path, env=api_env(stetho), timeout=120)
    err = cp.stderr.decode(errors="replace")
    assert cp.returncode == 0, err
    assert_no_sanitizer(err)
    out = tmp_path / "api.json"
    cp = run([stetho, "export", str(capture), "--format", "json", "-o", str(out)], timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    export = json.loads(out.read_text())
    truth = json.loads(truth_path.read_text())
    for cfunc, chain_names, pyfunc in (("alloc_malloc", ["leak_malloc", "keep_blocks"],
                                        "leaks_malloc"),
                                       ("alloc_pymem", ["leak_pymem", "keep_blocks"],
                                        "leaks_pymem")):
        found = list(stacks_ending_in(export, cfunc))
        assert found, cfunc
        got = sum(s["alloc_bytes"] for s, _ in found)
        want = truth[pyfunc]["bytes"]
        assert abs(got - want) <= TOL["exact"] * want, (cfunc, got, want)
        for _, chain in found:
            names = [f["function"] for f in chain]
            pos = [names.index(n) for n in [pyfunc, *chain_names, cfunc]]
            assert pos == sorted(pos), names
            assert (pyfunc, truth[pyfunc]["line"]) in python_part(chain), chain


ATTACH_TARGET = """\
import os, sys, time
sys.path.insert(0, sys.argv[1])
import native_alloc
stop = os.path.join(sys.argv[2], "stop")
print("READY", flush=True)
calls = 0
def loop():
    global calls
    while not os.path.exists(stop):
        native_alloc.leak_malloc(1, 64 * 1024)      # ATTACH_LINE
        calls += 1
        time.sleep(0.005)
loop()
print("DONE", calls, flush=True)
"""


def test_attach_memory_native(python, stetho, spawn, tmp_path):
    """`stetho attach --memory=exact --native PID`: a program started
    without stetho gets the agent, and its allocations their C frames,
    under the Python line; detaching leaves it running to its normal end."""
    ext = build_extension(python, tmp_path, "nofp")
    prog = tmp_path / "attach_native.py"
    prog.write_text(ATTACH_TARGET)
    line = next(i for i, t in enumerate(ATTACH_TARGET.splitlines(), 1) if "ATTACH_LINE" in t)
    p = spawn.popen([python.path, str(prog), str(ext), str(tmp_path)])
    read_line_with_prefix(p, b"READY", READY_TIMEOUT)
    st, _ = start_attach(spawn, stetho, p.pid, tmp_path, "--memory=exact", "--native")
    time.sleep(1.0)
    stop_attach(st)
    (tmp_path / "stop").write_text("")
    out, err = p.communicate(timeout=ATTACH_TIMEOUT)
    assert p.returncode == 0 and err == b"", (p.returncode, err)
    calls = int(out.split()[-1])
    export = json.loads((tmp_path / "cap.json").read_text())
    found = list(stacks_ending_in(export, "alloc_malloc"))
    assert found, sorted({export["frames"][s["frames"][-1]]["function"]
                          for s in export["stacks"] if s["frames"]})
    got = sum(s["alloc_bytes"] for s, _ in found)
    # about 1 s of a loop of 64 KiB blocks: some, and never more than all
    assert 64 * 1024 * 10 <= got <= 64 * 1024 * calls, (got, calls)
    for _, chain in found:
        names = [f["function"] for f in chain]
        pos = [names.index(n) for n in ["loop", "leak_malloc", "keep_blocks", "alloc_malloc"]]
        assert pos == sorted(pos), names
        assert ("loop", line) in python_part(chain), chain
