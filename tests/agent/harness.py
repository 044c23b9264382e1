"""Run a program under libstetho_agent.so and collect what it sends.

run_agent() makes a FIFO, starts the program with the agent preloaded,
reads the FIFO until every writer is gone, and decodes the chunks.
"""

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from decode import decode_bytes

REPO = Path(__file__).resolve().parent.parent.parent
PROGRAMS = Path(__file__).resolve().parent / "programs"


def build_dir():
    """The build under test: the first of $STETHO_BUILDS (tests/run sets it)."""
    return REPO / (os.environ.get("STETHO_BUILDS", "build").split() or ["build"])[0]


def agent_path():
    env = os.environ.get("STETHO_AGENT_LIB")
    if env:
        return os.path.abspath(env)
    return str(build_dir() / "libstetho_agent.so")


def preload(env, lib=None):
    """Set env up to preload the agent; returns the LD_PRELOAD it replaced."""
    lib = lib or agent_path()
    orig = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = lib + (":" + orig if orig else "")
    return orig


@dataclass
class AgentRun:
    returncode: int
    stdout: str
    stderr: str
    events: list
    decoder: object
    seconds: float
    raw_bytes: int
    start_ns: int = 0       # CLOCK_MONOTONIC around the run
    end_ns: int = 0
    data: bytes = b""       # the stream as read from the FIFO


def run_agent(python, args, mode="exact", follow=False, env=None, timeout=120,
              preload_lib=None, stdin=None, agent_env=None):
    """Run `python args...` with the agent; return an AgentRun.  agent_env:
    more STETHO_AGENT_* settings for the agent (the others are dropped)."""
    lib = preload_lib or agent_path()
    with tempfile.TemporaryDirectory(prefix="stetho-agent-") as tmp:
        fifo = os.path.join(tmp, "events")
        os.mkfifo(fifo, 0o600)
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        # a writer of our own, so the reader sees no EOF before the program
        # has opened its end
        wfd = os.open(fifo, os.O_WRONLY)
        os.set_blocking(rfd, True)
        chunks = []

        def reader():
            while True:
                b = os.read(rfd, 1 << 16)
                if not b:
                    return
                chunks.append(b)

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        e = dict(os.environ if env is None else env)
        for k in list(e):
            if k.startswith("STETHO"):     # the test run's own, e.g. STETHO_BUILDS
                del e[k]
        e["STETHO_AGENT_PRELOAD_ORIG"] = preload(e, lib)
        e["STETHO_AGENT_FIFO"] = fifo
        e["STETHO_AGENT_MODE"] = mode
        if follow:
            e["STETHO_AGENT_FOLLOW"] = "1"
        e.update(agent_env or {})
        start = time.monotonic()
        start_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        try:
            p = subprocess.run([python] + list(args), env=e, capture_output=True, text=True,
                               timeout=timeout, input=stdin)
        finally:
            seconds = time.monotonic() - start
            end_ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            os.close(wfd)
        t.join(timeout=30)
        alive = t.is_alive()
        os.close(rfd)
        if alive:
            raise RuntimeError("the FIFO still has a writer 30 s after the program exited")
        data = b"".join(chunks)
        events, dec = decode_bytes(data)
        return AgentRun(p.returncode, p.stdout, p.stderr, events, dec, seconds, len(data),
                        start_ns, end_ns, data)


def run_plain(python, args, timeout=120, env=None):
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STETHO")}
    start = time.monotonic()
    p = subprocess.run([python] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=env)
    return p, time.monotonic() - start
