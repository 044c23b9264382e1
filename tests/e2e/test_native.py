"""`stetho dump --native PID`: C frames merged with the Python frames.

A C extension (tests/programs/native_burn.c) is compiled here for each
interpreter, with frame pointers, without them, and without frame pointers
or unwind tables (where no unwinder can go past it); native_burn.py calls
py_caller -> burn -> burn_a -> burn_b.  numpy's matrix product must show
its BLAS frame under the line of the product.
"""

import glob
import json
import re
import subprocess
import time

import pytest

from conftest import PROGRAMS, READY_TIMEOUT, load_json_stdout, read_line_with_prefix, run

BURN_C = PROGRAMS / "native_burn.c"
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


def build_extension(python, tmp_path, flavour):
    cp = subprocess.run(
        [python.path, "-c", "import sysconfig; print(sysconfig.get_paths()['include']);"
         "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
        capture_output=True, text=True, timeout=30, check=True)
    include, suffix = cp.stdout.split()
    out = tmp_path / flavour
    out.mkdir()
    cc = subprocess.run(["cc", "-O2", "-shared", "-fPIC", *FLAGS[flavour], "-I", include,
                         "-o", str(out / ("native_burn" + suffix)), str(BURN_C)],
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
            py = [f for f in s if re.search(r":\d+\)$", f)]
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
