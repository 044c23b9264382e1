"""The Python API on its own process (tests/e2e/test_api.py).

    api_window.py window MODE OUT    a window around known work, with work of
                                     the same kinds before and after it; the
                                     capture goes to OUT/cap.stetho, facts to
                                     OUT/facts.json
    api_window.py repeat N MODE OUT  start/stop N times; what leaked (threads,
                                     fds, RSS, GOT entries) to OUT/facts.json
    api_window.py thread OUT         a thread started inside the window
    api_window.py fork OUT           fork() inside the window
    api_window.py behave with|without  the same output either way (after a
                                     window with `with`, and no trace of it)
    api_window.py dlopen OUT         an extension (sqlite3) first imported
                                     inside the window: its C library's
                                     mallocs are seen
    api_window.py children OUT       subprocesses=True: a forked child's memory
                                     and an exec'd child's time
    api_window.py dlstress N OUT     start/stop N times while another thread
                                     loads and unloads libraries
    api_window.py busy N OUT         start/stop N times while three threads
                                     allocate without a pause (each start and
                                     stop takes their chunks' locks); the
                                     last window's capture to OUT/cap.stetho
    api_window.py rawbusy N OUT      N exact windows, each to OUT/cap-I.stetho,
                                     while three threads call PyMem_RawMalloc
                                     and PyMem_RawFree through ctypes.CDLL
                                     (a hooked domain, no GIL: inside
                                     the agent's hooks as the window starts
                                     and stops); each window's count of
                                     their calls made inside it to facts
"""
import json
import os
import sys
import threading
import time

import stetho
from stetho import _engine

MB = 1 << 20


def burn_cpu(seconds):
    t = time.process_time()
    while time.process_time() - t < seconds:
        pass


def outside_burn():
    burn_cpu(0.2)


def outside_alloc():
    return [bytearray(MB) for _ in range(8)]


def inside_burn():
    burn_cpu(0.4)


def inside_sleep():
    time.sleep(0.3)


def inside_alloc():
    return [bytearray(MB) for _ in range(24)]


def inside_temp():
    for _ in range(16):
        b = bytearray(MB)
        del b


# inside_small()'s: small blocks, made beforehand (ints above 256 are objects)
SMALL_KEPT = [(i, 2 + (i * 7) % 400) for i in range(100)]
SMALL_TEMP = [2 + (i * 13) % 400 for i in range(1000)]


def inside_small():
    """Small blocks kept, and more dropped at once, at the window's very end:
    the agent holds the last ones back (src/agent/nursery.h) until its
    session ends, and must send them then."""
    kept = [None] * len(SMALL_KEPT)
    for i, s in SMALL_KEPT:
        kept[i] = bytes(s)
    for s in SMALL_TEMP:
        bytes(s)
    return kept


def small_truth():
    size = lambda s: sys.getsizeof(bytes(s))   # noqa: E731
    kept = sum(size(s) for _, s in SMALL_KEPT)
    return {"count": len(SMALL_KEPT) + len(SMALL_TEMP) + 1, "kept": kept,
            "bytes": kept + sum(size(s) for s in SMALL_TEMP)
            + sys.getsizeof([None] * len(SMALL_KEPT))}


def agent():
    return _engine.Agent.load(_engine.find_agent(_engine.find_stetho()))


def warm_up(memory="exact"):
    """One window first: a slot the start and stop themselves bind lazily
    (an interpreter linked without BIND_NOW, like Debian's) holds its
    bound value from then on, so the digests compare like with like."""
    with stetho.profile(memory=memory, interval_ms=5):
        pass


def eval_frame_is_default():
    """Is the interpreter's frame evaluation its own (no PEP 523 hook)?"""
    import ctypes
    api = ctypes.pythonapi
    api.PyInterpreterState_Get.restype = ctypes.c_void_p
    get = api._PyInterpreterState_GetEvalFrameFunc
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    default = ctypes.cast(api._PyEval_EvalFrameDefault, ctypes.c_void_p).value
    return get(api.PyInterpreterState_Get()) == default


def ring_mapped():
    """Is a ring of the agent's (docs/memory.md, "The ring") mapped here?"""
    with open("/proc/self/maps") as f:
        return sum("stetho-ring-" in line for line in f)


def dump(out, facts):
    with open(os.path.join(out, "facts.json"), "w") as f:
        json.dump(facts, f)


def rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def counts():
    return {"threads": len(os.listdir("/proc/self/task")),
            "fds": len(os.listdir("/proc/self/fd")),
            "py_threads": threading.active_count()}


mode = sys.argv[1]

if mode == "window":
    memory, out = sys.argv[2], sys.argv[3]
    pre = outside_alloc()               # allocated before, freed inside
    outside_burn()
    a = agent()
    warm_up(memory)
    digest0 = a.lib.stetho_agent_got_digest()
    eval_before = eval_frame_is_default()
    ring_before = ring_mapped()
    p = stetho.Profiler(memory=memory, interval_ms=5, output=os.path.join(out, "cap.stetho"))
    p.start()
    eval_in = eval_frame_is_default()
    ring_in = ring_mapped()
    hooked_in = a.hooked()
    digest_in = a.lib.stetho_agent_got_digest()
    inside_burn()
    inside_sleep()
    held = inside_alloc()
    inside_temp()
    del pre
    small = inside_small()
    p.stop()
    digest1 = a.lib.stetho_agent_got_digest()
    outside_burn()
    after = outside_alloc()
    dump(out, {"hooked_in": hooked_in, "hooked_after": a.hooked(),
               "digest_restored": digest0 == digest1, "digest_changed": digest0 != digest_in,
               "eval_default": [eval_before, eval_in, eval_frame_is_default()],
               "ring_mapped": [ring_before, ring_in, ring_mapped()],
               "stats": p.stats(), "small": small_truth()})

elif mode == "repeat":
    n, memory, out = int(sys.argv[2]), sys.argv[3], sys.argv[4]
    a = agent()
    warm_up(memory)
    digest0 = a.lib.stetho_agent_got_digest()
    before = counts()
    rss_early = 0
    for i in range(n):
        with stetho.profile(memory=memory, interval_ms=5) as p:
            keep = [bytearray(1000) for _ in range(100)]
        if i == 9:
            rss_early = rss()
    dump(out, {"before": before, "after": counts(), "rss_early": rss_early, "rss_late": rss(),
               "hooked_after": a.hooked(),
               "digest_restored": digest0 == a.lib.stetho_agent_got_digest()})

elif mode == "thread":
    out = sys.argv[2]

    def thread_work():
        burn_cpu(0.3)
        held.extend(bytearray(MB) for _ in range(12))

    held = []
    with stetho.profile(memory="exact", interval_ms=5, output=os.path.join(out, "cap.stetho")):
        t = threading.Thread(target=thread_work, name="worker")
        t.start()
        t.join()
    dump(out, {"main_tid": threading.get_native_id()})

elif mode == "fork":
    out = sys.argv[2]
    a = agent()
    with stetho.profile(memory="exact", interval_ms=5,
                        output=os.path.join(out, "cap.stetho")) as p:
        parent_keep = inside_alloc()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            hooked_child = a.hooked()
            child_keep = [bytearray(MB) for _ in range(4)]
            p.stop()                    # the child's own hooks only
            os.write(w, json.dumps({"hooked_child": hooked_child,
                                    "hooked_child_after": a.hooked()}).encode())
            os._exit(7)
        os.close(w)
        child = json.loads(os.read(r, 4096) or b"{}")
        _, status = os.waitpid(pid, 0)
        hooked_parent = a.hooked()
    dump(out, dict(child, status=os.waitstatus_to_exitcode(status) if hasattr(
        os, "waitstatus_to_exitcode") else status >> 8, hooked_parent=hooked_parent,
        hooked_after=a.hooked()))

elif mode == "behave":
    if sys.argv[2] == "with":
        a = agent()
        warm_up()
        digest0 = a.lib.stetho_agent_got_digest()
        with stetho.profile(memory="exact", interval_ms=5):
            inside_alloc()
        assert a.hooked() == 0, a.hooked()
        assert digest0 == a.lib.stetho_agent_got_digest(), "GOT not restored"
    # the same work and output either way: allocation-heavy, deterministic
    import hashlib
    h = hashlib.sha256()
    data = {}
    for i in range(20000):
        data[str(i)] = [i] * (i % 7)
        h.update(repr(data[str(i)]).encode())
    import tracemalloc
    tracemalloc.start()
    blocks = [bytes(100) for _ in range(1000)]
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(h.hexdigest(), len(data), cur >= 100 * 1000, sorted(os.environ).count("LD_PRELOAD"))
    sys.stdout.flush()

elif mode == "dlopen":
    out = sys.argv[2]
    a = agent()
    with stetho.profile(memory="exact", interval_ms=5,
                        output=os.path.join(out, "cap.stetho")):
        hooked_before = a.hooked()
        try:
            import sqlite3
        except ImportError:
            dump(out, {"skip": "no sqlite3 in this interpreter"})
            sys.exit(0)
        hooked_import = a.hooked()

        def sqlite_work():
            con = sqlite3.connect(":memory:")
            con.execute("PRAGMA cache_size=-65536")
            con.execute("CREATE TABLE t(x)")
            con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
                        "WHERE i < 8000) INSERT INTO t SELECT randomblob(1000) FROM c")
            return con

        con = sqlite_work()
    dump(out, {"hooked_before": hooked_before, "hooked_import": hooked_import,
               "hooked_after": a.hooked()})

elif mode == "children":
    import subprocess
    out = sys.argv[2]

    def forked_child_alloc():
        return [bytearray(MB) for _ in range(8)]

    with stetho.profile(memory="exact", interval_ms=5, subprocesses=True,
                        output=os.path.join(out, "cap.stetho")):
        pid = os.fork()
        if pid == 0:
            kept = forked_child_alloc()
            burn_cpu(0.2)
            os._exit(0)
        child = subprocess.Popen([sys.executable, "-c", "import time\n"
                                  "def exec_child_burn():\n"
                                  "    t = time.process_time()\n"
                                  "    while time.process_time() - t < 0.4: pass\n"
                                  "exec_child_burn()"])
        child.wait()
        _, status = os.waitpid(pid, 0)
    dump(out, {"parent": os.getpid(), "forked": pid, "exec": child.pid, "status": status})

elif mode == "dlstress":
    import _ctypes
    import ctypes
    import glob
    import sysconfig
    n, out = int(sys.argv[2]), sys.argv[3]
    libs = sorted(glob.glob(os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload",
                                         "*.so")))[:12]
    stop = threading.Event()
    loads = [0]

    def churn():
        while not stop.is_set():
            for path in libs:
                try:
                    h = ctypes.CDLL(path, mode=os.RTLD_LOCAL)
                except OSError:
                    continue
                _ctypes.dlclose(h._handle)
                loads[0] += 1

    a = agent()
    t = threading.Thread(target=churn)
    t.start()
    for i in range(n):
        with stetho.profile(memory="exact" if i % 2 else "sampled", interval_ms=5):
            keep = [bytearray(1000) for _ in range(100)]
    stop.set()
    t.join()
    dump(out, {"loads": loads[0], "libs": len(libs), "hooked_after": a.hooked()})

elif mode == "busy":
    n, out = int(sys.argv[2]), sys.argv[3]
    stop = threading.Event()
    rounds = [0, 0, 0]

    def busy_alloc(k):
        while not stop.is_set():
            keep = [bytearray(64 + i % 200) for i in range(500)]
            del keep
            rounds[k] += 1

    def main_known():
        return [bytearray(100_000) for _ in range(10)]

    a = agent()
    threads = [threading.Thread(target=busy_alloc, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for i in range(n):
        last = i == n - 1
        with stetho.profile(memory="exact" if i % 2 or last else "sampled", interval_ms=5,
                            output=os.path.join(out, "cap.stetho") if last else None):
            keep = main_known()
            time.sleep(0.01)
    before_stop = list(rounds)
    # each thread goes on: given up to 10 s (a loaded machine may not run
    # all three within a fixed 50 ms, as CI once found on 3.10)
    deadline = time.monotonic() + 10
    while (not all(r > b for r, b in zip(rounds, before_stop))
           and time.monotonic() < deadline):
        time.sleep(0.01)
    moved = [r > b for r, b in zip(rounds, before_stop)]
    stop.set()
    for t in threads:
        t.join()
    dump(out, {"rounds": rounds, "moved_after": moved, "hooked_after": a.hooked(),
               "main_tid": threading.get_native_id()})

elif mode == "rawbusy":
    import ctypes
    n, out = int(sys.argv[2]), sys.argv[3]
    SIZE = 12345
    stop = threading.Event()
    calls = [0, 0, 0]
    # not libc's malloc: the agent loaded here hooks GOTs, and ctypes would
    # find the real one; the raw domain's hook is the allocator's own
    libc = ctypes.CDLL(None)
    libc.PyMem_RawMalloc.restype = ctypes.c_void_p
    libc.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
    libc.PyMem_RawFree.argtypes = [ctypes.c_void_p]

    tids = [0, 0, 0]

    def raw_loop(k):
        tids[k] = threading.get_native_id()
        malloc, free = libc.PyMem_RawMalloc, libc.PyMem_RawFree
        while not stop.is_set():
            free(malloc(SIZE))
            calls[k] += 1

    threads = [threading.Thread(target=raw_loop, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    windows = []
    for i in range(n):
        with stetho.profile(memory="exact", interval_ms=5,
                            output=os.path.join(out, f"cap-{i}.stetho")):
            before = list(calls)
            time.sleep(0.005)
            after = list(calls)
        windows.append([a - b for a, b in zip(after, before)])
    stop.set()
    for t in threads:
        t.join()
    dump(out, {"size": SIZE, "windows": windows, "tids": tids,
               "hooked_after": agent().hooked()})
