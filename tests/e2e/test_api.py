"""The Python API (python/stetho): a window of a program's own life recorded
from inside it, time by `stetho attach` on its own pid and memory by the
agent it loads itself (src/agent/inside.h); tests/programs/api_window.py is
the program.

How every interpreter imports the package: PYTHONPATH points at python/ in
the source tree and STETHO at the binary under test; the agent is found
beside it (build/libstetho_agent.so), as an installed package finds the
installed one.

Tolerances: CPU of a known burn within 25% (the machine is shared), a sleep's
wall within 0.27-0.6 s of 0.3 s; memory as tests/e2e/test_memory.py: exact
within 2%, sampled within 10% (blocks of 1 MiB, each sampled with
probability ~1 at a 64 KiB mean).
"""
import json
import os
import signal

import pytest

from conftest import PROGRAMS, REPO, kernel_has_membarrier, run

MB = 1 << 20
PROGRAM = str(PROGRAMS / "api_window.py")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:")


def api_env(stetho):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python")
    env["STETHO"] = stetho
    env.pop("STETHO_AGENT", None)
    return env


def run_api(stetho, python, tmp, *args, expect=0, timeout=120):
    cp = run([python.path, PROGRAM, *map(str, args)], cwd=tmp, env=api_env(stetho),
             timeout=timeout)
    err = cp.stderr.decode(errors="replace")
    assert cp.returncode == expect, f"status {cp.returncode}\n{err}"
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    return cp


def facts(tmp):
    with open(tmp / "facts.json") as f:
        return json.load(f)


def export(stetho, capture, tmp):
    out = tmp / "export.json"
    cp = run([stetho, "export", str(capture), "--format", "json", "-o", str(out)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    with open(out) as f:
        return json.load(f)


def functions(exp):
    return {exp["frames"][i]["function"] for s in exp["stacks"] for i in s["frames"]}


def func(exp, name):
    """Time and memory summed over the stacks in which `name` appears."""
    idx = {i for i, f in enumerate(exp["frames"]) if f["function"] == name}
    acc = {}
    for s in exp["stacks"]:
        if idx.intersection(s["frames"]):
            for k, v in s.items():
                if isinstance(v, (int, float)) and k not in ("pid", "tid"):
                    acc[k] = acc.get(k, 0) + v
    return acc


def within(got, want, tol):
    return abs(got - want) <= tol * want


@pytest.mark.parametrize("memory,tol", [("exact", 0.02), ("sampled", 0.10)])
def test_window_accuracy(stetho, python, tmp_path, memory, tol):
    run_api(stetho, python, tmp_path, "window", memory, tmp_path)
    f = facts(tmp_path)
    exp = export(stetho, tmp_path / "cap.stetho", tmp_path)
    names = functions(exp)
    # nothing from outside the window, in time or memory
    assert not {n for n in names if n.startswith("outside")}, sorted(names)
    burn = func(exp, "inside_burn")
    cpu = burn["cpu_user_s"] + burn["cpu_sys_s"]
    assert 0.4 * 0.75 <= cpu <= 0.4 * 1.25, burn
    sleep = func(exp, "inside_sleep")
    assert 0.27 <= sleep["wall_s"] <= 0.6 and sleep["wait_sleep_s"] >= 0.2, sleep
    held, temp = func(exp, "inside_alloc"), func(exp, "inside_temp")
    assert within(held["alloc_bytes"], 24 * MB, tol), held
    assert within(held["leaked_bytes"], 24 * MB, tol), held
    assert within(temp["alloc_bytes"], 16 * MB, tol), temp
    assert temp["leaked_bytes"] <= 4096 + (tol > 0.02) * 2 * MB, temp
    # 8 MiB allocated before the window and freed in it: no negative memory
    t = exp["totals"]
    assert t["leaked_bytes"] >= (1 - tol) * 24 * MB, t
    assert t["peak_heap_bytes"] >= (1 - tol) * 24 * MB, t
    assert all(s[k] >= 0 for s in exp["stacks"] for k in ("alloc_bytes", "peak_bytes",
                                                           "leaked_bytes")), t
    # the GOT: patched in the window, exactly as before after it
    assert f["hooked_in"] > 0 and f["hooked_after"] == 0, f
    assert f["digest_changed"] and f["digest_restored"], f
    # exact mode's frame-evaluation hook (src/agent/evalhook.c): in for the
    # window, and the interpreter's own evaluation back after it
    assert f["eval_default"] == [True, memory != "exact", True], f
    # exact mode's ring: mapped for the window, unmapped at its stop
    assert f["ring_mapped"] == [0, memory == "exact", 0], f
    st = f["stats"]
    for k in ("wall", "user", "sys", "wait_sleep", "wait_io", "wait_lock", "wait_gil",
              "peak_heap", "peak_rss", "allocated", "allocations", "leaked"):
        assert st[k] is not None and st[k] >= 0, (k, st)
    assert within(st["allocated"], t["alloc_bytes"], 0.0), (st, t)
    if memory == "exact":
        # small blocks made just before the stop: every one is sent (the
        # agent's nursery, src/agent/nursery.h, is written out at the end)
        small, truth = func(exp, "inside_small"), f["small"]
        assert truth["count"] <= small["alloc_count"] <= truth["count"] + 16, (small, truth)
        assert truth["bytes"] <= small["alloc_bytes"] <= truth["bytes"] + 16 * 512, (small, truth)
        assert truth["kept"] <= small["leaked_bytes"] <= truth["kept"] + 2048, (small, truth)


def test_start_stop_100_times(stetho, python, tmp_path):
    run_api(stetho, python, tmp_path, "repeat", 100, "sampled", tmp_path, timeout=300)
    f = facts(tmp_path)
    assert f["before"] == f["after"], f          # threads and descriptors
    assert f["hooked_after"] == 0 and f["digest_restored"], f
    assert f["rss_late"] - f["rss_early"] < 4 * MB, f


def test_thread_started_in_window(stetho, python, tmp_path):
    run_api(stetho, python, tmp_path, "thread", tmp_path)
    f = facts(tmp_path)
    exp = export(stetho, tmp_path / "cap.stetho", tmp_path)
    work = func(exp, "thread_work")
    assert within(work["alloc_bytes"], 12 * MB, 0.02), work
    assert work["cpu_user_s"] + work["cpu_sys_s"] >= 0.3 * 0.75, work
    tids = {s["tid"] for s in exp["stacks"]
            if any(exp["frames"][i]["function"] == "thread_work" for i in s["frames"])}
    assert tids and f["main_tid"] not in tids, (tids, f)


def test_fork_in_window(stetho, python, tmp_path):
    run_api(stetho, python, tmp_path, "fork", tmp_path)
    f = facts(tmp_path)
    assert f["status"] == 7, f
    # the child inherits the hooks, stops its own; the parent's are its own
    assert f["hooked_child"] > 0 and f["hooked_child_after"] == 0, f
    assert f["hooked_parent"] > 0 and f["hooked_after"] == 0, f
    exp = export(stetho, tmp_path / "cap.stetho", tmp_path)
    assert within(func(exp, "inside_alloc")["alloc_bytes"], 24 * MB, 0.02)
    # subprocesses=False: nothing of the child's
    assert {s["pid"] for s in exp["stacks"] if s["alloc_bytes"]} == {exp["stacks"][0]["pid"]}


def test_behaviour_unchanged_after_stop(stetho, python, tmp_path):
    with_ = run_api(stetho, python, tmp_path, "behave", "with")
    without = run_api(stetho, python, tmp_path, "behave", "without")
    assert with_.stdout == without.stdout and with_.stdout.strip()


def test_library_loaded_in_window(stetho, python, tmp_path):
    run_api(stetho, python, tmp_path, "dlopen", tmp_path)
    f = facts(tmp_path)
    if "skip" in f:
        pytest.skip(f["skip"])
    assert f["hooked_import"] > f["hooked_before"] and f["hooked_after"] == 0, f
    exp = export(stetho, tmp_path / "cap.stetho", tmp_path)
    # 8000 rows of 1000 bytes in sqlite's page cache: its own mallocs
    assert func(exp, "sqlite_work")["alloc_bytes"] >= 8 * MB


def test_subprocesses(stetho, python, tmp_path):
    """subprocesses=True: a child forked in the window records its memory, an
    exec'd child is sampled for time."""
    run_api(stetho, python, tmp_path, "children", tmp_path)
    f = facts(tmp_path)
    assert f["status"] == 0, f
    exp = export(stetho, tmp_path / "cap.stetho", tmp_path)
    forked = func(exp, "forked_child_alloc")
    assert within(forked["alloc_bytes"], 8 * MB, 0.02), forked
    pids = {s["pid"] for s in exp["stacks"]
            if any(exp["frames"][i]["function"] == "forked_child_alloc" for i in s["frames"])}
    assert pids == {f["forked"]}, (pids, f)
    burn = func(exp, "exec_child_burn")
    assert burn.get("cpu_user_s", 0) + burn.get("cpu_sys_s", 0) >= 0.4 * 0.75, burn


def test_libraries_loaded_and_unloaded_while_starting(stetho, python, tmp_path):
    """Another thread dlopens and dlcloses libraries all along while the
    recording starts and stops: no object half-loaded is patched, no
    unloaded one is written to, nothing is left hooked."""
    run_api(stetho, python, tmp_path, "dlstress", 30, tmp_path, timeout=300)
    f = facts(tmp_path)
    if not f["libs"]:
        pytest.skip("no lib-dynload shared objects in this interpreter")
    assert f["loads"] > 0 and f["hooked_after"] == 0, f


def test_windows_while_threads_allocate(stetho, python, tmp_path):
    """Each start and stop takes every thread's chunk lock (src/agent/chunk.c,
    chunks_new_session / chunks_end_session) while three threads allocate
    without a pause: nothing hangs, the threads go on after the last stop,
    and the last window (exact) has the main thread's known blocks and the
    threads' own."""
    run_api(stetho, python, tmp_path, "busy", 12, tmp_path, timeout=300)
    f = facts(tmp_path)
    assert all(f["moved_after"]) and min(f["rounds"]) > 0, f
    assert f["hooked_after"] == 0, f
    exp = export(stetho, tmp_path / "cap.stetho", tmp_path)
    known = func(exp, "main_known")
    assert within(known["alloc_bytes"], 10 * 100_000, 0.01), known
    tids = {s["tid"] for s in exp["stacks"] if s.get("alloc_bytes", 0) > 0
            and any(exp["frames"][i]["function"] == "busy_alloc" for i in s["frames"])}
    assert tids and f["main_tid"] not in tids, (tids, f)


ERRORS = r"""
import os, sys, stetho
def expect(exc, what, f):
    try:
        f()
    except exc as e:
        print(what, "|", e)
    else:
        print(what, "| no exception")
p = stetho.Profiler(memory="exact")
expect(stetho.StethoError, "stop-before-start", p.stop)
with stetho.profile(memory="exact"):
    expect(stetho.StethoError, "nested", stetho.profile(memory="off").start)
expect(stetho.StethoError, "stop-twice", p.stop)
expect(ValueError, "bad-memory", lambda: stetho.profile(memory="lots"))
expect(ValueError, "bad-threads", lambda: stetho.profile(threads="some"))
expect(stetho.StethoError, "results-before", p.stats)
with stetho.profile(memory="off") as q:
    pass
print("after-nested-ok", q.stats()["duration"] > 0)
"""


def test_errors(stetho, python, tmp_path):
    cp = run([python.path, "-c", ERRORS], cwd=tmp_path, env=api_env(stetho))
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    out = dict(line.split(" | ", 1) if " | " in line else (line, "")
               for line in cp.stdout.decode().splitlines())
    assert "not running" in out["stop-before-start"], out
    assert "do not nest" in out["nested"], out
    assert "not running" in out["stop-twice"], out
    assert "memory must be" in out["bad-memory"], out
    assert "threads must be" in out["bad-threads"], out
    assert "start() and stop() first" in out["results-before"], out
    assert "after-nested-ok True" in out, out


def test_ptrace_refused_says_how_to_fix(python, tmp_path):
    """Where the sampler may not read the process, one clear error: the
    sampler's own line and the fix.  (This machine has no Yama to refuse:
    a stand-in stetho refuses as the real one does, target.c's message.)"""
    fake = tmp_path / "stetho"
    fake.write_text("#!/bin/sh\nread go\necho 'stetho: no permission to read process 1: "
                    "ptrace is restricted (kernel.yama.ptrace_scope=1)' >&2\nexit 2\n")
    fake.chmod(0o755)
    code = ("import stetho\ntry:\n    stetho.profile(memory='off').start()\n"
            "except stetho.StethoError as e:\n    print('ERR', e)\n")
    cp = run([python.path, "-c", code], cwd=tmp_path, env=api_env(str(fake)))
    out = cp.stdout.decode()
    assert cp.returncode == 0 and out.startswith("ERR stetho: no permission"), out
    assert "ptrace_scope=0" in out and "SYS_PTRACE" in out, out


@pytest.mark.parametrize("membarrier", [True, False], ids=["membarrier", "lock-word"])
def test_windows_while_threads_are_inside_the_agent(stetho, python, tmp_path, membarrier):
    """Each start and stop takes every thread's chunk (chunk.c,
    thread_take_until) while three threads are inside the agent's hooks a
    good part of their time (PyMem_RawMalloc and PyMem_RawFree through
    ctypes, no GIL).  The owners enter with a plain store, the taker's
    membarrier doing the rest (agent.h, thread_enter), or with the lock
    word as where membarrier is missing.  In every window each thread's
    calls made between two reads of its counter inside the window are all
    there, under its own thread id (one may have begun before the hooks
    went in), and no more than one block a thread is left live: no chunk
    sent half-written, no event lost to a start's reset or a stop's
    flush.  A thread that made fewer than two calls in a window (no CPU
    for 5 ms on a loaded machine) has nothing to check there."""
    env = api_env(stetho)
    env.pop("STETHO_AGENT_NO_MEMBARRIER", None)
    if membarrier:
        assert kernel_has_membarrier(), "no membarrier(2): the fast way is not tested"
    else:
        env["STETHO_AGENT_NO_MEMBARRIER"] = "1"
    n = 40
    cp = run([python.path, PROGRAM, "rawbusy", str(n), str(tmp_path)], cwd=tmp_path, env=env,
             timeout=300)
    err = cp.stderr.decode(errors="replace")
    assert cp.returncode == 0, err
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    f = facts(tmp_path)
    assert f["hooked_after"] == 0, f
    size, tids = f["size"], f["tids"]
    checked = 0
    for i, counted in enumerate(f["windows"]):
        exp = export(stetho, tmp_path / f"cap-{i}.stetho", tmp_path)
        idx = {j for j, fr in enumerate(exp["frames"]) if fr["function"] == "raw_loop"}
        got, leaked = {}, {}
        for s in exp["stacks"]:
            if idx.intersection(s["frames"]):
                got[s["tid"]] = got.get(s["tid"], 0) + s["alloc_bytes"]
                leaked[s["tid"]] = leaked.get(s["tid"], 0) + s["leaked_bytes"]
        assert set(got) <= set(tids), (i, sorted(got), tids)
        for tid, calls in zip(tids, counted):
            if calls < 2:
                continue
            checked += 1
            # its counted calls' blocks (its Python ints on top), but one: a
            # call may have read the allocator before the hooks went in
            assert got.get(tid, 0) >= size * (calls - 1), (i, tid, got.get(tid), calls)
            assert leaked.get(tid, 0) <= size + 4096, (i, tid, leaked.get(tid))
    assert checked >= n, f"only {checked} thread-windows had two calls or more"
