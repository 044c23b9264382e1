"""`--async`: asyncio tasks read from outside (issue 14, part 2).

tests/programs/async_tasks.py runs four named tasks with known awaits (a
CPU-bound one, one in asyncio.sleep, one in a socket read, one on an
asyncio.Lock).  `stetho dump --async` must show each task's await chain,
innermost first, down to the program's own coroutine at its MARK line, with
what the task waits for.
"""

import json

import pytest

from conftest import PROGRAMS, READY_TIMEOUT, read_line_with_prefix, run, Spawner

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
