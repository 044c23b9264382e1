"""Parks threads at known places so `stetho dump` can be checked exactly.

Usage: python parked.py [timeout_seconds]

Parks one thread in each of:
  nested     outer() -> inner() closure, blocked in Event.wait (threading.py
             frames are innermost)
  method     Parker.method, blocked in time.sleep
  lambda     a lambda blocked in Lock.acquire
  generator  gen_driver() -> next(g) -> gen_body, body blocked in Lock.acquire
  asyncio    asyncio.run(async_root()) -> await async_leaf(), which blocks
             synchronously in Lock.acquire (asyncio machinery on the stack)
  recursion  recursion_driver() -> recurse() x DEPTH, bottom blocked in
             Lock.acquire
  main       main_wait(), blocked in select() on stdin

Then writes two lines to stdout:
  STACKS <json>  the ground truth stack of every parked non-main thread, as
                 seen by sys._current_frames(): [[function, file, line], ...]
                 innermost first (function is co_qualname on 3.11+, else
                 co_name)
  READY <json>   pid, python version, file, marker line numbers, and the
                 native thread id of every thread
READY is written from the line the main thread blocks on (through C calls
only), so the main thread's Python stack is already final when it appears.
The program exits when stdin is closed (or after the timeout).

Line numbers come from the "MARK:<name>" comments, found by reading this file.
"""

import asyncio
import json
import os
import platform
import select
import sys
import threading
import time

DEPTH = 500
TAG = "# " + "MARK:"  # built so this line is not itself a marker


def find_marks():
    marks = {}
    with open(__file__, encoding="utf-8") as f:
        for lineno, text in enumerate(f, 1):
            idx = text.find(TAG)
            if idx >= 0:
                name = text[idx + len(TAG):].split()[0]
                assert name not in marks, "duplicate marker " + name
                marks[name] = lineno
    return marks


MARKS = find_marks()
NEVER = threading.Event()      # never set
FOREVER = threading.Lock()     # acquired once, never released
FOREVER.acquire()


# --- nested function (closure) ---------------------------------------------

def outer():
    def inner():
        NEVER.wait()  # MARK:inner_block
    inner()  # MARK:outer_call


# --- method ------------------------------------------------------------------

class Parker:
    def method(self):
        time.sleep(3600)  # MARK:method_block


# --- lambda ------------------------------------------------------------------

parked_lambda = lambda: FOREVER.acquire()  # MARK:lambda_block


# --- running generator -------------------------------------------------------

def gen_body():
    yield 1
    FOREVER.acquire()  # MARK:gen_block
    yield 2


def gen_driver():
    g = gen_body()
    next(g)
    next(g)  # MARK:gen_next


# --- asyncio coroutine ---------------------------------------------------------

async def async_leaf():
    FOREVER.acquire()  # MARK:async_block


async def async_root():
    await async_leaf()  # MARK:async_await


def async_driver():
    asyncio.run(async_root())  # MARK:async_run


# --- deep recursion ------------------------------------------------------------

def recurse(n):
    if n > 1:
        return recurse(n - 1)  # MARK:recurse_call
    FOREVER.acquire()  # MARK:recurse_block


def recursion_driver():
    recurse(DEPTH)  # MARK:recurse_start


# --- main thread -------------------------------------------------------------

def main_wait(ready_line, timeout):
    # os.write returns the byte count (> 0), so select gets `timeout`; only C
    # calls run on this line, so the stack is final once READY is out.
    select.select([sys.stdin], [], [], os.write(1, ready_line) and timeout)  # MARK:main_block


# --- setup ---------------------------------------------------------------------

# thread name -> (target, function co_name of the frame of interest, marker)
PARKED = {
    "nested": (outer, "inner", "inner_block"),
    "method": (Parker().method, "method", "method_block"),
    "lambda": (parked_lambda, "<lambda>", "lambda_block"),
    "generator": (gen_driver, "gen_body", "gen_block"),
    "asyncio": (async_driver, "async_leaf", "async_block"),
    "recursion": (recursion_driver, "recurse", "recurse_block"),
}


def frame_name(code):
    return getattr(code, "co_qualname", code.co_name)


def stack_of(frame):
    out = []
    while frame is not None:
        out.append([frame_name(frame.f_code), frame.f_code.co_filename, frame.f_lineno])
        frame = frame.f_back
    return out


def parked_at(frame, co_name, line):
    while frame is not None:
        if (frame.f_code.co_name == co_name and frame.f_lineno == line
                and frame.f_code.co_filename == THIS_FILE):
            return True
        frame = frame.f_back
    return False


THIS_FILE = main_wait.__code__.co_filename


def start_and_settle(deadline_s=15.0):
    threads = {}
    for name, (target, _, _) in PARKED.items():
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        threads[name] = t
    # Wait until every thread sits at its marker line and its whole stack has
    # stayed identical for several polls (i.e. it is blocked, not on its way).
    deadline = time.monotonic() + deadline_s
    stable, last = 0, None
    while True:
        frames = sys._current_frames()
        snap = {}
        ok = True
        for name, t in threads.items():
            _, co_name, mark = PARKED[name]
            f = frames.get(t.ident)
            if f is None or not parked_at(f, co_name, MARKS[mark]):
                ok = False
                break
            snap[name] = stack_of(f)
        del frames
        if ok and snap == last:
            stable += 1
            if stable >= 5:
                return threads, snap
        else:
            stable = 0
        last = snap if ok else None
        if time.monotonic() > deadline:
            sys.exit("parked.py: threads did not settle")
        time.sleep(0.005)


threads, stacks = start_and_settle()
sys.stdout.write("STACKS " + json.dumps(stacks) + "\n")
sys.stdout.flush()

info = {
    "pid": os.getpid(),
    "version": platform.python_version(),
    "file": THIS_FILE,
    "depth": DEPTH,
    "marks": MARKS,
    "tids": {name: t.native_id for name, t in threads.items()},
}
info["tids"]["main"] = threading.get_native_id()
ready = ("READY " + json.dumps(info) + "\n").encode()
assert len(ready) < 4096, "READY line must fit one atomic pipe write"

main_wait(ready, float(sys.argv[1]) if len(sys.argv) > 1 else 600.0)  # MARK:main_call
