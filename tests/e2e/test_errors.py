"""Bad input: one clear line on stderr, exit status 2, no crash, no hang."""

import os
import subprocess

import pytest

from conftest import path_env_with_python3, run

LIMIT = 10  # seconds: every error must be reported within this


def free_pid():
    """A pid that does not exist (999999 unless that one happens to)."""
    for pid in [999999] + list(range(999990, 999000, -1)):
        if not os.path.exists(f"/proc/{pid}"):
            return pid
    pytest.skip("could not find a free pid")


def check_clean_error(cp, cwd=None):
    e = cp.stderr.decode(errors="replace")
    assert cp.returncode >= 0, f"stetho died of signal {-cp.returncode}; stderr {e!r}"
    assert cp.returncode == 2, f"status {cp.returncode}, want 2; stderr {e!r}"
    assert "Traceback" not in e
    assert "core dumped" not in e.lower()
    lines = e.splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"want exactly one stderr line, got {lines!r}"
    assert e.endswith("\n"), f"error line not newline-terminated: {e!r}"
    if cwd is not None:
        cores = [f for f in os.listdir(cwd) if f.startswith("core")]
        assert not cores, f"core files: {cores}"
    return lines[0]


@pytest.fixture
def sleeper():
    p = subprocess.Popen(["sleep", "100"], stdin=subprocess.DEVNULL)
    try:
        yield p
    finally:
        p.kill()
        p.wait(timeout=10)


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_dump_no_such_pid(stetho, tmp_path, json_flag):
    pid = free_pid()
    cp = run([stetho, "dump", *json_flag, str(pid)], timeout=LIMIT, cwd=tmp_path)
    line = check_clean_error(cp, tmp_path)
    assert cp.stdout == b"", f"stdout on error: {cp.stdout!r}"
    assert str(pid) in line, f"error does not name the pid: {line!r}"


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_dump_non_python_process(stetho, tmp_path, sleeper, json_flag):
    cp = run([stetho, "dump", *json_flag, str(sleeper.pid)], timeout=LIMIT, cwd=tmp_path)
    check_clean_error(cp, tmp_path)
    assert cp.stdout == b"", f"stdout on error: {cp.stdout!r}"
    assert sleeper.poll() is None, "dump killed the target"
    with open(f"/proc/{sleeper.pid}/stat") as f:
        state = f.read().rsplit(")", 1)[1].split()[0]
    assert state not in "tT", f"dump left the target stopped (state {state})"


@pytest.mark.parametrize("argv", [
    ["--bogus"],
    ["dump", "notanumber"],
    ["dump"],
    ["dump", "--json"],
    ["dump", "--bogus", "1"],
    ["frobnicate"],
], ids=["--bogus", "dump-notanumber", "dump-no-pid", "dump-json-no-pid",
        "dump-bogus-flag", "unknown-command"])
def test_usage_errors(stetho, tmp_path, argv):
    cp = run([stetho, *argv], timeout=LIMIT, cwd=tmp_path)
    check_clean_error(cp, tmp_path)


@pytest.mark.parametrize("form", ["explicit", "path"])
def test_run_missing_script(stetho, python, tmp_path, form):
    """Python reports the missing file itself (status 2); stetho must just
    pass that status on, without crashing."""
    missing = "definitely_missing_script.py"
    if form == "path":
        env = path_env_with_python3(python, tmp_path / "pybin")
        direct = run(["python3", missing], env=env, cwd=tmp_path)
        cp = run([stetho, "run", missing], env=env, cwd=tmp_path, timeout=LIMIT)
    else:
        direct = run([python.path, missing], cwd=tmp_path)
        cp = run([stetho, "run", "--", python.path, missing], cwd=tmp_path, timeout=LIMIT)
    e = cp.stderr.decode(errors="replace")
    assert cp.returncode >= 0, f"stetho died of signal {-cp.returncode}"
    assert direct.returncode == 2
    assert cp.returncode == direct.returncode, f"status {cp.returncode}; stderr {e!r}"
    assert "can't open file" in e and missing in e, e
    assert "Traceback" not in e
    assert not [f for f in os.listdir(tmp_path) if f.startswith("core")]


def test_run_missing_interpreter(stetho, tmp_path):
    """An interpreter that does not exist: a clean error, not a crash or hang."""
    cp = run([stetho, "run", "--", str(tmp_path / "no-such-python"), "x.py"],
             timeout=LIMIT, cwd=tmp_path)
    e = cp.stderr.decode(errors="replace")
    assert cp.returncode > 0, f"status {cp.returncode}; stderr {e!r}"
    assert "Traceback" not in e
    assert e.strip(), "no error message"
