"""A program started without stetho, for `stetho attach --memory` tests.

usage: attach_target.py MODE DIR AGENT
  DIR: the test's directory; the program waits for files the test creates
  there ("go", "stop") and writes nothing else there.
  AGENT: libstetho_agent.so, only to ask it at the end how many GOT entries
  still point into it (0 once stetho detached; the library itself stays
  loaded, as any dlopen'ed library).
MODE:
  poll     wait for "go" in a Python loop, run the workloads, print
           "DONE {truth}", wait for "stop", print "HOOKED n", exit 7.
  exit     as poll, but exit with status 5 right after DONE (stetho still
           attached).
  rawread  block in libc read(2) on stdin (through ctypes, so an EINTR
           would be seen, not retried as Python's os.read does); the line
           read is echoed as "READ line", or "READ-ERROR errno"; then the
           workloads and the rest as poll.
  threads  four threads allocate and free hard, the main thread polls for
           "stop"; each thread's count at the end, "HOOKED n", exit 7.
  hooked   as threads, but no "stop": after "go" (stetho killed), wait up
           to 10 s for the agent to unhook itself; print "HOOKED n".
  importing  the main thread imports a module afresh, again and again
           (about half its time inside importlib), until "stop"; then
           "IMPORTS n failed", "HOOKED n", exit 7.  An import that raised
           is counted, not fatal.
  underimport  as poll, but all of it runs from the body of a module being
           imported (a program whose work runs under an import).
"""
import json
import os
import sys
import threading
import time

MODE, DIR, AGENT = sys.argv[1], sys.argv[2], sys.argv[3]
KEEP = []
BLOCK = 10000


def wait_file(name, timeout=60):
    path = os.path.join(DIR, name)
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            print("TIMEOUT", name, flush=True)
            sys.exit(4)
        time.sleep(0.005)


def keep_blocks(n):
    for _ in range(n):
        KEEP.append(bytearray(BLOCK))


def churn_blocks(n):
    for _ in range(n):
        b = bytearray(BLOCK)
        del b


def workloads():
    keep_blocks(1000)
    churn_blocks(2000)
    one = sys.getsizeof(bytearray(BLOCK))
    return {"keep_blocks": 1000 * one, "churn_blocks": 2000 * one}


def import_loop():
    """Import ctypes afresh (stetho's start imports it too) until "stop",
    with as much time again outside the import machinery; (imports,
    imports that raised)."""
    import importlib
    done = failed = 0
    stop = os.path.join(DIR, "stop")
    while not os.path.exists(stop):
        t = time.perf_counter()
        sys.modules.pop("ctypes", None)
        try:
            importlib.import_module("ctypes")
        except Exception:
            failed += 1
        done += 1
        spent = time.perf_counter() - t
        junk = []
        while time.perf_counter() - t < 2 * spent:
            junk.append(bytearray(100))
    return done, failed


def hooked():
    import ctypes
    lib = ctypes.PyDLL(AGENT, mode=os.RTLD_LOCAL)
    lib.stetho_agent_hooked.restype = ctypes.c_long
    return lib.stetho_agent_hooked()


def raw_read_line():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(256)
    n = libc.read(0, buf, 255)
    if n < 0:
        return None, ctypes.get_errno()
    return buf.raw[:n].decode().strip(), 0


def worker(counts, i, stop):
    n = 0
    while not stop.is_set():
        junk = [bytearray(1000) for _ in range(50)]
        del junk
        n += 1
    counts[i] = n


def main(under_import=False):
    """under_import: called again from the body of a module being imported
    (mode underimport); the other modes' stacks stay main -> workloads."""
    if not under_import:
        print("READY", os.getpid(), flush=True)
    if MODE in ("threads", "hooked"):
        counts, stop = [0] * 4, threading.Event()
        threads = [threading.Thread(target=worker, args=(counts, i, stop)) for i in range(4)]
        for t in threads:
            t.start()
        if MODE == "threads":
            wait_file("stop")
            stop.set()
            for t in threads:
                t.join()
            print("COUNTS", *counts, flush=True)
            print("HOOKED", hooked(), flush=True)
            sys.exit(7)
        wait_file("go")
        deadline = time.monotonic() + 10
        while hooked() and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join()
        print("HOOKED", hooked(), flush=True)
        return
    if MODE == "importing":
        print("IMPORTS", *import_loop(), flush=True)
        print("HOOKED", hooked(), flush=True)
        sys.exit(7)
    if MODE == "underimport" and not under_import:
        import atexit
        import shutil
        import tempfile
        where = tempfile.mkdtemp()
        atexit.register(shutil.rmtree, where, True)
        with open(os.path.join(where, "work_under_import.py"), "w") as f:
            f.write("import sys\nsys.modules['__main__'].main(under_import=True)\n")
        sys.path.insert(0, where)
        import work_under_import  # noqa: F401  (never returns: main exits)
    if MODE == "rawread":
        line, errno = raw_read_line()
        print("READ" if line is not None else "READ-ERROR", line or errno, flush=True)
        truth = workloads()
    else:
        wait_file("go")
        truth = workloads()
    print("DONE", json.dumps(truth), flush=True)
    if MODE == "exit":
        sys.exit(5)
    wait_file("stop")
    print("HOOKED", hooked(), flush=True)
    sys.exit(7)


main()
