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


def agent_path():
    env = os.environ.get("STETHO_AGENT_LIB")
    if env:
        return os.path.abspath(env)
    return str(REPO / "build" / "libstetho_agent.so")


@dataclass
class AgentRun:
    returncode: int
    stdout: str
    stderr: str
    events: list
    decoder: object
    seconds: float
    raw_bytes: int


def run_agent(python, args, mode="exact", follow=False, env=None, timeout=120,
              preload=None, stdin=None):
    """Run `python args...` with the agent; return an AgentRun."""
    lib = preload or agent_path()
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
            if k.startswith("STETHO_AGENT"):
                del e[k]
        orig = e.get("LD_PRELOAD", "")
        e["LD_PRELOAD"] = lib + (":" + orig if orig else "")
        e["STETHO_AGENT_PRELOAD_ORIG"] = orig
        e["STETHO_AGENT_FIFO"] = fifo
        e["STETHO_AGENT_MODE"] = mode
        if follow:
            e["STETHO_AGENT_FOLLOW"] = "1"
        start = time.monotonic()
        try:
            p = subprocess.run([python] + list(args), env=e, capture_output=True, text=True,
                               timeout=timeout, input=stdin)
        finally:
            seconds = time.monotonic() - start
            os.close(wfd)
        t.join(timeout=30)
        alive = t.is_alive()
        os.close(rfd)
        if alive:
            raise RuntimeError("the FIFO still has a writer 30 s after the program exited")
        data = b"".join(chunks)
        events, dec = decode_bytes(data)
        return AgentRun(p.returncode, p.stdout, p.stderr, events, dec, seconds, len(data))


def run_plain(python, args, timeout=120, env=None):
    start = time.monotonic()
    p = subprocess.run([python] + list(args), capture_output=True, text=True, timeout=timeout,
                       env=env)
    return p, time.monotonic() - start
