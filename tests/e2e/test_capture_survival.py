"""The capture survives: a killed program, a killed stetho, a cut-short file.

* SIGKILL of the program mid-run: stetho reports 137 (128+9), records that
  exit status and writes a complete, readable capture with samples.
* SIGKILL of stetho mid-run: the capture left behind (blocks are flushed
  every ~200 ms) loads with `tree` / `export`, perhaps with a "truncated"
  warning, and holds samples; the program goes on to finish by itself.
* Truncated copies of a real capture: every report command gives a report
  (exit 0) or one clean `stetho: ...` line (exit 2), never a crash, a
  traceback or a sanitizer report.
"""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import (PROGRAMS, READY_TIMEOUT, newest_interp, read_line_with_prefix,
                      ring_maps, run)

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:", "Sanitizer")


def err(cp):
    return cp.stderr.decode(errors="replace")


def assert_no_crash_text(text):
    assert "Traceback" not in text, text
    for mark in SANITIZER_MARKS:
        assert mark not in text, text


def export_json(stetho, capture, cwd):
    cp = run([stetho, "export", str(capture), "--format", "json"], cwd=cwd)
    assert cp.returncode == 0, err(cp)
    assert_no_crash_text(err(cp))
    return json.loads(cp.stdout), err(cp)


def func_samples(export, function):
    frames = export["frames"]
    return sum(s["samples"] for s in export["stacks"]
               if any(frames[i]["function"] == function for i in s["frames"]))


def proc_state(pid):
    """The state letter of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2]


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def start_survivor(spawn, stetho, python, tmp_path, seconds, options=()):
    cap = tmp_path / "surv.stetho"
    marker = tmp_path / "finished.txt"
    proc = spawn.popen([stetho, "run", "-q", *options, "-o", str(cap), "--", python.path,
                        str(PROGRAMS / "prof_survive.py"), str(seconds), str(marker)],
                       cwd=tmp_path, stdin=subprocess.DEVNULL)
    line, _, _ = read_line_with_prefix(proc, b"READY", READY_TIMEOUT)
    target = int(line.split()[1])
    assert target != proc.pid
    return proc, target, cap, marker


def test_target_sigkilled(stetho, python, tmp_path, spawn):
    proc, target, cap, marker = start_survivor(spawn, stetho, python, tmp_path, 20)
    try:
        time.sleep(0.6)
        os.kill(target, signal.SIGKILL)
        try:
            _, errb = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("stetho did not finish after its program was killed")
    finally:
        kill_pid(target)
    assert proc.returncode == 137, f"status {proc.returncode}: {errb!r}"
    assert_no_crash_text(errb.decode(errors="replace"))
    assert not marker.exists()
    cp = run([stetho, "tree", str(cap)], cwd=tmp_path)
    assert cp.returncode == 0, err(cp)
    assert "truncated" not in err(cp), f"stetho had time to finish its capture: {err(cp)}"
    assert "survive_burn" in cp.stdout.decode()
    export, _ = export_json(stetho, cap, tmp_path)
    assert export["program"]["pid"] == target
    assert export["program"]["exit_code"] == 137
    assert export["totals"]["samples"] >= 20
    assert func_samples(export, "survive_burn") >= 20


# exact: the agent sends its chunks through the ring (agent/protocol.h),
# which nobody empties once stetho is gone: the program must notice (the
# FIFO has no reader) and go on unrecorded rather than wait for a free slot.
# The ring is a memfd of stetho's: killed, stetho leaves no file behind (a
# ring in /dev/shm stayed there, 1 MiB of memory, until the next boot)
@pytest.mark.parametrize("options", [(), ("--memory", "exact")], ids=["default", "exact"])
def test_stetho_sigkilled(stetho, python, tmp_path, spawn, options):
    seconds = 2.5
    proc, target, cap, marker = start_survivor(spawn, stetho, python, tmp_path, seconds, options)
    try:
        time.sleep(0.7)
        rings = ring_maps(target)
        if options:
            assert rings and all(f"/memfd:stetho-ring-{proc.pid} " in r for r in rings), rings
        else:
            assert not rings, rings
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        killed_at = time.monotonic()

        # the capture as stetho left it
        cp = run([stetho, "tree", str(cap)], cwd=tmp_path)
        assert cp.returncode == 0, err(cp)
        assert_no_crash_text(err(cp))
        for line in err(cp).splitlines():
            assert line.startswith("stetho: warning:"), err(cp)
        assert "survive_burn" in cp.stdout.decode(), cp.stdout.decode()
        export, warn = export_json(stetho, cap, tmp_path)
        assert export["program"]["pid"] == target
        assert export["program"]["exit_code"] is None, "the program had not exited"
        assert export["totals"]["samples"] >= 10, export["totals"]
        assert func_samples(export, "survive_burn") >= 10

        # the program was not killed with stetho and goes on to finish alone
        state = proc_state(target)
        assert state not in (None, "Z", "X", "T", "t"), f"program state {state!r}"
        deadline = killed_at + seconds + 20
        while not marker.exists() and time.monotonic() < deadline:
            state = proc_state(target)
            assert state not in (None, "Z", "X", "T", "t") or marker.exists(), \
                f"the program stopped early (state {state!r})"
            time.sleep(0.05)
        assert marker.exists(), "the program did not finish after stetho was killed"
        assert marker.read_text() == f"finished {target}\n"
    finally:
        kill_pid(target)


# --------------------------------------------------------------------------
# cut-short copies of a real capture
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_capture(stetho, tmp_path_factory):
    interp = newest_interp()
    if interp is None:
        pytest.skip("MISSING INTERPRETER: none found")
    tmp = tmp_path_factory.mktemp("realcap")
    cap = tmp / "real.stetho"
    cp = run([stetho, "run", "-q", "-o", str(cap), "--", interp.path,
              str(PROGRAMS / "prof_report.py"), "0.6"], cwd=tmp, timeout=60)
    assert cp.returncode == 0, err(cp)
    data = cap.read_bytes()
    assert len(data) > 200
    return data


REPORTS = (["tree"], ["tree", "--show-all", "--threads", "merged"], ["table", "--lines"],
           ["export", "--format", "json"])


def check_report(stetho, path, cwd):
    """Runs every report on path; returns the export (or None if exit 2)."""
    export = None
    for cmd in REPORTS:
        cp = run([stetho, cmd[0], str(path), *cmd[1:]], cwd=cwd, timeout=20)
        text = err(cp)
        where = f"{cmd} on {path.name} ({path.stat().st_size} bytes): status {cp.returncode}"
        assert cp.returncode in (0, 2), f"{where}\n{text}"
        assert_no_crash_text(text)
        if cp.returncode == 2:
            assert cp.stdout == b"", where
            lines = text.splitlines()
            assert len(lines) == 1 and lines[0].startswith("stetho: "), f"{where}\n{text}"
        else:
            for line in text.splitlines():
                assert line.startswith("stetho: warning:"), f"{where}\n{text}"
            if cmd[0] == "export":
                export = json.loads(cp.stdout)
                assert export["schema"] == "stetho-profile/1"
    return export


def test_truncated_copies(stetho, real_capture, tmp_path):
    n = len(real_capture)
    offsets = sorted({0, 1, 2, 4, 7, 8, 12, 15, 16, 17, 20, 24, 31, 32, 33, 48, 64, 100,
                      n // 8, n // 4, n // 3, n // 2, 2 * n // 3, 3 * n // 4, n - 64, n - 17,
                      n - 9, n - 4, n - 1} - {n})
    samples_by_cut = {}
    for off in offsets:
        path = tmp_path / f"cut-{off}.stetho"
        path.write_bytes(real_capture[:off])
        export = check_report(stetho, path, tmp_path)
        if export is not None:
            samples_by_cut[off] = export["totals"]["samples"]
            total = sum(s["samples"] for s in export["stacks"])
            assert export["totals"]["samples"] == total
        path.unlink()
    full = tmp_path / "full.stetho"
    full.write_bytes(real_capture)
    whole = check_report(stetho, full, tmp_path)["totals"]["samples"]
    # a longer prefix never holds fewer samples, and a large one holds some
    cuts = sorted(samples_by_cut)
    for a, b in zip(cuts, cuts[1:]):
        assert samples_by_cut[a] <= samples_by_cut[b], samples_by_cut
    assert all(v <= whole for v in samples_by_cut.values())
    assert samples_by_cut.get(n - 1, 0) > 0.5 * whole, samples_by_cut
    assert samples_by_cut.get(0) is None, "an empty file is not a capture"


def test_corrupted_copies(stetho, real_capture, tmp_path):
    """Flipped bytes: a report or a clean error, never a crash."""
    n = len(real_capture)
    for k, off in enumerate(sorted({0, 3, 8, 12, 16, 18, 24, n // 5, n // 3, n // 2,
                                    3 * n // 4, n - 10, n - 2})):
        for mask in (0x01, 0xFF):
            data = bytearray(real_capture)
            data[off] ^= mask
            path = tmp_path / f"flip-{off}-{mask}.stetho"
            path.write_bytes(bytes(data))
            check_report(stetho, path, tmp_path)
            path.unlink()
