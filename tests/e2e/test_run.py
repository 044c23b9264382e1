"""`stetho run` must behave exactly like running the program directly.

Each test runs the program directly and under `stetho run` with the same
interpreter and compares.  Everything runs with its cwd in a per-test
temporary work directory holding copies of tests/programs (stetho may write
capture files into the cwd; they must not land in the repository).  Two spellings of "which interpreter":
  explicit: stetho run [opts] -- /path/to/python ARGS...
  path:     stetho run [opts] ARGS...   (python3 resolved through PATH, which
            the test points at the interpreter under test)
"""

import json
import os
import random
import shutil
import signal
import subprocess

import time

import pytest

from conftest import (PROGRAMS, READY_TIMEOUT, kill_tree, path_env_with_python3,
                      read_line_with_prefix, run, thread_states)

P = {name: str(PROGRAMS / name) for name in (
    "argv_echo.py", "proc_state.py", "echo_stdin.py", "write_output.py",
    "exit_code.py", "raise_exc.py", "signals.py", "killself.py", "forker.py",
    "spawner.py", "execer.py", "burn.py", "stopper.py", "flood.py", "orphan.py",
    "burn_thread.py")}

TRICKY_ARGS = ["plain", "with space", "", "  ", "--quiet", "--json", "-m", "--",
               "-c", "dump", "ünïcödé", "a\nb", "$HOME", "*"]


class Runner:
    """Runs argv directly and under stetho with one interpreter + spelling."""

    def __init__(self, stetho, python, form, tmp_path):
        self.stetho = stetho
        self.python = python
        self.form = form
        self.workdir = tmp_path / "work"
        if not self.workdir.exists():
            shutil.copytree(PROGRAMS, self.workdir,
                            ignore=shutil.ignore_patterns("__pycache__"))
        if form == "path":
            self.env = path_env_with_python3(python, tmp_path / "pybin")
        else:
            self.env = dict(os.environ)

    def direct_cmd(self, args):
        return (["python3"] if self.form == "path" else [self.python.path]) + list(args)

    def stetho_cmd(self, args, opts=()):
        if self.form == "path":
            return [self.stetho, "run", *opts, *args]
        return [self.stetho, "run", *opts, "--", self.python.path, *args]

    def direct(self, args, **kw):
        kw.setdefault("env", self.env)
        kw.setdefault("cwd", self.workdir)
        return run(self.direct_cmd(args), **kw)

    def under(self, args, opts=(), **kw):
        kw.setdefault("env", self.env)
        kw.setdefault("cwd", self.workdir)
        return run(self.stetho_cmd(args, opts), **kw)

    def popen(self, spawn, args, opts=(), **kw):
        kw.setdefault("env", self.env)
        kw.setdefault("cwd", self.workdir)
        kw.setdefault("stdin", subprocess.DEVNULL)
        return spawn.popen(self.stetho_cmd(args, opts), **kw)


@pytest.fixture
def explicit(stetho, python, tmp_path):
    return Runner(stetho, python, "explicit", tmp_path)


@pytest.fixture(params=["explicit", "path"])
def runner(request, stetho, python, tmp_path):
    return Runner(stetho, python, request.param, tmp_path)


def err(cp):
    return cp.stderr.decode(errors="replace")


# --------------------------------------------------------------------------
# argv / -m / -c / environment
# --------------------------------------------------------------------------

def test_argv_passed_exactly(runner):
    args = ["argv_echo.py", *TRICKY_ARGS]
    d = runner.direct(args)
    s = runner.under(args)
    assert d.returncode == 0, err(d)
    assert s.returncode == 0, err(s)
    assert json.loads(s.stdout) == ["argv_echo.py", *TRICKY_ARGS]
    assert s.stdout == d.stdout


def test_module_form(runner):
    args = ["-m", "argv_echo", "x", "with space", "", "--quiet"]
    d = runner.direct(args)
    s = runner.under(args)
    assert d.returncode == 0, err(d)
    assert s.returncode == 0, err(s)
    argv = json.loads(s.stdout)
    assert argv[0] == str(runner.workdir / "argv_echo.py")
    assert argv[1:] == ["x", "with space", "", "--quiet"]
    assert s.stdout == d.stdout


def test_code_form(runner):
    code = "import sys, json; print(json.dumps(sys.argv)); print('code ran')"
    args = ["-c", code, "a", "", "--json"]
    d = runner.direct(args)
    s = runner.under(args)
    assert s.returncode == 0, err(s)
    assert s.stdout.splitlines() == [b'["-c", "a", "", "--json"]', b"code ran"]
    assert s.stdout == d.stdout


def test_environment_and_cwd_unchanged(explicit, tmp_path):
    env = dict(explicit.env, STETHO_E2E_VAR="some value with spaces", EMPTY_VAR="")
    d = explicit.direct([P["proc_state.py"]], cwd=tmp_path, env=env)
    s = explicit.under([P["proc_state.py"]], cwd=tmp_path, env=env)
    assert s.returncode == 0, err(s)
    ds, ss = json.loads(d.stdout), json.loads(s.stdout)
    added = sorted(set(ss["env"]) - set(ds["env"]))
    removed = sorted(set(ds["env"]) - set(ss["env"]))
    changed = sorted(k for k in set(ds["env"]) & set(ss["env"]) if ds["env"][k] != ss["env"][k])
    assert not (added or removed or changed), \
        f"environment differs: added {added}, removed {removed}, changed {changed}"
    assert ss["cwd"] == ds["cwd"] == str(tmp_path)
    assert ss["argv"] == ds["argv"]


@pytest.mark.parametrize("memory", ["off", "sampled"])
def test_process_attributes_unchanged(explicit, memory):
    """Open fds, signal mask, inherited signal dispositions, process group,
    umask: the same as when run directly (no leaked fds, no blocked or
    ignored signals, no new process group).  With memory profiling the
    agent holds one descriptor of its own, the FIFO to stetho (documented
    in docs/memory.md): that one, and only that one, is allowed."""
    d = explicit.direct([P["proc_state.py"]])
    s = explicit.under([P["proc_state.py"]], opts=("--memory", memory))
    assert s.returncode == 0, err(s)
    ds, ss = json.loads(d.stdout), json.loads(s.stdout)
    if memory != "off":
        extra = sorted(set(ss["fds"]) - set(ds["fds"]))
        assert len(extra) <= 1, f"fds beyond the agent's one: {extra}"
        for fd in extra:
            assert ss["fd_targets"][str(fd)].endswith("/agent.fifo"), ss["fd_targets"]
        ss["fds"] = [fd for fd in ss["fds"] if fd not in extra]
    for key in ("fds", "sigmask", "handlers", "pgid_is_sid_leader",
                "pgid_equals_parent_pgid", "umask", "stdin_isatty"):
        if key == "handlers":
            diff = {k: (ds[key].get(k), ss[key].get(k))
                    for k in set(ds[key]) | set(ss[key]) if ds[key].get(k) != ss[key].get(k)}
            assert not diff, f"signal dispositions differ (direct, stetho): {diff}"
        else:
            assert ss[key] == ds[key], f"{key}: direct {ds[key]!r}, under stetho {ss[key]!r}"


# --------------------------------------------------------------------------
# stdin / stdout / stderr
# --------------------------------------------------------------------------

def test_stdin_passthrough(explicit):
    data = random.Random(1234).randbytes(1 << 20) + b"\nlast line\n"
    s = explicit.under([P["echo_stdin.py"]], input=data)
    assert s.returncode == 0, err(s)
    assert len(s.stdout) == len(data)
    assert s.stdout == data


def test_stdin_passthrough_path_form(runner):
    data = b"hello\x00world\n\xff\xfe binary ok\n"
    s = runner.under(["echo_stdin.py"], input=data)
    assert s.returncode == 0, err(s)
    assert s.stdout == data


def test_stdout_byte_identical_and_stderr_kept(explicit):
    d = explicit.direct([P["write_output.py"]])
    s = explicit.under([P["write_output.py"]])
    assert d.returncode == s.returncode == 0, err(s)
    assert len(s.stdout) == len(d.stdout) > 200000
    assert s.stdout == d.stdout
    # stetho's summary may follow on stderr, but the program's stderr is intact.
    assert d.stderr in s.stderr, f"program stderr mangled: {s.stderr[:500]!r}"


def test_quiet_prints_nothing_of_its_own(explicit):
    d = explicit.direct([P["write_output.py"]])
    s = explicit.under([P["write_output.py"]], opts=["--quiet"])
    assert s.returncode == 0, err(s)
    assert s.stdout == d.stdout
    assert s.stderr == d.stderr, "--quiet: stderr must be exactly the program's"


# --------------------------------------------------------------------------
# Exit status
# --------------------------------------------------------------------------

@pytest.mark.parametrize("code", [0, 3, 255])
def test_exit_status(runner, code):
    s = runner.under(["exit_code.py", str(code)])
    assert s.returncode == code, err(s)
    assert s.stdout == f"exiting with {code}\n".encode()


def test_uncaught_exception(explicit):
    d = explicit.direct([P["raise_exc.py"]])
    s = explicit.under([P["raise_exc.py"]])
    assert d.returncode == 1
    assert s.returncode == 1, err(s)
    assert s.stdout == b"before the exception\n"
    e = err(s)
    assert "Traceback (most recent call last)" in e
    assert "ValueError: boom from raise_exc" in e
    assert d.stderr in s.stderr
    q = explicit.under([P["raise_exc.py"]], opts=["--quiet"])
    assert q.returncode == 1
    assert q.stderr == d.stderr


def test_killed_by_sigkill_gives_137(explicit):
    s = explicit.under([P["killself.py"]])
    assert s.returncode == 137, f"status {s.returncode}; stderr: {err(s)}"
    assert s.stdout == b"about to die\n"


# --------------------------------------------------------------------------
# Signals sent to stetho reach the program
# --------------------------------------------------------------------------

def start_signals(spawn, explicit, mode, opts=()):
    proc = explicit.popen(spawn, [P["signals.py"], mode], opts)
    line, _, rest = read_line_with_prefix(proc, b"READY", READY_TIMEOUT)
    return proc, rest


def finish(proc, timeout=15):
    try:
        out, e = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"stetho run did not exit {timeout}s after the signal")
    return out, e


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_signal_forwarded_to_handler(spawn, explicit, sig):
    proc, rest = start_signals(spawn, explicit, "handler")
    os.kill(proc.pid, sig)
    out, e = finish(proc)
    out = rest + out
    assert f"GOT {int(sig)}".encode() in out, \
        f"program did not see signal {sig.name}; stdout {out!r} stderr {e!r}"
    assert proc.returncode == 0, f"status {proc.returncode}; stderr {e!r}"


@pytest.mark.parametrize("sig,status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129),
                                        (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_signal_default_disposition_kills_program(spawn, explicit, sig, status):
    """No handler: the program dies of the signal (SIGINT: KeyboardInterrupt,
    which Python turns into death by SIGINT) and stetho exits 128+N."""
    proc, rest = start_signals(spawn, explicit, "default")
    os.kill(proc.pid, sig)
    out, e = finish(proc)
    assert b"no signal arrived" not in rest + out, f"{sig.name} never reached the program"
    assert proc.returncode == status, \
        f"status {proc.returncode}, want {status}; stderr {e.decode(errors='replace')}"
    if sig == signal.SIGINT:
        assert b"KeyboardInterrupt" in e


# --------------------------------------------------------------------------
# fork / subprocess / exec
# --------------------------------------------------------------------------

def test_fork(explicit):
    d = explicit.direct([P["forker.py"]])
    s = explicit.under([P["forker.py"]])
    assert d.returncode == 5
    assert s.returncode == 5, err(s)
    assert s.stdout == b"child says hi\nparent saw child exit 7\n"
    assert s.stdout == d.stdout


def test_subprocess(explicit):
    s = explicit.under([P["spawner.py"]])
    assert s.returncode == 4, err(s)
    assert s.stdout == b"parent got 3 sub ['x y']\n"


@pytest.mark.parametrize("target,status,out", [
    ("python", 6, b"before exec\nafter exec\n"),
    ("sh", 9, b"before exec\nfrom sh\n"),
])
def test_exec(explicit, target, status, out):
    s = explicit.under([P["execer.py"], target])
    assert s.returncode == status, err(s)
    assert s.stdout == out


# --------------------------------------------------------------------------
# The sampling summary
# --------------------------------------------------------------------------

def test_summary_names_hot_function(explicit):
    s = explicit.under([P["burn.py"], "1.0"])
    assert s.returncode == 0, err(s)
    assert s.stdout == b"done\n", "summary must not go to stdout"
    assert "burn_cpu" in err(s), f"summary does not mention burn_cpu:\n{err(s)}"


def test_quiet_has_no_summary(explicit):
    s = explicit.under([P["burn.py"], "0.3"], opts=["--quiet"])
    assert s.returncode == 0, err(s)
    assert s.stdout == b"done\n"
    assert s.stderr == b"", f"--quiet printed: {err(s)}"


def test_summary_names_hot_function_in_thread(explicit):
    s = explicit.under([P["burn_thread.py"], "0.6"])
    assert s.returncode == 0, err(s)
    assert s.stdout == b"done\n"
    assert "burn_in_thread" in err(s), f"summary does not mention burn_in_thread:\n{err(s)}"


# --------------------------------------------------------------------------
# Job control, pipes, lingering descendants
# --------------------------------------------------------------------------

def wait_state(pid, letters, timeout=10):
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = thread_states(pid).get(pid)
        if st in letters:
            return st
        time.sleep(0.005)
    pytest.fail(f"pid {pid} never reached state {letters!r} (last {st!r})")


def test_stopped_program_is_waited_for_and_resumes(spawn, explicit):
    """The program SIGSTOPs itself; stetho must keep waiting (like a plain
    parent would), and after SIGCONT the program finishes normally."""
    proc = explicit.popen(spawn, [P["stopper.py"]])
    line, _, rest = read_line_with_prefix(proc, b"STOPPING", READY_TIMEOUT)
    child = int(line.split()[1])
    wait_state(child, "tT")
    time.sleep(0.2)  # give a broken stetho the chance to react to the stop
    assert proc.poll() is None, f"stetho exited ({proc.returncode}) while the program was only stopped"
    os.kill(child, signal.SIGCONT)
    out, e = finish(proc)
    assert b"resumed" in rest + out, f"program never resumed; stderr {e!r}"
    assert proc.returncode == 0, f"status {proc.returncode}; stderr {e!r}"


def _closed_reader_status(cmd, env, cwd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        got = p.stdout.read(1000)
        p.stdout.close()
        _, e = p.communicate(timeout=20)
        return p.returncode, got, e
    except subprocess.TimeoutExpired:
        pytest.fail(f"{cmd!r} did not exit after its stdout reader went away")
    finally:
        kill_tree(p)


def test_stdout_reader_goes_away(explicit):
    """`prog | head`: the program gets EPIPE exactly as when run directly."""
    d_rc, d_out, d_err = _closed_reader_status(explicit.direct_cmd([P["flood.py"]]), explicit.env,
                                                explicit.workdir)
    s_rc, s_out, s_err = _closed_reader_status(explicit.stetho_cmd([P["flood.py"]]), explicit.env,
                                                explicit.workdir)
    assert s_out == d_out
    assert d_rc != 3, "direct run did not see EPIPE; test setup broken"
    assert s_rc == d_rc, f"status {s_rc}, direct {d_rc}; stderr {s_err[-500:]!r}"
    assert b"BrokenPipeError" in s_err


def test_exits_when_program_exits_despite_lingering_descendant(spawn, explicit):
    """A grandchild keeps stdout/stderr open; stetho must still exit as soon
    as the program does (it must not wait for EOF on the program's output)."""
    proc = explicit.popen(spawn, [P["orphan.py"]])
    line, _, _ = read_line_with_prefix(proc, b"spawned", READY_TIMEOUT)
    sleeper = int(line.split()[1])
    try:
        t0 = time.monotonic()
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("stetho still running 10 s after the program exited "
                        "(waiting for a descendant / EOF?)")
        assert rc == 0
        assert time.monotonic() - t0 < 5
        assert os.path.exists(f"/proc/{sleeper}"), "stetho killed the program's descendant"
    finally:
        try:
            os.kill(sleeper, signal.SIGKILL)
        except ProcessLookupError:
            pass
