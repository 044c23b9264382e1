"""The C engine, found and driven: the `stetho` command and the agent library.

Where they are: $STETHO and $STETHO_AGENT if set (the tests point them at a
build), else the `stetho` installed beside this interpreter's scripts by the
same `pip install .`, else `stetho` on PATH; the agent is the
libstetho_agent.so beside that command (as `stetho run` looks for it).
"""
import ctypes
import os
import shutil
import subprocess
import sysconfig

PR_SET_PTRACER = 0x59616D61     # Yama: let this pid read us


class StethoError(RuntimeError):
    """One clear sentence: what went wrong and, where there is one, the fix."""


def find_stetho():
    env = os.environ.get("STETHO")
    if env:
        if not os.access(env, os.X_OK):
            raise StethoError(f"$STETHO is {env!r}, which is not an executable")
        return os.path.abspath(env)
    scripts = sysconfig.get_path("scripts")
    cand = os.path.join(scripts, "stetho") if scripts else None
    if cand and os.access(cand, os.X_OK):
        return cand
    found = shutil.which("stetho")
    if found:
        return found
    raise StethoError("the stetho command was not found (pip install stetho, "
                      "or set $STETHO to its path)")


def find_agent(stetho):
    env = os.environ.get("STETHO_AGENT")
    path = env or os.path.join(os.path.dirname(os.path.realpath(stetho)), "libstetho_agent.so")
    if not os.access(path, os.R_OK):
        raise StethoError(f"libstetho_agent.so not found at {path} (memory profiling "
                          "needs it; set $STETHO_AGENT, or memory='off')")
    return os.path.abspath(path)


def run(args, check=True):
    """A report command (tree, stats, html, ...); its stdout."""
    cp = subprocess.run([find_stetho()] + list(args), stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
    if check and cp.returncode != 0:
        raise StethoError(cp.stderr.strip() or f"stetho {args[0]} failed ({cp.returncode})")
    return cp.stdout


def allow_tracer(pid):
    """Under Yama ptrace_scope 1 only ancestors may read a process: allow pid
    (our own sampler, a child).  Without Yama the call fails; nothing to do."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PTRACER, ctypes.c_ulong(pid), 0, 0, 0)
    except (OSError, AttributeError):
        pass


_agents = {}


class Agent:
    """The agent dlopen'ed into this process (once; it is never unloaded).
    PyDLL: its entry points must run with the GIL held."""

    def __init__(self, path):
        lib = ctypes.PyDLL(path, mode=os.RTLD_LOCAL)
        lib.stetho_agent_start.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        lib.stetho_agent_start.restype = ctypes.c_int
        lib.stetho_agent_stop.restype = ctypes.c_int
        lib.stetho_agent_use_ring.argtypes = [ctypes.c_char_p]
        lib.stetho_agent_use_ring.restype = ctypes.c_int
        lib.stetho_agent_calls_start.argtypes = [ctypes.c_char_p]
        lib.stetho_agent_calls_start.restype = ctypes.c_int
        lib.stetho_agent_calls_stop.restype = ctypes.c_int
        lib.stetho_agent_hooked.restype = ctypes.c_long
        lib.stetho_agent_error.restype = ctypes.c_char_p
        self.lib = lib

    @classmethod
    def load(cls, path):
        if path not in _agents:
            _agents[path] = cls(path)
        return _agents[path]

    def _error(self):
        return self.lib.stetho_agent_error().decode("utf-8", "replace")

    def start(self, fifo, mode, follow, ring=None):
        # without it (or if it cannot be mapped) the FIFO takes the chunks
        if ring is not None:
            self.lib.stetho_agent_use_ring(os.fsencode(ring))
        if self.lib.stetho_agent_start(os.fsencode(fifo), mode.encode(), int(bool(follow))) != 0:
            raise StethoError(f"memory recording could not start: {self._error()}")

    def stop(self):
        if self.lib.stetho_agent_stop() != 0:
            raise StethoError(f"memory recording could not stop: {self._error()}")

    def calls_start(self, fifo):
        if self.lib.stetho_agent_calls_start(os.fsencode(fifo)) != 0:
            raise StethoError(f"call counting could not start: {self._error()}")

    def calls_stop(self):
        if self.lib.stetho_agent_calls_stop() != 0:
            raise StethoError(f"call counting could not stop: {self._error()}")

    def hooked(self):
        """GOT entries pointing into the agent now (0 when not recording)."""
        return self.lib.stetho_agent_hooked()
