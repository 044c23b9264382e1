"""Shared fixtures for stetho's end-to-end tests.

* Interpreter discovery: ~/.pyenv/versions/3.9.* .. 3.13.* plus Debian's
  /usr/bin/python3.  STETHO_PYTHONS (colon-separated paths) overrides it.
  Interpreters that are expected but missing become loud skips, and the
  found/missing list is printed in the session header.
* The `stetho` binary: $STETHO, else build/stetho, else `stetho` on PATH.
* Helpers to start a program, wait for its READY line with a timeout, and
  always kill it (and its process group) afterwards.

Every subprocess call has a timeout.  pytest-timeout is used when it is
installed; otherwise a SIGALRM safety net fails any single test that runs
longer than SAFETY_NET_SECONDS.
"""

import dataclasses
import glob
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Programs started by the tests inherit this process's ignored signals (an
# ignored signal stays ignored across exec): a suite started under `nohup`
# (SIGHUP) or as a background job of a script (SIGINT, SIGQUIT) would have
# every program ignore them, and the tests that check death by a signal
# would wait for nothing.  What Python does by default is put back.
for _sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
    if signal.getsignal(_sig) == signal.SIG_IGN:
        signal.signal(_sig, signal.default_int_handler if _sig == signal.SIGINT
                      else signal.SIG_DFL)

REPO = Path(__file__).resolve().parent.parent
PROGRAMS = REPO / "tests" / "programs"

# Default timeouts (seconds).
CMD_TIMEOUT = 30          # any single stetho/python invocation
READY_TIMEOUT = 20        # a program reaching its READY line
SAFETY_NET_SECONDS = 120  # whole test (setup+call+teardown), fallback only

PYENV_MINORS = ("3.9", "3.10", "3.11", "3.12", "3.13")
DEBIAN_PYTHON = "/usr/bin/python3"


# --------------------------------------------------------------------------
# Interpreter discovery
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Interp:
    id: str              # "3.11.7", "debian-3.11.2"
    path: str            # absolute path to the executable
    version: tuple       # (3, 11, 7)
    missing: str = ""    # non-empty: reason why it is not available

    @property
    def version_str(self):
        return ".".join(map(str, self.version))

    @property
    def qualnames(self):
        """True when frames report co_qualname (3.11+)."""
        return self.version >= (3, 11)


def _probe_version(path):
    try:
        out = subprocess.run(
            [path, "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, timeout=15, check=True,
        ).stdout.strip()
        return tuple(int(x) for x in out.split(".")[:3])
    except Exception:  # noqa: BLE001 - anything wrong means "not usable"
        return None


def _interp_for(path, is_debian=False):
    version = _probe_version(path)
    if version is None:
        return Interp(id="broken-" + os.path.basename(path), path=path,
                      version=(0, 0, 0),
                      missing=f"interpreter {path} does not run")
    vs = ".".join(map(str, version))
    return Interp(id=("debian-" + vs) if is_debian else vs, path=path,
                  version=version)


def discover_interpreters():
    override = os.environ.get("STETHO_PYTHONS")
    found = []
    if override:
        for p in [p for p in override.split(":") if p]:
            if os.path.isfile(p) and os.access(p, os.X_OK):
                found.append(_interp_for(p, is_debian=p.startswith("/usr/bin/")))
            else:
                found.append(Interp(id="missing-" + p.strip("/").replace("/", "_"),
                                    path=p, version=(0, 0, 0),
                                    missing=f"STETHO_PYTHONS lists {p}, which does not exist"))
        return found

    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for minor in PYENV_MINORS:
        paths = sorted(glob.glob(os.path.join(root, "versions", minor + ".*", "bin", "python3")))
        paths = [p for p in paths
                 if os.path.basename(os.path.dirname(os.path.dirname(p)))
                 .split(".")[:2] == minor.split(".")
                 and os.path.basename(os.path.dirname(os.path.dirname(p)))
                 .replace(".", "").isdigit()]
        if not paths:
            found.append(Interp(id=f"pyenv-{minor}-missing",
                                path=os.path.join(root, "versions", minor + ".*"),
                                version=(0, 0, 0),
                                missing=f"no pyenv interpreter {minor}.* under {root}/versions"))
        for p in paths:
            found.append(_interp_for(p))
    if os.path.isfile(DEBIAN_PYTHON):
        found.append(_interp_for(DEBIAN_PYTHON, is_debian=True))
    else:
        found.append(Interp(id="debian-missing", path=DEBIAN_PYTHON, version=(0, 0, 0),
                            missing=f"Debian interpreter {DEBIAN_PYTHON} not found"))
    return found


INTERPRETERS = discover_interpreters()
AVAILABLE = [i for i in INTERPRETERS if not i.missing]


def interp_params():
    """pytest.param list over all interpreters; missing ones are loud skips."""
    params = []
    for i in INTERPRETERS:
        marks = [pytest.mark.skip(reason="MISSING INTERPRETER: " + i.missing)] if i.missing else []
        params.append(pytest.param(i, id=i.id, marks=marks))
    return params


# --------------------------------------------------------------------------
# The stetho binary
# --------------------------------------------------------------------------

def find_stetho():
    env = os.environ.get("STETHO")
    if env:
        for cand in (env, str(REPO / env)):
            if os.path.isfile(cand):
                return os.path.abspath(cand)
        return None
    built = REPO / "build" / "stetho"
    if built.is_file():
        return str(built)
    return shutil.which("stetho")


def pytest_report_header(config):
    lines = ["stetho binary: " + (find_stetho() or
                                  "NOT FOUND ($STETHO, build/stetho, PATH) - stetho tests will skip")]
    src = "STETHO_PYTHONS" if os.environ.get("STETHO_PYTHONS") else "discovery"
    lines.append(f"interpreters ({src}):")
    for i in INTERPRETERS:
        if i.missing:
            lines.append(f"  MISSING  {i.id:<22} {i.missing}")
        else:
            lines.append(f"  found    {i.id:<22} {i.path}")
    return lines


@pytest.fixture(scope="session")
def stetho():
    path = find_stetho()
    if not path:
        pytest.skip("stetho binary not found: set $STETHO or build build/stetho")
    return os.path.abspath(path) if os.sep in path else path


@pytest.fixture(scope="session", params=interp_params())
def python(request):
    return request.param


def newest_interp():
    """The newest interpreter found, or None."""
    return max(AVAILABLE, key=lambda i: i.version) if AVAILABLE else None


@pytest.fixture(scope="session")
def one_python():
    """The newest interpreter found, for a test of what does not depend on
    the Python it runs (a terminal UI's keys, an argument's error): run
    once rather than once per interpreter, which CI's time cannot afford
    for every test.  What reads the interpreter is tested with `python`."""
    interp = newest_interp()
    if interp is None:
        pytest.skip("MISSING INTERPRETER: none found")
    return interp


# --------------------------------------------------------------------------
# Running things
# --------------------------------------------------------------------------

def run(cmd, timeout=CMD_TIMEOUT, **kw):
    """subprocess.run with capture and a timeout; bytes out."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    try:
        return subprocess.run(cmd, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"command timed out after {timeout}s: {cmd!r}\n"
                    f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}")


def read_line_with_prefix(proc, prefix, timeout, seen=None):
    """Read proc.stdout (raw fd) until a line starting with `prefix` arrives.

    Returns (line, earlier_lines, leftover_bytes).  Fails (with the program's
    stderr if available) on timeout or if the program exits first.
    """
    fd = proc.stdout.fileno()
    buf = b""
    lines = []
    deadline = time.monotonic() + timeout
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.startswith(prefix):
                return line, lines, buf
            lines.append(line)
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"no {prefix!r} line within {timeout}s; got {lines!r} {buf!r}")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            err = ""
            try:
                proc.wait(timeout=5)
                if proc.stderr is not None:
                    err = proc.stderr.read().decode(errors="replace")
            except Exception:  # noqa: BLE001
                pass
            pytest.fail(f"program exited (status {proc.returncode}) before {prefix!r}; "
                        f"stdout lines {lines!r} {buf!r}\nstderr:\n{err}")
        buf += chunk


def kill_tree(proc):
    """Kill a Popen started with start_new_session=True, its group too."""
    if proc is None:
        return
    for closer in (proc.stdin,):
        try:
            if closer:
                closer.close()
        except Exception:  # noqa: BLE001
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    for f in (proc.stdout, proc.stderr):
        try:
            if f:
                f.close()
        except Exception:  # noqa: BLE001
            pass


class Spawner:
    """Starts programs in their own session; kills them all at teardown."""

    def __init__(self):
        self.procs = []

    def popen(self, cmd, **kw):
        kw.setdefault("stdin", subprocess.PIPE)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("start_new_session", True)
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            kill_tree(p)
        self.procs = []


@pytest.fixture
def spawn():
    s = Spawner()
    try:
        yield s
    finally:
        s.close()


def thread_states(pid):
    """{tid: state letter} from /proc/PID/task/*/stat."""
    states = {}
    for d in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(os.path.join(d, "stat")) as f:
                data = f.read()
        except OSError:
            continue
        states[int(os.path.basename(d))] = data[data.rindex(")") + 2]
    return states


def wait_all_sleeping(pid, timeout=10.0):
    """Wait until every thread of pid is in interruptible sleep ('S')."""
    deadline = time.monotonic() + timeout
    states = {}
    while time.monotonic() < deadline:
        states = thread_states(pid)
        if states and all(s == "S" for s in states.values()):
            return states
        time.sleep(0.005)
    pytest.fail(f"threads of {pid} did not all go to sleep: {states}")


def path_env_with_python3(interp, bindir):
    """Env whose PATH resolves `python3` (and `python`) to `interp`."""
    bindir.mkdir(parents=True, exist_ok=True)
    for name in ("python3", "python"):
        link = bindir / name
        if not link.exists():
            link.symlink_to(interp.path)
    env = dict(os.environ)
    env["PATH"] = str(bindir) + os.pathsep + env.get("PATH", "")
    return env


def kernel_has_membarrier():
    """MEMBARRIER_CMD_PRIVATE_EXPEDITED offered (what the agent's owner
    side without locked instructions needs: agent.h, thread_enter)."""
    import ctypes
    cmds = ctypes.CDLL(None).syscall(324, 0, 0, 0)     # SYS_membarrier, MEMBARRIER_CMD_QUERY
    return cmds > 0 and bool(cmds & 8) and bool(cmds & 16)


def ring_maps(pid):
    """The lines of pid's memory map that are stetho's ring (exact mode's
    chunks, docs/memory.md "The ring"): a memfd of stetho's."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return [line.strip() for line in f if "stetho-ring" in line]
    except OSError:
        return []


# --------------------------------------------------------------------------
# Timing notes for the final summary
# --------------------------------------------------------------------------

TIMINGS = []


def note_timing(what, seconds):
    TIMINGS.append((what, seconds))


# Why each rerun test failed its first time (tests/run allows one rerun):
# pytest-rerunfailures lists them by name only, and a flake that CI shows
# once must be understood from its log.
RERUN_REASONS = []
RERUN_REASON_LINES = 40


def pytest_runtest_logreport(report):
    if report.outcome == "rerun":
        text = report.longreprtext or "(no report)"
        tail = text.splitlines()[-RERUN_REASON_LINES:]
        RERUN_REASONS.append((report.nodeid, report.when, tail))


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("stetho timings")
        for what, secs in TIMINGS:
            terminalreporter.write_line(f"{what}: {secs * 1000:.1f} ms")
    if RERUN_REASONS:
        terminalreporter.section("why tests were rerun (the first failure, its last lines)")
        for nodeid, when, tail in RERUN_REASONS:
            terminalreporter.write_line(f"--- {nodeid} ({when})")
            for line in tail:
                terminalreporter.write_line(line)


# --------------------------------------------------------------------------
# Safety net: no test may hang (only if pytest-timeout is absent)
# --------------------------------------------------------------------------

try:
    import pytest_timeout  # noqa: F401
    HAVE_PYTEST_TIMEOUT = True
except ImportError:
    HAVE_PYTEST_TIMEOUT = False


class SafetyNetTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise SafetyNetTimeout(f"test exceeded the {SAFETY_NET_SECONDS}s safety net")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    use = (not HAVE_PYTEST_TIMEOUT and hasattr(signal, "SIGALRM")
           and sys.platform.startswith("linux"))
    if use:
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(SAFETY_NET_SECONDS)
    try:
        yield
    finally:
        if use:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)


def load_json_stdout(cp):
    """stdout must be exactly one JSON object (whitespace around allowed)."""
    text = cp.stdout.decode("utf-8")
    try:
        obj = json.loads(text)
    except ValueError as e:
        pytest.fail(f"stdout is not exactly one JSON document ({e}):\n{text[:2000]}")
    assert isinstance(obj, dict), f"JSON is not an object: {type(obj)}"
    return obj


def record_program(stetho, python, tmp_path, program, memory, name, timeout=120):
    """`stetho run -q --memory MEMORY` around tests/programs/PROGRAM, which
    prints what it did as one JSON object: (the capture, that object)."""
    cap = tmp_path / f"{name}.stetho"
    cp = run([stetho, "run", "-q", "--memory", memory, "-o", str(cap), "--", python.path,
              str(PROGRAMS / program)], cwd=tmp_path, timeout=timeout)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    return cap, load_json_stdout(cp)
