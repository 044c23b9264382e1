"""`stetho dump --native PID`: C frames merged with the Python frames.

A C extension (tests/programs/native_burn.c, with the C++ method of
native_spin.cpp) is compiled here for each interpreter, with frame
pointers, without them, and without frame pointers or unwind tables (where
no unwinder can go past it); native_burn.py calls py_caller -> burn ->
burn_a -> burn_b.  numpy's matrix product must show its BLAS frame under
the line of the product.  Built with -g, native_spin.py's call of
ns::Klass::spin(int) checks what the capture keeps of a native frame
(demangled name, file:line, module, build-id, address) against elfutils'
own eu-readelf and eu-addr2line, in the exports (pprof's mappings) and in
the HTML report (its colour, the toggle that hides native frames).
"""

import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (AVAILABLE, PROGRAMS, READY_TIMEOUT, load_json_stdout,
                      read_line_with_prefix, run)

BURN_C = PROGRAMS / "native_burn.c"
SPIN_CPP = PROGRAMS / "native_spin.cpp"
SPIN_PY = PROGRAMS / "native_spin.py"
BURN_PY = PROGRAMS / "native_burn.py"
MATMUL_PY = PROGRAMS / "native_matmul.py"

FLAGS = {
    "fp": ["-fno-omit-frame-pointer"],
    "nofp": ["-fomit-frame-pointer"],
    # nothing tells an unwinder how to leave burn_b: the merge must fail
    # loudly and keep every Python frame
    "nounwind": ["-fomit-frame-pointer", "-fno-asynchronous-unwind-tables",
                 "-fno-unwind-tables"],
}


def build_extension(python, tmp_path, flavour, debug=False):
    cp = subprocess.run(
        [python.path, "-c", "import sysconfig; print(sysconfig.get_paths()['include']);"
         "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
        capture_output=True, text=True, timeout=30, check=True)
    include, suffix = cp.stdout.split()
    out = tmp_path / (flavour + ("-g" if debug else ""))
    out.mkdir()
    flags = [*FLAGS[flavour], *(["-g"] if debug else [])]
    # the C++ part uses no C++ library: the extension links as C does
    obj = out / "native_spin.o"
    cxx = subprocess.run(["c++", "-O2", "-fPIC", "-fno-exceptions", "-fno-rtti", *flags, "-c",
                          "-o", str(obj), str(SPIN_CPP)], capture_output=True, text=True,
                         timeout=60)
    assert cxx.returncode == 0, f"cannot build the test extension's C++ part:\n{cxx.stderr}"
    cc = subprocess.run(["cc", "-O2", "-shared", "-fPIC", *flags, "-I", include,
                         "-o", str(out / ("native_burn" + suffix)), str(BURN_C), str(obj)],
                        capture_output=True, text=True, timeout=60)
    assert cc.returncode == 0, f"cannot build the test extension:\n{cc.stderr}"
    return out


def start(spawn, cmd, env=None):
    proc = spawn.popen(cmd, env=env)
    line, _, _ = read_line_with_prefix(proc, b"READY ", READY_TIMEOUT)
    return proc, json.loads(line[len(b"READY "):])


def dump_native(stetho, pid, *extra):
    cp = run([stetho, "dump", "--native", *extra, str(pid)], timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    return cp


def main_thread(dump, pid):
    return next(t for t in dump["threads"] if t["tid"] == pid)


def dump_until(stetho, pid, ready, tries=40):
    """The main thread's JSON stack, dumped until ready(frames) holds."""
    for _ in range(tries):
        th = main_thread(load_json_stdout(dump_native(stetho, pid, "--json")), pid)
        if ready(th["frames"]):
            return th
        time.sleep(0.05)
    return th


def native_names(frames):
    return [f["function"] for f in frames if f.get("kind") == "native"]


def python_frames(frames):
    return [(f["function"], f["line"]) for f in frames if f.get("kind") != "native"]


def has_burn(frames):
    return "burn_b" in native_names(frames)


@pytest.mark.parametrize("flavour", ["fp", "nofp"])
def test_merged_order(python, stetho, spawn, tmp_path, flavour):
    ext = build_extension(python, tmp_path, flavour)
    proc, info = start(spawn, [python.path, str(BURN_PY), str(ext), "60"])
    th = dump_until(stetho, proc.pid, has_burn)
    frames = th["frames"]
    names = [f["function"] for f in frames]
    assert has_burn(frames), f"burn_b never seen on {python.id}: {names}"
    assert th["native_merge"]["complete"], th["native_merge"]
    assert th["native_merge"]["eval_calls"] >= 1
    # innermost first: burn_b, burn_a, then (after the C entry point) py_caller
    b, a, c = names.index("burn_b"), names.index("burn_a"), names.index("py_caller")
    assert b < a < c, names
    assert all(f.get("kind") == "native" for f in frames[b:c]), frames[b:c]
    # the Python stack, exactly as without --native
    assert python_frames(frames) == [("py_caller", info["caller_line"]),
                                     ("outer", info["outer_line"]),
                                     ("<module>", info["module_line"])], frames
    burn = frames[b]
    assert burn["module"].startswith(str(ext)) and re.fullmatch(r"[0-9a-f]{40}",
                                                                burn["build_id"] or "")
    assert burn["address"] > 0
    # the text form marks native frames and keeps Python's lines
    text = dump_native(stetho, proc.pid).stdout.decode()
    assert re.search(r"\[native\] burn_b \(native_burn[^)]*\.so\)\n"
                     r"    \[native\] burn_a \(", text), text
    assert f"py_caller ({info['file']}:{info['caller_line']})" in text, text


def test_merge_failure_keeps_python_frames(python, stetho, spawn, tmp_path):
    ext = build_extension(python, tmp_path, "nounwind")
    proc, info = start(spawn, [python.path, str(BURN_PY), str(ext), "60"])
    th = dump_until(stetho, proc.pid, has_burn)
    frames = th["frames"]
    assert frames[0]["function"] == "burn_b", frames
    merge = th["native_merge"]
    assert not merge["complete"] and merge["eval_calls"] < merge["python_calls"], merge
    assert python_frames(frames) == [("py_caller", info["caller_line"]),
                                     ("outer", info["outer_line"]),
                                     ("<module>", info["module_line"])], frames
    dump = load_json_stdout(dump_native(stetho, proc.pid, "--json"))
    assert dump["native_partial"] >= 1
    text = dump_native(stetho, proc.pid).stdout.decode()
    assert "native merge partial" in text and "merged partially" in text, text


def test_numpy_blas_under_its_line(python, stetho, spawn):
    probe = subprocess.run([python.path, "-c", "import numpy"], capture_output=True,
                           timeout=60)
    if probe.returncode:
        pytest.skip(f"NUMPY MISSING for {python.id}: the BLAS frame is not checked")
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PATH": "/usr/bin:/bin"}
    proc, info = start(spawn, [python.path, str(MATMUL_PY), "60"], env=env)

    def blas(frames):
        return any(f.get("kind") == "native" and re.search(r"blas", f["module"] or "", re.I)
                   for f in frames)

    th = dump_until(stetho, proc.pid, blas, tries=100)
    frames = th["frames"]
    assert blas(frames), f"no BLAS frame in 100 dumps on {python.id}: {frames}"
    # every native frame comes before (inside) the product's Python line
    first_py = next(i for i, f in enumerate(frames) if f.get("kind") != "native")
    assert frames[first_py]["function"] == "matmul_loop", frames
    assert frames[first_py]["line"] == info["line"], frames
    assert any(blas([f]) for f in frames[:first_py]), frames


def collapsed(stetho, capture):
    """{stack tuple (root first): samples} from the collapsed export."""
    cp = run([stetho, "export", str(capture), "--format", "collapsed", "--metric", "samples"],
             timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    out = {}
    for line in cp.stdout.decode().splitlines():
        stack, _, count = line.rpartition(" ")
        out[tuple(stack.split(";"))] = int(count)
    return out


def names_of(stack):
    return [frame.rsplit(" (", 1)[0] for frame in stack]


PAUSED = re.compile(r"--native: the threads were paused ([0-9.]+) ms per sample on average"
                    r"(?: \(perf events refused: [^)]*\))?; (\d+) of (\d+) stacks merged partially")
BY_PERF = re.compile(r"--native: by perf events, no thread paused; unwinding took ([0-9.]+) ms "
                     r"per sample on average \(stacks: (\d+) copied by the kernel, (\d+) of "
                     r"blocked threads, (\d+) kept from before\); (\d+) of (\d+) stacks merged "
                     r"partially")
REFUSED = "perf events are refused here"
NO_PERF = PROGRAMS / "no_perf.py"


def burning_stacks(stacks):
    return sum(n for s, n in stacks.items()
               if names_of(s)[-4:] == ["py_caller", "burn", "burn_a", "burn_b"])


def check_burn_stacks(stetho, capture, info):
    """burn_b's stacks: the C frames in order under all of the call's Python frames."""
    stacks = collapsed(stetho, capture)
    total = sum(stacks.values())
    burning = burning_stacks(stacks)
    # burn_b runs for 2 of the program's (start-up included) seconds
    assert burning > total / 3, (burning, total, sorted(stacks.items(), key=lambda x: -x[1])[:5])
    for s in stacks:
        names = names_of(s)
        if "burn_b" in names:
            # every Python frame of the call is there, above the C ones
            # (native frames with debug information have a line too)
            py = [f for f in s if re.search(r"\.py:\d+\)$", f)]
            assert [names_of([f])[0] for f in py][-3:] == ["<module>", "outer", "py_caller"], s
    return stacks


@pytest.mark.parametrize("way", ["perf", "ptrace"])
@pytest.mark.parametrize("command", ["run", "attach"])
def test_sampled_native_frames(python, stetho, spawn, tmp_path, command, way):
    ext = build_extension(python, tmp_path, "nofp")
    capture = tmp_path / "native.stetho"
    if command == "run":
        cp = run([stetho, "run", f"--native={way}", "--memory", "off", "-o", str(capture), "--",
                  python.path, str(BURN_PY), str(ext), "2"], timeout=120)
        info = json.loads(next(l for l in cp.stdout.decode().splitlines()
                               if l.startswith("READY "))[len("READY "):])
    else:
        proc, info = start(spawn, [python.path, str(BURN_PY), str(ext), "3"])
        cp = run([stetho, "attach", f"--native={way}", "--duration", "2", "-o", str(capture),
                  str(proc.pid)], timeout=120)
    err = cp.stderr.decode(errors="replace")
    assert cp.returncode == 0, err
    # how the stacks were taken, what it cost and the partial merges are said
    assert (BY_PERF if way == "perf" else PAUSED).search(err), err
    assert REFUSED not in err, err
    check_burn_stacks(stetho, capture, info)
    # a native frame is a frame of its own kind in every export
    out = tmp_path / "native.json"
    cp = run([stetho, "export", str(capture), "--format", "json", "-o", str(out)], timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    frames = json.loads(out.read_text())["frames"]
    kinds = {f["function"]: f["kind"] for f in frames}
    assert kinds["burn_b"] == "native" and kinds["py_caller"] == "python", kinds
    assert any(f["function"] == "py_caller" and f["line"] == info["caller_line"]
               for f in frames), frames


def tracer_pids(pid):
    """The TracerPid of every thread of pid now."""
    out = []
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(status) as f:
                out += [int(l.split()[1]) for l in f if l.startswith("TracerPid:")]
        except OSError:
            pass                        # a thread that just ended
    return out


@pytest.mark.parametrize("way", ["perf", "ptrace"])
def test_perf_never_stops_a_thread(python, stetho, spawn, tmp_path, way):
    """With perf events no thread is ever traced, while a C function spins
    on one thread and another sleeps; ptrace, the control, is seen holding
    them by the same watch."""
    ext = build_extension(python, tmp_path, "fp")
    proc, info = start(spawn, [python.path, str(BURN_PY), str(ext), "6", "sleeper"])
    capture = tmp_path / "native.stetho"
    rec = spawn.popen([stetho, "attach", f"--native={way}", "--duration", "2.5", "-o",
                       str(capture), str(proc.pid)], stdout=subprocess.DEVNULL,
                      stderr=subprocess.PIPE)
    looks, traced = 0, 0
    while rec.poll() is None:
        tracers = tracer_pids(proc.pid)
        looks += 1
        traced += any(tracers)
        time.sleep(0.001)
    err = rec.stderr.read().decode(errors="replace")
    assert rec.returncode == 0, err
    assert looks > 100, looks
    if way == "ptrace":
        assert traced, f"the watch never saw a thread held in {looks} looks"
        return
    assert not traced, f"{traced} of {looks} looks saw a traced thread"
    m = BY_PERF.search(err)
    assert m, err
    copies, blocked = int(m.group(2)), int(m.group(3))
    assert copies >= 10 and blocked >= 1, err      # copies: one per 10 ms of its CPU
    check_burn_stacks(stetho, capture, info)
    # the sleeping thread: its native stack (where it blocks, in the C
    # library) above its Python line, in nearly every sample
    stacks = collapsed(stetho, capture)
    sleeping = {s: n for s, n in stacks.items() if "sleeper" in names_of(s)}
    assert sleeping, stacks
    with_native = sum(n for s, n in sleeping.items() if names_of(s).index("sleeper") < len(s) - 1)
    assert with_native >= 0.9 * sum(sleeping.values()), sleeping
    out = tmp_path / "native.json"
    cp = run([stetho, "export", str(capture), "--format", "json", "-o", str(out)], timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert any(f["function"] == "sleeper" and f["line"] == info["sleep_line"]
               for f in json.loads(out.read_text())["frames"])


def test_perf_refused_falls_back_to_ptrace(python, stetho, tmp_path):
    ext = build_extension(python, tmp_path, "nofp")
    capture = tmp_path / "native.stetho"
    cp = run([python.path, str(NO_PERF), stetho, "run", "--native", "--memory", "off", "-o",
              str(capture), "--", python.path, str(BURN_PY), str(ext), "2"], timeout=120)
    err = cp.stderr.decode(errors="replace")
    assert cp.returncode == 0, err
    info = json.loads(next(l for l in cp.stdout.decode().splitlines()
                           if l.startswith("READY "))[len("READY "):])
    # said once, when it happened, and again in the closing numbers
    assert err.count(REFUSED) == 1, err
    assert "pausing the threads with ptrace at each sample instead" in err, err
    m = PAUSED.search(err)
    assert m and "perf events refused: Permission denied" in m.group(0), err
    check_burn_stacks(stetho, capture, info)


def test_perf_only_refused_keeps_python_frames(python, stetho, tmp_path):
    ext = build_extension(python, tmp_path, "nofp")
    capture = tmp_path / "native.stetho"
    cp = run([python.path, str(NO_PERF), stetho, "run", "--native=perf", "--memory", "off",
              "-o", str(capture), "--", python.path, str(BURN_PY), str(ext), "2"], timeout=120)
    err = cp.stderr.decode(errors="replace")
    assert cp.returncode == 0, err
    assert err.count(REFUSED) == 1 and "sampling without native frames" in err, err
    stacks = collapsed(stetho, capture)
    names = {n for s in stacks for n in names_of(s)}
    assert "py_caller" in names and "burn_b" not in names, names


def test_native_way_is_checked(stetho):
    cp = run([stetho, "run", "--native=gdb", "--", "true"], timeout=30)
    assert cp.returncode == 2
    assert cp.stderr.decode().strip() == \
        "stetho: --native takes auto, perf or ptrace (got 'gdb')"
# --------------------------------------------------------------------------
# What the capture keeps of a native frame, and every report and export
# --------------------------------------------------------------------------

SPIN = "ns::Klass::spin(int)"


def marked_line(path, mark):
    with open(path) as f:
        return next(i for i, l in enumerate(f, 1) if l.rstrip().endswith("// " + mark))


def need_elfutils():
    if not (shutil.which("eu-readelf") and shutil.which("eu-addr2line")):
        msg = "eu-readelf and eu-addr2line (apt-get install elfutils) check the symbols"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def spin_capture(stetho, python, tmp_path, seconds="1.5"):
    """A --native capture of native_spin.py with the extension built -g."""
    ext = build_extension(python, tmp_path, "fp", debug=True)
    capture = tmp_path / "spin.stetho"
    cp = run([stetho, "run", "--native", "--memory", "off", "-o", str(capture), "--",
              python.path, str(SPIN_PY), str(ext), seconds], timeout=120)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    return ext, capture


def plt_ranges(module):
    """[start, end) of the module's PLT sections (file addresses)."""
    out = run(["eu-readelf", "-S", str(module)]).stdout.decode()
    return [(int(m.group(1), 16), int(m.group(1), 16) + int(m.group(2), 16))
            for m in re.finditer(r"\]\s+\.plt\S*\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)",
                                 out)]


def pb_fields(data):
    """(field number, value) of a protobuf message: ints, or bytes."""
    out, i = [], 0

    def varint():
        nonlocal i
        v = shift = 0
        while True:
            b = data[i]
            i += 1
            v |= (b & 0x7f) << shift
            shift += 7
            if b < 0x80:
                return v
    while i < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            out.append((field, varint()))
        elif wire == 2:
            n = varint()
            out.append((field, data[i:i + n]))
            i += n
        else:
            raise AssertionError(f"wire type {wire} is not written by stetho")
    return out


def test_native_symbols(python, stetho, tmp_path):
    need_elfutils()
    ext, capture = spin_capture(stetho, python, tmp_path)
    out = tmp_path / "spin.json"
    cp = run([stetho, "export", str(capture), "--format", "json", "-o", str(out)], timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    frames = json.loads(out.read_text())["frames"]
    spin = [f for f in frames if f["function"] == SPIN]
    # demangled: the capture has the C++ name, not _ZN2ns5Klass4spinEi
    assert spin, sorted({f["function"] for f in frames if f["kind"] == "native"})
    module = spin[0]["module"]
    assert module.startswith(str(ext)) and all(f["kind"] == "native" and f["module"] == module
                                               for f in spin), spin
    # the module's build-id, as elfutils reads it
    notes = run(["eu-readelf", "-n", module]).stdout.decode()
    build_id = re.search(r"Build ID: ([0-9a-f]+)", notes).group(1)
    assert all(f["build_id"] == build_id for f in spin), (build_id, spin)
    # file:line: what eu-addr2line says of the recorded address in the module
    addrs = [hex(f["address"]) for f in spin]
    lines = run(["eu-addr2line", "-e", module, *addrs]).stdout.decode().split()
    assert len(lines) == len(spin), lines
    for f, where in zip(spin, lines):
        file, line = re.fullmatch(r"(.*?):(\d+)(?::\d+)?", where).groups()
        assert (os.path.realpath(f["file"]), f["line"]) == (os.path.realpath(file),
                                                            int(line)), (f, where)
        assert Path(f["file"]).resolve() == SPIN_CPP.resolve(), f
        # the function's first line is the line it begins on, as for Python
        assert f["first_line"] == marked_line(SPIN_CPP, "ENTRY"), f
    # where it spins: the innermost frame's line is the loop's
    assert any(f["line"] == marked_line(SPIN_CPP, "SPIN") for f in spin), spin
    # spin() calls clock_gettime through a PLT stub, often: a sample there
    # is named after it, as perf names it (the stub has no symbol of its own)
    plt = plt_ranges(module)
    in_plt = [f for f in frames if f["kind"] == "native" and f["module"] == module and
              any(lo <= f["address"] < hi for lo, hi in plt)]
    assert all(f["function"] == "clock_gettime@plt" for f in in_plt), in_plt
    # every native frame has its place; frames without symbols say module+offset
    for f in frames:
        if f["kind"] == "native":
            assert f["module"] and f["address"] > 0, f
            if "+0x" in f["function"]:
                base, off = f["function"].rsplit("+0x", 1)
                assert base == os.path.basename(f["module"]) and int(off, 16) == f["address"], f

    # the stacks: the Python caller above the C++ method
    stacks = collapsed(stetho, capture)
    spinning = {s: n for s, n in stacks.items() if names_of(s)[-1] == SPIN}
    assert sum(spinning.values()) > sum(stacks.values()) / 3, stacks
    for s in spinning:
        names = names_of(s)
        assert "spin_caller" in names, s
        assert s[-1].endswith(f"native_spin.cpp:{marked_line(SPIN_CPP, 'ENTRY')})"), s

    # the text reports mark native frames
    for cmd in ("tree", "table"):
        cp = run([stetho, cmd, str(capture)], timeout=60)
        assert cp.returncode == 0, cp.stderr.decode(errors="replace")
        assert f"[native] {SPIN}" in cp.stdout.decode(), cp.stdout.decode()

    # pprof: a mapping per module, with its build-id; locations at the address
    cp = run([stetho, "export", str(capture), "--format", "pprof"], timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    prof = pb_fields(gzip.decompress(cp.stdout))
    strings = [v.decode() for k, v in prof if k == 6]
    mappings = {}
    for k, v in prof:
        if k == 3:
            m = dict(pb_fields(v))
            mappings[m[1]] = (strings[m.get(5, 0)], strings[m.get(6, 0)])
    assert (module, build_id) in mappings.values(), mappings
    mid = next(i for i, v in mappings.items() if v == (module, build_id))
    placed = {dict(pb_fields(v)).get(3) for k, v in prof
              if k == 4 and dict(pb_fields(v)).get(2) == mid}
    assert {f["address"] for f in spin} <= placed, (placed, spin)


def test_native_frames_in_html(stetho, tmp_path):
    """The HTML report (in Chromium): native frames coloured apart, and the
    toggle that hides them (their time going to the Python caller)."""
    from test_html import check_report, need_browser
    need_browser()
    python = AVAILABLE[0] if AVAILABLE else pytest.skip("no Python interpreter found")
    _, capture = spin_capture(stetho, python, tmp_path, "1")
    report = tmp_path / "spin.html"
    cp = run([stetho, "html", str(capture), "-o", str(report)], timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    result = check_report(report, "--native", SPIN, "--native-caller", "spin_caller")
    assert "unticked: no native frame left" in result["passed"], result


def export_frames(stetho, capture, *opts):
    cp = run([stetho, "export", str(capture), "--format", "json", *opts], timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    return json.loads(cp.stdout)["frames"], cp.stderr.decode(errors="replace")


def test_symbolize_later_by_build_id(python, stetho, tmp_path):
    """Recorded from a stripped extension (no debug information, no local
    symbols), a capture's native frames are named again by --symbolize from
    the unstripped file put back at the module's path (same build-id); a
    file of another build there (another build-id) changes nothing."""
    ext = build_extension(python, tmp_path, "fp", debug=True)
    so = next(ext.glob("native_burn*.so"))
    full = so.read_bytes()
    cp = run(["strip", "--strip-all", str(so)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    capture = tmp_path / "stripped.stetho"
    cp = run([stetho, "run", "--native", "--memory", "off", "-o", str(capture), "--",
              python.path, str(SPIN_PY), str(ext), "1"], timeout=120)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    recorded, _ = export_frames(stetho, capture)
    mine = [f for f in recorded if f.get("module") == str(so)]
    assert mine and not any(f["file"].endswith(".cpp") for f in mine), mine
    # the static PyCFunction had no symbol left: module+offset
    unnamed = [f for f in mine if f["function"].startswith(so.name + "+0x")]
    assert unnamed, mine

    # another build at the path: its build-id differs, nothing is renamed
    other = build_extension(python, tmp_path, "nofp")
    so.write_bytes(next(other.glob("native_burn*.so")).read_bytes())
    again, err = export_frames(stetho, capture, "--symbolize")
    assert again == recorded
    assert re.search(r"--symbolize: \d+ of \d+ modules found by build-id", err), err

    # the file that ran, with its symbols and debug information
    so.write_bytes(full)
    named, err = export_frames(stetho, capture, "--symbolize")
    assert named != recorded
    mine = [f for f in named if f.get("module") == str(so)]
    assert not any(f["function"].startswith(so.name + "+0x") for f in mine), \
        [f for f in mine if f["function"].startswith(so.name + "+0x")]
    assert "spin" in {f["function"] for f in mine}, mine
    spin = [f for f in mine if f["function"] == SPIN]
    assert any(Path(f["file"]).resolve() == SPIN_CPP.resolve() and
               f["line"] == marked_line(SPIN_CPP, "SPIN") for f in spin), spin
    # every report takes it: the tree shows the C++ source
    cp = run([stetho, "tree", "--symbolize", str(capture)], timeout=60)
    assert cp.returncode == 0 and "native_spin.cpp" in cp.stdout.decode(), cp.stdout.decode()


ZLIB_PY = """\
import os, sys, time, zlib
data = os.urandom(1 << 16) + bytes(1 << 18)      # half random, half zeros
def compress_loop(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        zlib.compress(data, 9)                    # ZLIB_LINE
compress_loop(float(sys.argv[1]))
"""


def test_zlib_compress_under_its_line(python, stetho, tmp_path):
    """zlib's C functions (the module's compress, zlib's deflate) are
    sampled under the Python function that calls zlib.compress, and most
    samples of that function are inside them."""
    prog = tmp_path / "zlib_loop.py"
    prog.write_text(ZLIB_PY)
    capture = tmp_path / "zlib.stetho"
    cp = run([stetho, "run", "--native", "--memory", "off", "-o", str(capture), "--",
              python.path, str(prog), "1.5"], timeout=120)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    stacks = collapsed(stetho, capture)
    inner, zlib_c = 0, 0
    for stack, count in stacks.items():
        names = names_of(stack)
        if "compress_loop" not in names:
            continue
        below = names[names.index("compress_loop") + 1:]
        inner += count
        if any(re.search(r"deflate|compress|longest_match|fill_window", n) for n in below):
            zlib_c += count
    assert inner >= 50, stacks          # 1.5 s at 100 Hz: about 150
    # time.monotonic and the loop itself are the rest: a few per cent
    assert zlib_c >= 0.7 * inner, (zlib_c, inner, stacks)
