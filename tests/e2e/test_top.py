"""`stetho top PID`: the live view, driven in a real terminal (tmux).

Each test starts tests/programs/top_target.py (a thread burning CPU in
burn_cpu, the main thread sleeping in wait_forever), runs `stetho top` on it
in an 80x24 tmux pane running a plain shell, sends keys and reads the
screen back with capture-pane.  tmux runs on a socket of its own per test.
What top reads from the program (its functions and lines, memory, native
frames, `run --live`) is tested in every interpreter; the view's keys,
layout and errors in the newest one only (`target`, conftest's one_python).
"""

import json
import os
import re
import shutil
import subprocess
import threading
import time
import uuid

import pytest

from conftest import PROGRAMS, READY_TIMEOUT, read_line_with_prefix, run
from test_attach_memory import (ATTACH_TIMEOUT, EXACT_TOL, SAMPLED_TOL, finish, start_target,
                                touch, within)

TARGET = PROGRAMS / "top_target.py"
SCREEN_TIMEOUT = 20
PROMPT = "PROMPT$ "    # capture-pane drops the trailing space

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="tmux is not installed (apt-get install tmux)")


def burn_line():
    for n, text in enumerate(TARGET.read_text().splitlines(), 1):
        if "BURN_LINE" in text:
            return n
    raise AssertionError("no BURN_LINE in top_target.py")


class Pane:
    """A shell in a detached tmux session of its own, 80x24 by default."""

    def __init__(self, env=None, width=80, height=24):
        self.sock = f"stetho-top-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        full_env = dict(os.environ, PS1=PROMPT, TERM="xterm-256color")
        full_env.pop("NO_COLOR", None)
        full_env.update(env or {})
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                  "env", f"PS1={PROMPT}", "bash", "--norc", "--noprofile", env=full_env)
        self.wait(lambda s: PROMPT.rstrip() in s, "the shell's prompt")

    def tmux(self, *args, env=None):
        return subprocess.run(["tmux", "-L", self.sock, *args], check=True, timeout=10,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env).stdout

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, line):
        self.tmux("send-keys", "-t", "t", "-l", line)
        self.tmux("send-keys", "-t", "t", "Enter")

    def screen(self, escapes=False, history=False):
        """The visible screen; history=True: with the lines scrolled off it."""
        args = (["capture-pane", "-p", "-t", "t"] + (["-e"] if escapes else [])
                + (["-S", "-"] if history else []))
        return self.tmux(*args).decode(errors="replace")

    def wait(self, pred, what, timeout=SCREEN_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            if pred(s):
                return s
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} on the screen within {timeout}s:\n{s}")
            time.sleep(0.2)

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], timeout=10,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def pane():
    panes = []

    def make(**kw):
        p = Pane(**kw)
        panes.append(p)
        return p
    yield make
    for p in panes:
        p.close()


def target_starter(python, spawn):
    def start(seconds=None):
        args = [python.path, str(TARGET)] + ([str(seconds)] if seconds else [])
        proc = spawn.popen(args)
        read_line_with_prefix(proc, b"READY", READY_TIMEOUT)
        return proc
    return start


@pytest.fixture
def py_target(python, spawn):
    """top_target.py in each interpreter: for what top reads from it."""
    return target_starter(python, spawn)


@pytest.fixture
def target(one_python, spawn):
    """top_target.py in one interpreter: for the view's keys, layout and
    errors, which do not depend on the Python it shows."""
    return target_starter(one_python, spawn)


def table_rows(screen):
    """The table's rows: the lines after the column titles, up to the footer."""
    lines = screen.splitlines()
    for i, line in enumerate(lines):
        if line.rstrip().endswith(("FUNCTION", "LINE")):
            return [x for x in lines[i + 1:] if x.strip() and not x.startswith("q quit")]
    return []


def samples(screen):
    m = re.search(r"samples (\d+)", screen)
    return int(m.group(1)) if m else None


def start_top(pane, stetho, pid, *args, **kw):
    p = pane(**kw)
    p.type(" ".join([stetho, "top", *args, str(pid)]) + "; echo EXIT=$?")
    return p


def has_both(s):
    return "burn_cpu" in s and "wait_forever" in s


def test_shows_the_busy_function(stetho, python, py_target, pane):
    proc = py_target()
    p = start_top(pane, stetho, proc.pid)
    s = p.wait(has_both, "burn_cpu and wait_forever")
    assert f"pid {proc.pid}" in s
    assert f"Python {python.version_str}" in s
    assert "top_target.py" in s
    assert "q quit" in s.splitlines()[-1]
    # burn_cpu runs on a CPU, wait_forever sleeps: their CPU columns tell them apart
    row = next(r for r in table_rows(s) if "burn_cpu" in r)
    cpu = float(row.split()[2].rstrip("s"))
    assert cpu > 0, row
    assert proc.poll() is None


def test_sort_keys_reorder(stetho, target, pane):
    proc = target()
    p = start_top(pane, stetho, proc.pid)
    p.wait(has_both, "both functions")
    p.keys("3")         # own cpu
    s = p.wait(lambda s: "sort own cpu" in s and table_rows(s)
               and "burn_cpu" in table_rows(s)[0], "burn_cpu first by own cpu")
    p.keys("5")         # wait
    s = p.wait(lambda s: "sort wait" in s and table_rows(s)
               and "wait_forever" in table_rows(s)[0], "wait_forever first by wait")
    p.keys("<")         # back to total cpu
    p.wait(lambda s: "sort total cpu" in s, "the sort moved left")


def test_pause_freezes_the_numbers(stetho, target, pane):
    proc = target()
    p = start_top(pane, stetho, proc.pid)
    p.wait(lambda s: (samples(s) or 0) > 0, "samples")
    p.keys("p")
    first = p.wait(lambda s: "PAUSED" in s, "PAUSED")
    time.sleep(2.5)
    assert samples(p.screen()) == samples(first)
    p.keys("p")
    p.wait(lambda s: "PAUSED" not in s and samples(s) > samples(first), "samples moving again")


def test_thread_key_shows_one_thread_at_a_time(stetho, target, pane):
    proc = target()
    p = start_top(pane, stetho, proc.pid)
    p.wait(has_both, "both functions")
    seen, tids = [], []

    def one_thread(s):
        m = re.search(r"functions, thread (\d+)", s)
        # a new thread each time: the screen may not have been redrawn yet
        return (m and m.group(1) not in tids and table_rows(s)
                and ("burn_cpu" in s) != ("wait_forever" in s))
    for _ in range(2):
        p.keys("t")
        s = p.wait(one_thread, "one thread's functions")
        tids.append(re.search(r"functions, thread (\d+)", s).group(1))
        seen.append("burn_cpu" if "burn_cpu" in s else "wait_forever")
    assert sorted(seen) == ["burn_cpu", "wait_forever"]
    p.keys("t")
    p.wait(lambda s: "all threads" in s and has_both(s), "all threads again")


def test_lines_key(stetho, py_target, pane):
    proc = py_target()
    p = start_top(pane, stetho, proc.pid)
    p.wait(has_both, "both functions")
    p.keys("l")
    p.wait(lambda s: "LINE" in s and f"top_target.py:{burn_line()}" in s,
           f"the busy line top_target.py:{burn_line()}")
    p.keys("l")
    p.wait(lambda s: "FUNCTION" in s, "functions again")


def test_filter_key(stetho, target, pane):
    proc = target()
    p = start_top(pane, stetho, proc.pid)
    p.wait(has_both, "both functions")
    p.keys("/")
    p.tmux("send-keys", "-t", "t", "-l", "wait_for")
    p.keys("Enter")
    s = p.wait(lambda s: "filter: wait_for" in s and "wait_forever" in s
               and "burn_cpu" not in s, "only wait_forever")
    assert all("wait_for" in r for r in table_rows(s))


@pytest.mark.parametrize("key", ["q", "C-c"])
def test_quit_leaves_the_terminal_clean(stetho, target, pane, key):
    proc = target()
    p = start_top(pane, stetho, proc.pid)
    p.wait(has_both, "both functions")
    p.keys(key)
    s = p.wait(lambda s: "EXIT=0" in s, "EXIT=0")
    assert "burn_cpu" not in s and "q quit" not in s     # the screen as it was
    p.type("echo typed-$((40+2))")      # echo and line editing are back
    p.wait(lambda s: "typed-42" in s and s.rstrip().endswith(PROMPT.rstrip()), "the prompt")
    time.sleep(0.5)
    assert proc.poll() is None          # the target runs on
    leftovers = run(["pgrep", "-f", f"top {proc.pid}"]).stdout.split()
    assert leftovers == []


def test_fits_80x24_and_resizes(stetho, target, pane):
    proc = target()
    p = start_top(pane, stetho, proc.pid)
    s = p.wait(has_both, "both functions")
    lines = s.splitlines()
    assert len(lines) <= 24 and all(len(x) <= 80 for x in lines)
    assert lines[-1].startswith("q quit")
    p.tmux("resize-window", "-t", "t", "-x", "60", "-y", "16")
    s = p.wait(lambda s: len(s.splitlines()) == 16 and s.splitlines()[-1].startswith("q quit"),
               "the footer on the last line of 60x16")
    assert all(len(x) <= 60 for x in s.splitlines())
    p.tmux("resize-window", "-t", "t", "-x", "120", "-y", "30")
    p.wait(lambda s: len(s.splitlines()) == 30 and s.splitlines()[-1].startswith("q quit")
           and has_both(s), "the footer on the last line of 120x30")


COLOUR_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def has_colour(text):
    for m in COLOUR_SGR.finditer(text):
        for code in m.group(1).split(";"):
            if code.isdigit() and int(code) not in (39, 49) and (   # 39, 49: the default
                    30 <= int(code) <= 49 or 90 <= int(code) <= 107):
                return True
    return False


@pytest.mark.parametrize("no_color", [False, True])
def test_no_color(stetho, target, pane, no_color):
    proc = target()
    p = start_top(pane, stetho, proc.pid, env={"NO_COLOR": "1"} if no_color else {})
    p.wait(has_both, "both functions")
    assert has_colour(p.screen(escapes=True)) != no_color


def test_target_exit_is_shown(stetho, target, pane):
    proc = target(seconds=3)
    threading.Thread(target=proc.wait, daemon=True).start()    # no zombie: it can end
    p = start_top(pane, stetho, proc.pid)
    p.wait(lambda s: "ENDED" in s, "ENDED", timeout=30)
    p.keys("q")
    p.wait(lambda s: "EXIT=0" in s, "EXIT=0")


def test_output_keeps_a_capture(stetho, target, pane, tmp_path):
    proc = target()
    cap = tmp_path / "top.stetho"
    p = start_top(pane, stetho, proc.pid, "-o", str(cap))
    p.wait(lambda s: "burn_cpu" in s and (samples(s) or 0) > 50, "samples")
    p.keys("q")
    p.wait(lambda s: "EXIT=0" in s, "EXIT=0")
    table = run([stetho, "table", str(cap)])
    assert table.returncode == 0, table.stderr
    assert b"burn_cpu" in table.stdout and b"wait_forever" in table.stdout
    assert b"truncated" not in table.stderr


@pytest.mark.parametrize("arg,msg", [("4194303", b"stetho: "), ("abc", b"not a process id")])
def test_bad_pid(stetho, arg, msg):
    cp = run([stetho, "top", arg])
    assert cp.returncode == 2
    lines = cp.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stetho: ")
    assert msg in cp.stderr


def test_bad_memory_mode(stetho, target):
    proc = target()
    cp = run([stetho, "top", "--memory=bogus", str(proc.pid)])
    assert cp.returncode == 2
    assert cp.stderr.decode().startswith("stetho: --memory takes exact, sampled")
    assert len(cp.stderr.decode().splitlines()) == 1
    assert proc.poll() is None


def test_needs_a_terminal(stetho, target):
    proc = target()
    cp = run([stetho, "top", str(proc.pid)])
    assert cp.returncode == 2
    assert cp.stderr.decode().startswith("stetho: top: needs a terminal")


def test_run_live(stetho, python, pane, tmp_path):
    """`run --live`: the same view on a program stetho starts; its output goes
    to the log named in the header, the usual report comes after `q`."""
    p = pane()
    bindir = os.path.dirname(python.path)
    p.type(f"cd {tmp_path} && PATH={bindir}:$PATH {stetho} run --live {TARGET} 4; echo EXIT=$?")
    s = p.wait(has_both, "both functions")
    m = re.search(r"program output: (stetho-live-\d+\.log)", s)
    assert m, s
    p.wait(lambda s: "ENDED" in s, "ENDED", timeout=30)
    p.keys("q")
    p.wait(lambda s: "EXIT=0" in s, "EXIT=0")
    # the report's tree, after the view (which was on the alternate screen,
    # not in the history); the burner's thread may come first and scroll off
    # an 80x24 screen: both threads have ~50 % of the time
    s = p.screen(history=True)
    assert "burn_cpu" in s, s
    assert (tmp_path / m.group(1)).read_text().splitlines() == ["READY"]
    assert list(tmp_path.glob("stetho-top_target-*.stetho"))


def test_run_live_needs_a_terminal(stetho, one_python, tmp_path):
    cp = run([stetho, "run", "--live", "--", one_python.path, str(TARGET), "1"], cwd=tmp_path)
    assert cp.returncode == 2
    assert cp.stderr.decode() == "stetho: run: --live needs a terminal\n"


# ---- top --memory: the agent attached as `attach --memory` does ----

MIB_UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def column(screen, row, title):
    """A right-aligned cell of `row`, under the column titled `title`."""
    head = next(x for x in screen.splitlines() if title in x and "FUNCTION" in x)
    end = head.index(title) + len(title)
    return row[end - len(title) - 1:end].strip()


def nbytes(cell):
    num, unit = cell.split()
    return float(num) * MIB_UNITS[unit]


def row_of(screen, function):
    return next((r for r in table_rows(screen) if f" {function}  " in r), None)


@pytest.mark.parametrize("mode,tol", [("exact", EXACT_TOL), ("sampled:4096", SAMPLED_TOL)])
def test_memory_held_now(stetho, python, spawn, pane, tmp_path, mode, tol):
    """attach_target.py allocates after the attach: keep_blocks keeps what it
    says (held now, within run's tolerances), churn_blocks frees it all;
    sorting by held puts the holders first; `q` detaches: every hook
    removed, the program's output and status as without stetho."""
    p = start_target(spawn, python, stetho, tmp_path, "poll")
    # 120 columns: with the memory columns 80 leave no room for the names
    pn = start_top(pane, stetho, p.pid, f"--memory={mode}", width=120, height=30)
    pn.wait(lambda s: "held now" in s, "the memory columns", timeout=ATTACH_TIMEOUT)
    touch(tmp_path, "go")
    done, _, _ = read_line_with_prefix(p, b"DONE", ATTACH_TIMEOUT)
    truth = json.loads(done.split(b" ", 1)[1])
    keep, churn = truth["keep_blocks"], truth["churn_blocks"]

    def keep_shown(s):
        r = row_of(s, "keep_blocks")
        return r and within(nbytes(column(s, r, "allocated")), keep, tol + 0.01)
    s = pn.wait(keep_shown, "keep_blocks' allocations", timeout=ATTACH_TIMEOUT)
    assert table_rows(s)[0].split()[-2] not in ("keep_blocks", "churn_blocks")  # sort own
    held = nbytes(column(s, row_of(s, "keep_blocks"), "held now"))
    assert within(held, keep, tol + 0.01), (held, keep)     # 3 digits shown: 1%
    churn_row = row_of(s, "churn_blocks")
    if churn_row:       # sampled: may have drawn no sample at all
        assert nbytes(column(s, churn_row, "held now")) <= tol * churn, churn_row

    pn.keys("6")
    s = pn.wait(lambda s: "sort held now" in s, "sort held now")
    helds = [nbytes(column(s, r, "held now")) for r in table_rows(s)]
    assert helds == sorted(helds, reverse=True), s
    assert within(helds[0], keep, tol + 0.01), s            # keep_blocks or its callers
    assert "keep_blocks" in "".join(table_rows(s)[:4])      # with <module>, main, workloads

    pn.keys("r")        # allocated counts from now on; held now stays what is held
    s = pn.wait(lambda s: "window since" in s and row_of(s, "keep_blocks"), "the reset")
    r = row_of(s, "keep_blocks")
    assert within(nbytes(column(s, r, "held now")), keep, tol + 0.01), r
    assert nbytes(column(s, r, "allocated")) == 0, r

    pn.keys("q")
    pn.wait(lambda s: "EXIT=0" in s, "EXIT=0", timeout=ATTACH_TIMEOUT)
    touch(tmp_path, "stop")
    assert finish(p, 7) == ["HOOKED 0"]


@pytest.mark.parametrize("way", ["perf", "ptrace"])
def test_native_functions(stetho, python, spawn, pane, tmp_path, way):
    """`top --native`: the C functions of a spinning extension are rows of
    the table, marked native with their module, beside the Python caller."""
    from test_native import BURN_PY, build_extension
    ext = build_extension(python, tmp_path, "fp")
    proc = spawn.popen([python.path, str(BURN_PY), str(ext), "60"])
    read_line_with_prefix(proc, b"READY", READY_TIMEOUT)
    p = start_top(pane, stetho, proc.pid, f"--native={way}")
    s = p.wait(lambda s: "burn_b" in s and "py_caller" in s, "burn_b and py_caller")
    rows = table_rows(s)
    burn = next(r for r in rows if re.search(r"\bburn_b\b", r))
    assert re.search(r"burn_b  \[native\] native_burn", burn), burn    # the module, cut at 80 columns
    # burn_b spins: it has the most own time
    assert "burn_b" in rows[0], rows
    assert re.search(r"py_caller  native_burn\.py:\d+", s), s
    p.keys("q")
    s = p.wait(lambda s: re.search(r"EXIT=\d", s), "EXIT=")
    assert "EXIT=0" in s and "refused" not in s, s
    assert proc.poll() is None
