"""Profiler: a stetho recording of a window of this process's own life.

Time: a `stetho attach` on our own pid (the same out-of-process sampler as
`stetho run`).  Memory: the agent loaded into this process, recording from
start() to stop() (src/agent/inside.h); its events go over a FIFO to that
same stetho, into the same capture.  Everything the results show is read
from the capture by the stetho command: nothing is aggregated here.
"""
import functools
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
import json

from . import _engine
from ._engine import StethoError

DEFAULT_MEAN = 64 << 10
HANDSHAKE_TIMEOUT_S = 30
STOP_TIMEOUT_S = 120

_lock = threading.Lock()
_running = None             # the Profiler recording now, in this process


def _memory_mode(memory):
    if memory in (None, False, "off"):
        return None
    if memory == "exact":
        return "exact"
    if memory == "sampled":
        return f"sampled:{DEFAULT_MEAN}"
    if isinstance(memory, str) and memory.startswith("sampled:"):
        try:
            mean = int(memory[8:])
        except ValueError:
            mean = 0
        if mean > 0:
            return f"sampled:{mean}"
    raise ValueError(f"stetho: memory must be 'exact', 'sampled', 'sampled:BYTES' or 'off' "
                     f"(got {memory!r})")


def _read_line(fd, deadline):
    """One line from a pipe, or None at EOF or the deadline."""
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1)
        if not chunk:
            return None
        buf += chunk
    return buf.decode("utf-8", "replace").rstrip("\n")


def _ptrace_hint(msg):
    low = msg.lower()
    if "permission" in low or "not permitted" in low or "ptrace" in low:
        return (f"{msg}\nstetho cannot read this process: allow ptrace for your user "
                "(sysctl kernel.yama.ptrace_scope=0, or run as root / with CAP_SYS_PTRACE; "
                "in a container: docker run --cap-add SYS_PTRACE)")
    return msg


class Profiler:
    """Record time (and memory) of this process between start() and stop().

    memory: 'sampled' (default, Poisson sampling with a 64 KiB mean),
    'sampled:BYTES', 'exact' or 'off'.  interval_ms: the sampling interval.
    output: where the capture goes (default: a temporary file; save() copies
    it).  threads: 'all' (default) or 'current' (the thread that calls
    start()).  subprocesses: also the children this process starts.
    calls: also count every call exactly (cProfile's figures, in the same
    capture: `stetho table --calls`, the tree, the pstats export).
    native: also the C/C++ frames, merged with the Python ones, of every
    time sample and of every recorded allocation (`--native`,
    docs/native.md).
    """

    def __init__(self, memory="sampled", interval_ms=10, output=None, threads="all",
                 subprocesses=False, calls=False, native=False):
        self._mode = _memory_mode(memory)
        if not isinstance(interval_ms, (int, float)) or not 0.05 <= interval_ms <= 10000:
            raise ValueError(f"stetho: interval_ms must be from 0.05 to 10000 (got {interval_ms!r})")
        if threads not in ("all", "current"):
            raise ValueError(f"stetho: threads must be 'all' or 'current' (got {threads!r})")
        self.memory = memory
        self.interval_ms = interval_ms
        self.output = os.path.abspath(output) if output else None
        self.threads = threads
        self.subprocesses = subprocesses
        self.calls = bool(calls)
        self.native = bool(native)
        self._counting = False
        self._proc = None
        self._agent = None
        self._pid = None
        self._capture = None
        self._tmp = None

    # ---- recording ----

    @property
    def running(self):
        return self._proc is not None

    def start(self):
        global _running
        with _lock:
            if _running is not None and _running._pid == os.getpid():
                raise StethoError("stetho: a profile is already running in this process; "
                                  "profiles do not nest (stop the other one first)")
            _running = self
        try:
            self._start()
        except BaseException:
            with _lock:
                _running = None
            raise
        return self

    def _start(self):
        stetho = _engine.find_stetho()
        agent_path = _engine.find_agent(stetho) if self._mode or self.calls else None
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="stetho-api-")
            weakref.finalize(self, shutil.rmtree, self._tmp, True)
        self._capture = self.output or os.path.join(self._tmp, "profile.stetho")
        self._pid = os.getpid()
        cmd = [stetho, "attach", "-q", "--handshake", "-o", self._capture,
               "-i", repr(float(self.interval_ms))]
        # exact mode: the agent's chunks go through a ring of shared slots,
        # not a write(2) each (docs/memory.md, "The ring")
        ring_wanted = self._mode == "exact"
        if self._mode:
            cmd.append("--memory-fifo")
            if ring_wanted:
                cmd.append("--memory-ring")
        if self.subprocesses:
            cmd.append("--subprocesses")
        if self.calls:
            cmd.append("--calls")
        if self.native:
            cmd.append("--native")
        if self.threads == "current":
            cmd += ["--thread", str(threading.get_native_id())]
        cmd.append(str(self._pid))
        errpath = os.path.join(self._tmp, "stderr")
        with open(errpath, "wb") as err:
            # its own session: the terminal's Ctrl-C is the program's to handle
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=err, start_new_session=True)
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT_S
        fifo = ring = None
        try:
            if self._mode or self.calls:
                line = _read_line(proc.stdout.fileno(), deadline)
                if not line or not line.startswith("fifo "):
                    self._fail(proc, errpath, "could not start")
                fifo = line[5:]
            if ring_wanted:
                line = _read_line(proc.stdout.fileno(), deadline)
                if line is None or not (line == "ring" or line.startswith("ring ")):
                    self._fail(proc, errpath, "could not start")
                ring = line[5:] or None
            _engine.allow_tracer(proc.pid)
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            if _read_line(proc.stdout.fileno(), deadline) != "ready":
                self._fail(proc, errpath, "could not attach")
            if self._mode or self.calls:
                agent = _engine.Agent.load(agent_path)
                if self._mode:
                    # the agent's mode string (agent/protocol.h AGENT_MODE_NATIVE)
                    mode = self._mode + (",native" if self.native else "")
                    agent.start(fifo, mode, self.subprocesses, ring)
                    self._agent = agent
                if self.calls:
                    agent.calls_start(fifo)
                    self._agent, self._counting = agent, True
        except BaseException:
            if self._agent is not None:
                if self._mode:
                    self._agent.stop()
                self._agent = None
            self._kill(proc)
            raise
        self._proc = proc
        self._errpath = errpath

    def _fail(self, proc, errpath, what):
        self._kill(proc)
        with open(errpath, "rb") as f:
            msg = f.read().decode("utf-8", "replace").strip()
        raise StethoError(_ptrace_hint(msg or f"stetho: the sampler {what} "
                                       f"(exit status {proc.returncode})"))

    @staticmethod
    def _kill(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def stop(self):
        global _running
        if self._proc is None:
            raise StethoError("stetho: stop() without start(): this Profiler is not running")
        proc, agent, counting = self._proc, self._agent, self._counting
        self._proc = self._agent = None
        self._counting = False
        if os.getpid() != self._pid:
            # a forked child of the profiled process: the sampler is the
            # parent's; only this process's own hooks go (it counts no more
            # and writes nothing: its counts are not the parent's)
            if counting:
                agent.calls_stop()
            if agent is not None and self._mode:
                agent.stop()
            return self
        with _lock:
            _running = None
        try:
            if counting:
                agent.calls_stop()
            if agent is not None and self._mode:
                agent.stop()
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._kill(proc)
        if proc.returncode != 0:
            with open(self._errpath, "rb") as f:
                msg = f.read().decode("utf-8", "replace").strip()
            raise StethoError(msg or f"stetho: the sampler failed (exit status {proc.returncode})")
        return self

    # ---- as a context manager and a decorator ----

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self._proc is not None:
            self.stop()
        return False

    def __call__(self, func):
        """Decorate func: every call is recorded, and its tree printed on
        stderr (or, with output=, saved there)."""
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            self.start()
            try:
                return func(*args, **kwargs)
            finally:
                self.stop()
                if not self.output:
                    self.print(file=sys.stderr)
        wrapper.profiler = self
        return wrapper

    # ---- results (read from the capture by the stetho command) ----

    def _done(self):
        if self._proc is not None:
            raise StethoError("stetho: the profile is still running (call stop() first)")
        if not self._capture or not os.path.exists(self._capture):
            raise StethoError("stetho: nothing recorded yet (start() and stop() first)")
        return self._capture

    def capture_path(self):
        return self._done()

    def tree(self, *options):
        """The call tree as `stetho tree` prints it (options: its flags)."""
        return _engine.run(["tree", self._done(), "--no-color"] + list(options))

    def print(self, *options, file=None):
        """Print the call tree, the same as `stetho run` shows."""
        (file or sys.stdout).write(self.tree(*options))

    def save(self, path):
        """Keep the capture: a normal .stetho file every command reads."""
        src = self._done()
        if os.path.abspath(path) != src:
            shutil.copyfile(src, path)
        return path

    def html(self, path):
        """The HTML report, self-contained."""
        _engine.run(["html", self._done(), "-o", path])
        return path

    def stats(self):
        """The totals: seconds for time, bytes for memory (None without it)."""
        s = json.loads(_engine.run(["stats", self._done(), "--json"]))
        t, m = s.get("time", {}), s.get("memory") or {}
        out = {
            "duration": s.get("duration_s"),
            "samples": s.get("samples"),
            "wall": t.get("wall_s"),
            "user": t.get("cpu_user_s"),
            "sys": t.get("cpu_sys_s"),
            "wait": t.get("wait_s"),
        }
        for k, v in t.items():
            if k.startswith("wait_") and k != "wait_s":
                out[k[:-2]] = v
        out.update({
            "peak_heap": m.get("peak_heap_bytes"),
            "peak_rss": m.get("peak_rss_bytes"),
            "allocated": m.get("alloc_bytes"),
            "allocations": m.get("alloc_count"),
            "leaked": m.get("leaked_bytes"),
        })
        return out


def profile(memory="sampled", interval_ms=10, output=None, threads="all", subprocesses=False,
            calls=False, native=False):
    """`with stetho.profile() as p:` or `@stetho.profile()`: a Profiler."""
    return Profiler(memory=memory, interval_ms=interval_ms, output=output, threads=threads,
                    subprocesses=subprocesses, calls=calls, native=native)
