"""`--async`: asyncio tasks read from outside (issue 14, part 2).

tests/programs/async_tasks.py runs four named tasks with known awaits (a
CPU-bound one, one in asyncio.sleep, one in a socket read, one on an
asyncio.Lock).  `stetho dump --async` must show each task's await chain,
innermost first, down to the program's own coroutine at its MARK line, with
what the task waits for.
"""

import json
import os
import re
import shutil

import pytest

from conftest import PROGRAMS, READY_TIMEOUT, REPO, read_line_with_prefix, run, Spawner

PROGRAM = str(PROGRAMS / "async_tasks.py")


@pytest.fixture(scope="module")
def parked(python):
    spawner = Spawner()
    try:
        proc = spawner.popen([python.path, PROGRAM, "300"])
        line, _, _ = read_line_with_prefix(proc, b"READY ", READY_TIMEOUT)
        yield json.loads(line[len(b"READY "):])
    finally:
        spawner.close()


def dump_tasks(stetho, pid):
    cp = run([stetho, "dump", "--async", "--json", str(pid)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    out = json.loads(cp.stdout)
    tasks = {t["name"]: t for t in out["tasks"]}
    return out, tasks


def chain(task):
    return [(f["function"].rsplit(".", 1)[-1], f["file"], f["line"]) for f in task["frames"]]


@pytest.mark.parametrize("name,state,leaf,own", [
    ("sleeper", "sleep", "sleep", ["nap", "sleeper"]),
    ("reader", "io", "_wait_for_data", ["reader"]),
    ("locker", "lock", "acquire", ["locker"]),
])
def test_dump_shows_each_waiting_tasks_await_chain(stetho, parked, name, state, leaf, own):
    out, tasks = dump_tasks(stetho, parked["pid"])
    assert name in tasks, sorted(tasks)
    task = tasks[name]
    assert task["state"] == state, task
    frames = chain(task)
    assert frames[0][0] == leaf, frames
    assert "asyncio" in frames[0][1], frames
    mine = [f for f in frames if f[1] == parked["file"]]
    # the program's own coroutines, innermost first, each at its await
    assert [f[0] for f in mine] == own, frames
    assert [f[2] for f in mine] == [parked["marks"][o] for o in own], frames
    # the task's thread is the loop's, the main thread
    assert task["tid"] == out["threads"][0]["tid"] == parked["pid"]


def test_dump_shows_the_cpu_task_running_or_ready(stetho, parked):
    _, tasks = dump_tasks(stetho, parked["pid"])
    task = tasks["cpu"]
    frames = chain(task)
    mine = [f for f in frames if f[1] == parked["file"]]
    if task["state"] == "running":
        assert [f[0] for f in mine] == ["spin", "cpu_bound"], frames
        assert mine[0][2] == parked["marks"]["spin"]
    else:
        assert task["state"] == "ready", task
        assert mine[-1][0] == "cpu_bound", frames


def test_dump_text_roots_each_task(stetho, parked):
    cp = run([stetho, "dump", "--async", str(parked["pid"])])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    text = cp.stdout.decode()
    for name in ("cpu", "sleeper", "reader", "locker"):
        assert f'Task "{name}"' in text, text
        assert f"    <task {name}>" in text, text
    # without --async, no tasks
    cp = run([stetho, "dump", str(parked["pid"])])
    assert b"<task" not in cp.stdout


# --- time: `stetho run --async` -------------------------------------------

SECONDS = 3.0
KINDS = {"sleeper": "wait_sleep_s", "reader": "wait_io_s", "locker": "wait_lock_s"}


@pytest.fixture(scope="module")
def recorded(stetho, python, tmp_path_factory):
    work = tmp_path_factory.mktemp("async")
    out = work / "cap.json"
    cp = run([stetho, "run", "--async", "--quiet", "--memory", "off", "-o", str(out), "--",
              python.path, PROGRAM, str(SECONDS)], cwd=work, timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    lines = [l for l in cp.stdout.splitlines() if l.startswith(b"MEASURED ")]
    assert lines, cp.stdout
    measured = json.loads(lines[0][len(b"MEASURED "):])
    profile = json.loads(out.read_text())
    return profile, measured


def by_root(profile):
    """Totals per root frame name: {name: {metric: seconds}}."""
    names = [f["function"] for f in profile["frames"]]
    roots = {}
    for st in profile["stacks"]:
        root = names[st["frames"][0]] if st["frames"] else ""
        acc = roots.setdefault(root, {})
        for k, v in st.items():
            if k.endswith("_s"):
                acc[k] = acc.get(k, 0.0) + v
    return roots


@pytest.mark.parametrize("name", sorted(KINDS))
def test_waiting_task_time_is_its_kind(recorded, name):
    profile, measured = recorded
    roots = by_root(profile)
    task = roots.get(f"<task {name}>")
    assert task, sorted(roots)
    want = measured[name]["wall"]
    assert abs(task["wall_s"] - want) <= 0.1 * want, (task, want)
    assert task[KINDS[name]] >= 0.9 * want, (task, want)
    assert task["cpu_user_s"] + task["cpu_sys_s"] <= 0.05 * want, task


def test_cpu_task_time_is_its_cpu(recorded):
    profile, measured = recorded
    roots = by_root(profile)
    task = roots.get("<task cpu>")
    assert task, sorted(roots)
    want = measured["cpu"]
    assert abs(task["wall_s"] - want["wall"]) <= 0.1 * want["wall"], (task, want)
    cpu = task["cpu_user_s"] + task["cpu_sys_s"]
    assert abs(cpu - want["cpu"]) <= 0.1 * want["cpu"], (task, want)
    # the spinning is in spin(), under cpu_bound(), under the task
    names = [f["function"] for f in profile["frames"]]
    spin = sum(st["cpu_user_s"] + st["cpu_sys_s"] for st in profile["stacks"]
               if [names[i].rsplit(".", 1)[-1] for i in st["frames"][:3]]
               == ["<task cpu>", "cpu_bound", "spin"])
    assert spin >= 0.9 * cpu, (spin, cpu)


# --- a real asyncio server from PyPI: aiohttp -------------------------------

SERVER = str(PROGRAMS / "async_server.py")
REQUESTS = 120


def has_aiohttp(python):
    return run([python.path, "-c", "import aiohttp"]).returncode == 0


def handler_time(profile, leaf):
    """Times of the stacks where the handler `slow` awaits `leaf` (innermost)."""
    names = [f["function"].rsplit(".", 1)[-1] for f in profile["frames"]]
    acc = {}
    for st in profile["stacks"]:
        fr = [names[i] for i in st["frames"]]
        if not fr or not fr[0].startswith("<task") or "slow" not in fr or fr[-1] != leaf:
            continue
        for k, v in st.items():
            if k.endswith("_s"):
                acc[k] = acc.get(k, 0.0) + v
    return acc


def test_aiohttp_handler_awaits_show_their_kind(stetho, python, tmp_path):
    if not has_aiohttp(python):
        pytest.skip(f"aiohttp is not installed for {python.path} (tests/run installs it)")
    out = tmp_path / "cap.json"
    cp = run([stetho, "run", "--async", "--quiet", "--memory", "off", "-o", str(out), "--",
              python.path, SERVER, str(REQUESTS), "20"], cwd=tmp_path, timeout=90)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    lines = [l for l in cp.stdout.splitlines() if l.startswith(b"DONE ")]
    assert lines, cp.stdout
    done = json.loads(lines[0][len(b"DONE "):])
    assert done["requests"] >= REQUESTS // 2, done
    profile = json.loads(out.read_text())
    # `await asyncio.sleep()` in the handler: sleep
    sleep = handler_time(profile, "sleep")
    want = done["requests"] * done["sleep"]
    assert sleep, "no sample of the handler in asyncio.sleep"
    assert sleep["wait_sleep_s"] >= 0.9 * sleep["wall_s"], sleep
    assert 0.6 * want <= sleep["wall_s"] <= 2.0 * want, (sleep, want)
    # `await reader.read()` of the backend's answer: io
    read = handler_time(profile, "_wait_for_data")
    want = done["requests"] * done["backend"]
    assert read, "no sample of the handler in a stream read"
    assert read["wait_io_s"] >= 0.9 * read["wall_s"], read
    assert 0.6 * want <= read["wall_s"] <= 2.5 * want, (read, want)


def test_dump_async_without_asyncio_lists_no_task(stetho, python, spawn):
    proc = spawn.popen([python.path, "-c",
                        "import sys, time; print('READY', flush=True); time.sleep(120)"])
    read_line_with_prefix(proc, b"READY", READY_TIMEOUT)
    cp = run([stetho, "dump", "--async", "--json", str(proc.pid)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    out = json.loads(cp.stdout)
    assert out["tasks"] == [] and out["threads"], out


def test_task_offsets_match_the_interpreter(python):
    """src/cpython/asyncio.c's TaskObj offsets, checked with ctypes inside."""
    tool = REPO / "tools" / "check_asyncio_offsets.py"
    cp = run([python.path, str(tool)])
    assert cp.returncode == 0, cp.stdout.decode() + cp.stderr.decode()


# --- --merge-tasks: one root per coroutine -----------------------------------

MANY = str(PROGRAMS / "async_many.py")


def record_many(stetho, python, tmp_path_factory):
    work = tmp_path_factory.mktemp("many")
    cap = work / "cap.stetho"
    cp = run([stetho, "run", "--async", "--quiet", "--memory", "off", "-o", str(cap), "--",
              python.path, MANY, "1.5"], cwd=work, timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    assert b"DONE" in cp.stdout
    return cap


@pytest.fixture(scope="module")
def many(stetho, python, tmp_path_factory):
    return record_many(stetho, python, tmp_path_factory)


@pytest.fixture(scope="module")
def many_once(stetho, one_python, tmp_path_factory):
    """The same in one interpreter: for the HTML page's filter, which reads
    the capture as every interpreter's (the `many` tests check those)."""
    return record_many(stetho, one_python, tmp_path_factory)


def collapsed(stetho, cap, metric, *opts):
    cp = run([stetho, "export", str(cap), "-f", "collapsed", "--metric", metric, *opts])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    out = {}
    for line in cp.stdout.decode().splitlines():
        stack, value = line.rsplit(" ", 1)
        out[stack] = out.get(stack, 0) + int(value)
    return out


def merged_by_hand(per_task):
    """Each `<task NAME>` root renamed `<task COROUTINE>`, COROUTINE being the
    function of the frame under it; the rest of every stack kept.  Returns
    ({stack: [values]}, {coroutine: task roots})."""
    want, tasks = {}, {}
    for stack, v in per_task.items():
        frames = stack.split(";")
        if len(frames) > 2 and frames[1].startswith("<task "):
            coro = frames[2].split(" (")[0]
            tasks.setdefault(coro, set()).add(frames[1])
            frames[1] = f"<task {coro}>"
        want.setdefault(";".join(frames), []).append(v)
    return want, tasks


@pytest.mark.parametrize("metric", ["samples", "wall"])
def test_merged_tasks_are_the_sum_of_the_tasks(stetho, many, metric):
    want, tasks = merged_by_hand(collapsed(stetho, many, metric))
    merged = collapsed(stetho, many, metric, "--merge-tasks")
    assert set(merged) == set(want)
    for stack, parts in want.items():
        # wall is printed in microseconds, each stack rounded once
        slack = 0 if metric == "samples" else len(parts)
        assert abs(merged[stack] - sum(parts)) <= slack, (stack, merged[stack], parts)
    assert len(tasks["worker"]) == 12, tasks     # the program's WORKERS
    assert len(tasks["puller"]) == 3, tasks
    assert sum(v for k, v in merged.items() if ";<task worker>;" in k) > 0


def test_a_task_waiting_on_a_queue_waits_for_a_lock(stetho, many):
    # puller() spends its life in `await queue.get()`: asyncio/queues.py
    cp = run([stetho, "export", str(many), "-f", "json"])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    pullers = {k: v for k, v in by_root(json.loads(cp.stdout)).items()
               if k.startswith("<task puller-")}
    assert len(pullers) == 3, sorted(pullers)
    for name, t in pullers.items():
        assert t["wall_s"] > 0 and t["wait_lock_s"] >= 0.9 * t["wall_s"], (name, t)


def tree_roots(stetho, cap, *opts):
    cp = run([stetho, "tree", str(cap), "--no-color", "--min-percent", "0", *opts])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    roots = {}
    for line in cp.stdout.decode().splitlines():
        # "├─ 24.012s 74.6%  <task worker>  [user ...]", a child of the thread
        parts = line.split()
        if len(parts) > 3 and parts[0] in ("├─", "└─") and parts[3].startswith("<task"):
            name = line[line.index("<task"):]
            name = name[:name.index(">") + 1]
            roots[name] = roots.get(name, 0.0) + float(parts[1].rstrip("s"))
    return roots


def test_merged_tree_has_one_root_per_coroutine(stetho, many):
    per_task = tree_roots(stetho, many)
    merged = tree_roots(stetho, many, "--merge-tasks")
    assert set(merged) == {"<task main>", "<task worker>", "<task puller>"}, merged
    pullers = [v for k, v in per_task.items() if k.startswith("<task puller-")]
    workers = [v for k, v in per_task.items() if k.startswith("<task Task-")
               and k != "<task Task-1>"]       # Task-1 runs main()
    assert len(pullers) == 3 and len(workers) == 12, per_task
    # the tree prints milliseconds: the sums agree to a rounding per task
    assert abs(merged["<task puller>"] - sum(pullers)) <= 0.001 * 3, (merged, pullers)
    assert abs(merged["<task worker>"] - sum(workers)) <= 0.001 * 12, (merged, workers)


def test_merged_tasks_in_the_table_and_speedscope(stetho, many):
    cp = run([stetho, "table", str(many), "--merge-tasks", "--limit", "0"])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    rows = [l for l in cp.stdout.decode().splitlines() if "<task" in l]
    assert [r.split()[-1] for r in rows if "<task w" in r] == ["worker>"], rows
    assert not [r for r in rows if "<task Task-" in r or "<task puller-" in r], rows
    cp = run([stetho, "export", str(many), "-f", "speedscope", "--merge-tasks"])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    doc = json.loads(cp.stdout)
    names = [f["name"] for f in doc["shared"]["frames"]]
    used = {names[i] for p in doc["profiles"] for s in p.get("samples", []) for i in s}
    assert "<task worker>" in used and "<task puller>" in used, sorted(used)
    assert not [n for n in used if n.startswith("<task Task-")], sorted(used)


def test_merged_tasks_in_pprof(stetho, many, tmp_path):
    go = shutil.which("go")
    if not go:
        pytest.skip("go tool pprof (Debian golang-go) is not installed")
    path = tmp_path / "m.pb.gz"
    cp = run([stetho, "export", str(many), "-f", "pprof", "--merge-tasks", "-o", str(path)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    env = dict(os.environ, HOME=str(tmp_path), PPROF_TMPDIR=str(tmp_path),
               GOCACHE=str(tmp_path / "gocache"))
    cp = run([go, "tool", "pprof", "-raw", str(path)], env=env, timeout=120)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    raw = cp.stdout.decode()
    samples, locations = raw.split("\nLocations\n", 1)
    # "    39: 0x0 M=1  :0 s=0(<task worker>)"; a sample's location ids
    # end with its root's
    loc = dict(re.findall(r"^\s*(\d+): .*\((<task [^)]*>)\)$", locations, re.M))
    roots = [loc.get(ids.split()[-1]) for ids in re.findall(r":((?: \d+)+) *$", samples, re.M)]
    assert "<task worker>" in roots and "<task puller>" in roots, sorted(set(map(str, roots)))
    assert not [r for r in roots if r and (r.startswith("<task Task-") or "puller-" in r)]


# --- the HTML report's filter: a task like a thread --------------------------

def test_html_filter_shows_one_task(stetho, one_python, tmp_path):
    """In one interpreter: the page's filter does not depend on it (the
    tasks each one's capture holds are checked above)."""
    from test_html import check_report
    cap = tmp_path / "cap.stetho"
    cp = run([stetho, "run", "--async", "--quiet", "--memory", "off", "-o", str(cap), "--",
              one_python.path, PROGRAM, "1.5"], cwd=tmp_path, timeout=60)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    page = tmp_path / "report.html"
    cp = run([stetho, "html", str(cap), "-o", str(page)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    result = check_report(page, "--task", "sleeper", "--func", "spin")
    got = result["task"]["totals"]
    # the task's own samples, from the capture through another path
    want = {}
    for metric in ("samples", "wall"):
        stacks = collapsed(stetho, cap, metric)
        mine = [v for k, v in stacks.items() if k.split(";")[1:2] == ["<task sleeper>"]]
        assert mine, sorted(stacks)[:5]
        want[metric] = (sum(mine), len(mine))
    assert got["samples"] == want["samples"][0], (got, want)
    # the page keeps times to 10 us per cell (at most a cell per sample),
    # collapsed prints microseconds per stack
    slack = 10 * got["samples"] + want["wall"][1]
    assert abs(got["wall"] / 1000 - want["wall"][0]) <= slack, (got, want)
    assert got["sleep"] >= 0.9 * got["wall"], got


def test_html_merged_tasks_filter(stetho, many_once, tmp_path):
    from test_html import check_report
    page = tmp_path / "report.html"
    cp = run([stetho, "html", str(many_once), "--merge-tasks", "-o", str(page)])
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    result = check_report(page, "--task", "worker", "--func", "spin")
    stacks = collapsed(stetho, many_once, "samples", "--merge-tasks")
    want = sum(v for k, v in stacks.items() if k.split(";")[1:2] == ["<task worker>"])
    assert result["task"]["totals"]["samples"] == want > 0, (result["task"], want)
