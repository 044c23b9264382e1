"""`stetho attach --memory PID`: memory recorded in a process started
without stetho (tests/programs/attach_target.py), then every hook removed.

Each test runs on every interpreter.  The program says at the end how many
GOT entries still point into the agent (stetho_agent_hooked: 0 once stetho
detached or was killed), and its stdout and exit status are checked whole:
stetho must change nothing in what it does.

Accuracy: the allocations made after the attach, per function, against
what the program says it allocated: exact within 2% (allocated, and held
= leaked for the blocks it keeps), sampled (mean 4 KiB, ~2,500 samples for
10 MB of 10 KB blocks: sigma ~2%) within 10% -- the tolerances of
test_memory.py.  The attach latency (command to "recording memory") is
printed in the "stetho timings" summary.
"""
import json
import os
import select
import shutil
import signal
import subprocess
import time

import pytest

from conftest import PROGRAMS, READY_TIMEOUT, note_timing, read_line_with_prefix, ring_maps, run

EXACT_TOL = 0.02
SAMPLED_TOL = 0.10
ATTACH_TIMEOUT = 30
TARGET = PROGRAMS / "attach_target.py"


def agent_path(stetho):
    return os.environ.get("STETHO_AGENT") or os.path.join(
        os.path.dirname(os.path.realpath(stetho)), "libstetho_agent.so")


def start_target(spawn, python, stetho, tmp, mode):
    p = spawn.popen([python.path, str(TARGET), mode, str(tmp), agent_path(stetho)])
    read_line_with_prefix(p, b"READY", READY_TIMEOUT)
    return p


def wait_stderr(proc, text, timeout=ATTACH_TIMEOUT):
    """stetho's stderr until a line containing `text`; all of it so far."""
    fd, buf = proc.stderr.fileno(), b""
    deadline = time.monotonic() + timeout
    while text.encode() not in buf:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} from stetho within {timeout}s: {buf!r}"
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 65536)
            assert chunk, f"stetho exited ({proc.wait()}) before {text!r}: {buf!r}"
            buf += chunk
    return buf.decode(errors="replace")


def start_attach(spawn, stetho, pid, tmp, *opts, name="cap"):
    t0 = time.monotonic()
    st = spawn.popen([stetho, "attach", *opts, "-o", str(tmp / f"{name}.json"), str(pid)],
                     stdin=subprocess.DEVNULL)
    wait_stderr(st, "recording memory in process")
    return st, time.monotonic() - t0


def stop_attach(st):
    st.send_signal(signal.SIGINT)
    out, err = st.communicate(timeout=ATTACH_TIMEOUT)
    assert st.returncode == 0, err.decode(errors="replace")
    return err.decode(errors="replace")


def touch(tmp, name):
    (tmp / name).write_text("")


def finish(proc, expect_status):
    out, err = proc.communicate(timeout=ATTACH_TIMEOUT)
    assert proc.returncode == expect_status, (proc.returncode, out, err)
    assert err == b"", err                  # no traceback, no warning: nothing printed
    return out.decode().splitlines()


def workloads_then_stop(p, st, tmp, go=True):
    """A target attached by st: its workloads run (after "go" if `go`),
    stetho stops, the program ends unhooked; the capture has keep_blocks's
    known bytes."""
    if go:
        touch(tmp, "go")
    done, _, _ = read_line_with_prefix(p, b"DONE", ATTACH_TIMEOUT)
    truth = json.loads(done.split(b" ", 1)[1])
    stop_attach(st)
    touch(tmp, "stop")
    assert finish(p, 7) == ["HOOKED 0"]
    with open(tmp / "cap.json", encoding="utf-8") as f:
        keep = func_mem(json.load(f), "keep_blocks")
    assert within(keep["alloc_bytes"], truth["keep_blocks"], EXACT_TOL), (keep, truth)


def func_mem(export, function):
    idx = {i for i, f in enumerate(export["frames"]) if f["function"] == function}
    acc = {"alloc_bytes": 0, "leaked_bytes": 0}
    for s in export["stacks"]:
        if idx.intersection(s["frames"]):
            for k in acc:
                acc[k] += s[k]
    return acc


def within(got, want, tol):
    return abs(got - want) <= tol * want


@pytest.mark.parametrize("mode,tol", [("exact", EXACT_TOL), ("sampled:4096", SAMPLED_TOL)])
def test_known_allocations_after_attach(stetho, python, spawn, tmp_path, mode, tol):
    p = start_target(spawn, python, stetho, tmp_path, "poll")
    st, latency = start_attach(spawn, stetho, p.pid, tmp_path, f"--memory={mode}")
    note_timing(f"attach --memory={mode} latency, Python {python.id}", latency)
    # exact mode's chunks go through stetho's ring, as under `stetho run`;
    # it is unmapped with the hooks
    rings = ring_maps(p.pid)
    if mode == "exact":
        assert len(rings) == 1 and f"/memfd:stetho-ring-{st.pid} " in rings[0], rings
    else:
        assert not rings, rings
    touch(tmp_path, "go")
    done, _, _ = read_line_with_prefix(p, b"DONE", ATTACH_TIMEOUT)
    truth = json.loads(done.split(b" ", 1)[1])
    stop_attach(st)
    assert not ring_maps(p.pid)
    touch(tmp_path, "stop")
    assert finish(p, 7) == ["HOOKED 0"]
    with open(tmp_path / "cap.json", encoding="utf-8") as f:
        export = json.load(f)
    assert export["totals"]["memory_mode"] == mode.split(":")[0]
    keep, churn = func_mem(export, "keep_blocks"), func_mem(export, "churn_blocks")
    assert within(keep["alloc_bytes"], truth["keep_blocks"], tol), (keep, truth)
    assert within(keep["leaked_bytes"], truth["keep_blocks"], tol), (keep, truth)
    assert within(churn["alloc_bytes"], truth["churn_blocks"], tol), (churn, truth)
    assert churn["leaked_bytes"] <= tol * truth["churn_blocks"], (churn, truth)


def test_target_exits_while_attached(stetho, python, spawn, tmp_path):
    p = start_target(spawn, python, stetho, tmp_path, "exit")
    st, _ = start_attach(spawn, stetho, p.pid, tmp_path, "--memory=exact")
    touch(tmp_path, "go")
    lines = finish(p, 5)
    assert len(lines) == 1 and lines[0].startswith("DONE"), lines
    truth = json.loads(lines[0].split(" ", 1)[1])
    st.communicate(timeout=ATTACH_TIMEOUT)
    assert st.returncode == 0
    with open(tmp_path / "cap.json", encoding="utf-8") as f:
        keep = func_mem(json.load(f), "keep_blocks")
    assert within(keep["alloc_bytes"], truth["keep_blocks"], EXACT_TOL), (keep, truth)


def test_attach_to_work_under_an_import(stetho, python, spawn, tmp_path):
    """All of the program runs from a module body under an import: that is
    not "inside an import" for the start and stop (only importlib's own code
    is), so the attach works as for any program."""
    p = start_target(spawn, python, stetho, tmp_path, "underimport")
    st, _ = start_attach(spawn, stetho, p.pid, tmp_path, "--memory=exact")
    workloads_then_stop(p, st, tmp_path)


def test_stopped_before_the_first_sample(stetho, python, spawn, tmp_path):
    """--duration over before the first sample (the memory start took
    longer): stetho says it was stopped -- not that the program ended, which
    runs on -- and unhooks."""
    p = start_target(spawn, python, stetho, tmp_path, "poll")
    st = spawn.popen([stetho, "attach", "--memory=exact", "--duration", "0.001", "-o",
                      str(tmp_path / "cap.json"), str(p.pid)], stdin=subprocess.DEVNULL)
    _, err = st.communicate(timeout=ATTACH_TIMEOUT)
    err = err.decode(errors="replace")
    assert st.returncode == 0, err
    assert "no samples (stopped before the first sample)" in err, err
    assert p.poll() is None
    touch(tmp_path, "go")
    touch(tmp_path, "stop")
    lines = finish(p, 7)
    assert lines[-1] == "HOOKED 0", lines


def test_stetho_killed_the_agent_unhooks_itself(stetho, python, spawn, tmp_path):
    p = start_target(spawn, python, stetho, tmp_path, "hooked")
    st, _ = start_attach(spawn, stetho, p.pid, tmp_path, "--memory=exact")
    time.sleep(0.3)                         # threads allocating, recorded
    st.kill()
    st.wait(timeout=ATTACH_TIMEOUT)
    touch(tmp_path, "go")
    assert finish(p, 0) == ["HOOKED 0"]


def test_stetho_killed_then_little_allocated(stetho, python, spawn, tmp_path):
    """In exact mode the chunks go into stetho's ring, which a dead stetho
    never empties, and a ring that never fills says nothing: the agent
    looks for stetho itself (every ~100 ms of chunks), so a few allocations
    after stetho is gone (far less than the ring holds) still end the
    recording and take the hooks out."""
    p = start_target(spawn, python, stetho, tmp_path, "poll")
    st, _ = start_attach(spawn, stetho, p.pid, tmp_path, "--memory=exact")
    st.kill()
    st.wait(timeout=ATTACH_TIMEOUT)
    time.sleep(0.3)
    touch(tmp_path, "go")
    read_line_with_prefix(p, b"DONE", ATTACH_TIMEOUT)
    time.sleep(0.3)                         # the unhooking is queued for the main thread
    touch(tmp_path, "stop")
    assert finish(p, 7) == ["HOOKED 0"]


def test_attaching_twice(stetho, python, spawn, tmp_path):
    p = start_target(spawn, python, stetho, tmp_path, "poll")
    st, _ = start_attach(spawn, stetho, p.pid, tmp_path, "--memory=exact")
    cp = run([stetho, "attach", "--memory", "-o", str(tmp_path / "second.stetho"), str(p.pid)],
             timeout=ATTACH_TIMEOUT)
    err = cp.stderr.decode()
    assert cp.returncode == 2, err
    assert err.count("\n") == 1 and "already" in err, err
    workloads_then_stop(p, st, tmp_path)


def test_target_blocked_in_read(stetho, python, spawn, tmp_path):
    """The main thread sits in read(2) on a pipe: the start is queued and
    runs once the read returns; the read itself is restarted, not EINTR."""
    p = start_target(spawn, python, stetho, tmp_path, "rawread")
    st = spawn.popen([stetho, "attach", "--memory=exact", "-o", str(tmp_path / "cap.json"),
                      str(p.pid)], stdin=subprocess.DEVNULL)
    time.sleep(1.0)                         # stetho queued the start and waits
    assert st.poll() is None, st.communicate()
    assert p.poll() is None, (p.returncode, p.communicate())
    p.stdin.write(b"hello\n")
    p.stdin.flush()
    wait_stderr(st, "recording memory in process")
    read, _, _ = read_line_with_prefix(p, b"READ", ATTACH_TIMEOUT)
    assert read == b"READ hello", read
    workloads_then_stop(p, st, tmp_path, go=False)   # they run after the read


def test_attach_while_importing(stetho, python, spawn, tmp_path):
    """The main thread imports ctypes afresh again and again, as a program
    starting up imports its modules; stetho's start and stop run between
    two of its bytecodes and import ctypes too.  Landing inside an import
    (about half the time here) once made the start fail ("partially
    initialized module 'ctypes'"), left the recording running after the
    stop, or broke the program's own import (KeyError in importlib); now
    each waits for the import to be over: every attach starts and stops,
    the program's imports all succeed and nothing is left hooked."""
    p = start_target(spawn, python, stetho, tmp_path, "importing")
    for i in range(4):
        st, _ = start_attach(spawn, stetho, p.pid, tmp_path, "--memory=exact", name=f"cap{i}")
        time.sleep(0.3)
        err = stop_attach(st)
        assert "stopping the recording" not in err and "could not" not in err, err
        with open(tmp_path / f"cap{i}.json", encoding="utf-8") as f:
            assert func_mem(json.load(f), "import_loop")["alloc_bytes"] > 0
    touch(tmp_path, "stop")
    lines = finish(p, 7)
    assert len(lines) == 2 and lines[1] == "HOOKED 0", lines
    imports, failed = map(int, lines[0].split()[1:])
    assert imports > 0 and failed == 0, lines


def test_threads_allocating_hard(stetho, python, spawn, tmp_path):
    p = start_target(spawn, python, stetho, tmp_path, "threads")
    st, _ = start_attach(spawn, stetho, p.pid, tmp_path, "--memory=exact")
    time.sleep(1.0)
    stop_attach(st)
    touch(tmp_path, "stop")
    lines = finish(p, 7)
    assert len(lines) == 2 and lines[1] == "HOOKED 0", lines
    assert lines[0].startswith("COUNTS") and all(int(n) > 0 for n in lines[0].split()[1:])
    with open(tmp_path / "cap.json", encoding="utf-8") as f:
        export = json.load(f)
    w = func_mem(export, "worker")
    assert w["alloc_bytes"] > 1_000_000, w
    tids = {s["tid"] for s in export["stacks"] if s["alloc_count"]}
    assert len(tids) >= 4, tids


def test_ptrace_not_permitted(stetho, python, spawn, tmp_path):
    """stetho as another user than the program's: one line that says how."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv (util-linux) to run stetho as another user")
    p = start_target(spawn, python, stetho, tmp_path, "poll")
    cp = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", stetho,
              "attach", "--memory", "-o", "/tmp/never.stetho", str(p.pid)])
    err = cp.stderr.decode()
    assert cp.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("stetho: ") and "permission" in err, err
    touch(tmp_path, "go")
    read_line_with_prefix(p, b"DONE", ATTACH_TIMEOUT)
    touch(tmp_path, "stop")
    assert finish(p, 7) == ["HOOKED 0"]
