"""`stetho dump PID [--json]` against tests/programs/parked.py.

parked.py parks threads at marker lines and reports (pid, native thread ids,
marker line numbers, and the ground-truth stacks from sys._current_frames()).
One parked process per interpreter is shared by the tests of this module.
"""

import json
import time

import pytest

from conftest import (PROGRAMS, READY_TIMEOUT, load_json_stdout,
                      note_timing, read_line_with_prefix, run, thread_states,
                      wait_all_sleeping, Spawner)

PARKED = str(PROGRAMS / "parked.py")
DUMP_TIMEOUT = 30

THREAD_NAMES = ["nested", "method", "lambda", "generator", "asyncio",
                "recursion", "main"]


class Parked:
    def __init__(self, python, proc, info, stacks):
        self.python = python
        self.proc = proc
        self.info = info
        self.stacks = stacks          # ground truth for non-main threads
        self.pid = info["pid"]
        self.file = info["file"]
        self.marks = info["marks"]
        self.tids = info["tids"]      # thread label -> native id

    def name(self, qualified, plain):
        """Expected function name: co_qualname on 3.11+, co_name before."""
        return qualified if self.python.qualnames else plain

    def line(self, mark):
        return self.marks[mark]


@pytest.fixture(scope="module")
def parked(python):
    spawner = Spawner()
    try:
        proc = spawner.popen([python.path, PARKED, "300"])
        line, earlier, _ = read_line_with_prefix(proc, b"READY ", READY_TIMEOUT)
        info = json.loads(line[len(b"READY "):])
        stacks_lines = [l for l in earlier if l.startswith(b"STACKS ")]
        assert stacks_lines, f"parked.py printed no STACKS line: {earlier!r}"
        stacks = json.loads(stacks_lines[0][len(b"STACKS "):])
        assert info["pid"] == proc.pid
        # READY is written from the line main blocks on; still, make sure every
        # thread is really asleep in the kernel before dumping.
        wait_all_sleeping(proc.pid)
        yield Parked(python, proc, info, stacks)
    finally:
        spawner.close()


@pytest.fixture(scope="module")
def dump(parked, stetho):
    """The JSON dump of the parked process (taken once, timed)."""
    t0 = time.perf_counter()
    cp = run([stetho, "dump", "--json", str(parked.pid)], timeout=DUMP_TIMEOUT)
    elapsed = time.perf_counter() - t0
    assert cp.returncode == 0, (
        f"stetho dump --json {parked.pid} exited {cp.returncode}\n"
        f"stderr: {cp.stderr.decode(errors='replace')}")
    note_timing(f"dump --json of parked.py (7 threads, 500-frame recursion) "
                f"[{parked.python.id}]", elapsed)
    print(f"dump took {elapsed * 1000:.1f} ms on {parked.python.id}")
    return load_json_stdout(cp)


def threads_by_tid(dump):
    out = {}
    for t in dump["threads"]:
        assert t["tid"] not in out, f"tid {t['tid']} reported twice"
        out[t["tid"]] = t
    return out


def frames_of(parked, dump, label):
    tid = parked.tids[label]
    by_tid = threads_by_tid(dump)
    assert tid in by_tid, (f"thread {label!r} (tid {tid}) missing from dump; "
                           f"dump has tids {sorted(by_tid)}")
    frames = by_tid[tid]["frames"]
    assert frames, f"thread {label!r} (tid {tid}) has no frames"
    return frames


def fmt(frames, limit=15):
    lines = [f"  {f.get('function')!s:40} {f.get('file')}:{f.get('line')}"
             for f in frames[:limit]]
    if len(frames) > limit:
        lines.append(f"  ... {len(frames) - limit} more")
    return "\n".join(lines)


def find_frame(frames, function, file):
    """Index of the innermost frame with this function name and file."""
    for i, f in enumerate(frames):
        if f["function"] == function and f["file"] == file:
            return i
    pytest.fail(f"no frame {function!r} in {file} among:\n{fmt(frames)}")


def check_chain(parked, frames, expected):
    """expected: [(function, mark), ...] innermost first, consecutive frames
    starting at the frame matching expected[0]."""
    i = find_frame(frames, expected[0][0], parked.file)
    for k, (function, mark) in enumerate(expected):
        assert i + k < len(frames), f"stack ends early; expected {function}:\n{fmt(frames)}"
        f = frames[i + k]
        want = (function, parked.file, parked.line(mark))
        got = (f["function"], f["file"], f["line"])
        assert got == want, (f"frame #{i + k}: got {got}, want {want} ({mark});"
                             f" stack:\n{fmt(frames)}")
    return i


# --------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------

def test_json_shape(parked, dump):
    assert dump["pid"] == parked.pid
    assert dump["python_version"] == parked.info["version"]
    assert isinstance(dump["threads"], list) and dump["threads"]
    for t in dump["threads"]:
        assert isinstance(t["tid"], int) and not isinstance(t["tid"], bool)
        assert t["name"] is None or isinstance(t["name"], str)
        assert t["holds_gil"] is None or isinstance(t["holds_gil"], bool)
        assert isinstance(t["frames"], list)
        for f in t["frames"]:
            assert isinstance(f["function"], str) and f["function"], f
            assert isinstance(f["file"], str) and f["file"], f
            assert isinstance(f["line"], int) and not isinstance(f["line"], bool), f
            assert f["line"] > 0, f


def test_all_threads_present(parked, dump):
    want = set(parked.tids.values())
    got = set(threads_by_tid(dump))
    assert got == want, (f"tids: missing {sorted(want - got)}, unexpected "
                         f"{sorted(got - want)}; labels {parked.tids}")
    # And they are the process's real kernel threads.
    assert want == set(thread_states(parked.pid))


def test_blocked_threads_do_not_hold_gil(parked, dump):
    for t in dump["threads"]:
        assert t["holds_gil"] in (False, None), (
            f"tid {t['tid']} is blocked but holds_gil={t['holds_gil']!r}")


# --------------------------------------------------------------------------
# Each parked place
# --------------------------------------------------------------------------

def test_nested_closure(parked, dump):
    frames = frames_of(parked, dump, "nested")
    i = check_chain(parked, frames, [
        (parked.name("outer.<locals>.inner", "inner"), "inner_block"),
        ("outer", "outer_call"),
    ])
    # Blocked in Event.wait: the innermost frames are threading.py's.
    assert i >= 1, f"Event.wait frames missing above inner:\n{fmt(frames)}"
    for f in frames[:i]:
        assert f["file"].endswith("threading.py"), fmt(frames)
    assert frames[i - 1]["function"] == parked.name("Event.wait", "wait"), fmt(frames)
    assert frames[0]["function"] == parked.name("Condition.wait", "wait"), fmt(frames)


def test_method(parked, dump):
    frames = frames_of(parked, dump, "method")
    i = check_chain(parked, frames, [(parked.name("Parker.method", "method"), "method_block")])
    assert i == 0, f"time.sleep is C; method must be innermost:\n{fmt(frames)}"
    assert frames[1]["function"] == parked.name("Thread.run", "run")
    assert frames[1]["file"].endswith("threading.py")


def test_lambda(parked, dump):
    frames = frames_of(parked, dump, "lambda")
    i = check_chain(parked, frames, [("<lambda>", "lambda_block")])
    assert i == 0, fmt(frames)
    assert frames[1]["function"] == parked.name("Thread.run", "run")


def test_running_generator(parked, dump):
    frames = frames_of(parked, dump, "generator")
    i = check_chain(parked, frames, [("gen_body", "gen_block"), ("gen_driver", "gen_next")])
    assert i == 0, fmt(frames)


def test_asyncio_coroutine(parked, dump):
    frames = frames_of(parked, dump, "asyncio")
    i = check_chain(parked, frames, [("async_leaf", "async_block"),
                                     ("async_root", "async_await")])
    assert i == 0, fmt(frames)
    # Below the coroutines: the event loop, then asyncio.run, then our driver.
    rest = frames[i + 2:]
    names = [f["function"] for f in rest]
    assert parked.name("BaseEventLoop.run_until_complete", "run_until_complete") in names, fmt(frames)
    assert any(f["file"].endswith("base_events.py") for f in rest), fmt(frames)
    j = find_frame(frames, "async_driver", parked.file)
    assert frames[j]["line"] == parked.line("async_run"), fmt(frames)
    assert j > names.index(parked.name("BaseEventLoop.run_until_complete",
                                       "run_until_complete")) + i + 2


def test_recursion_500_frames(parked, dump):
    frames = frames_of(parked, dump, "recursion")
    depth = parked.info["depth"]
    recurse = [k for k, f in enumerate(frames) if f["function"] == "recurse"]
    assert len(recurse) == depth, (f"{len(recurse)} recurse frames, want {depth}; "
                                   f"{len(frames)} frames total")
    assert recurse == list(range(depth)), "recurse frames are not the innermost, contiguous"
    assert frames[0]["line"] == parked.line("recurse_block"), fmt(frames)
    for k in range(1, depth):
        assert (frames[k]["file"], frames[k]["line"]) == (parked.file, parked.line("recurse_call")), \
            f"frame #{k}: {frames[k]}"
    assert (frames[depth]["function"], frames[depth]["line"]) == \
        ("recursion_driver", parked.line("recurse_start")), fmt(frames[depth:])


def test_main_thread(parked, dump):
    frames = frames_of(parked, dump, "main")
    got = [(f["function"], f["file"], f["line"]) for f in frames]
    want = [("main_wait", parked.file, parked.line("main_block")),
            ("<module>", parked.file, parked.line("main_call"))]
    assert got == want, f"main thread stack:\n{fmt(frames)}"


def test_full_stacks_match_interpreter(parked, dump):
    """Every frame of every parked thread equals what sys._current_frames()
    saw inside the process (function, file, line), threading/asyncio
    internals included."""
    problems = []
    for label, truth in parked.stacks.items():
        frames = frames_of(parked, dump, label)
        got = [[f["function"], f["file"], f["line"]] for f in frames]
        if got != truth:
            n = next((k for k, (a, b) in enumerate(zip(got, truth)) if a != b),
                     min(len(got), len(truth)))
            problems.append(f"{label}: {len(got)} frames vs {len(truth)} expected; "
                            f"first difference at #{n}: got "
                            f"{got[n] if n < len(got) else None}, want "
                            f"{truth[n] if n < len(truth) else None}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------
# Target is left alone; text output
# --------------------------------------------------------------------------

def test_dump_leaves_target_running_and_is_repeatable(parked, dump, stetho):
    cp = run([stetho, "dump", "--json", str(parked.pid)], timeout=DUMP_TIMEOUT)
    assert cp.returncode == 0, cp.stderr
    again = load_json_stdout(cp)
    states = thread_states(parked.pid)
    assert all(s not in "tT" for s in states.values()), f"target left stopped: {states}"
    assert parked.proc.poll() is None, "target died"

    def norm(d):
        return sorted((t["tid"], json.dumps(t["frames"])) for t in d["threads"])
    assert norm(again) == norm(dump), "two dumps of a parked process differ"


def test_text_dump(parked, stetho):
    cp = run([stetho, "dump", str(parked.pid)], timeout=DUMP_TIMEOUT)
    assert cp.returncode == 0, cp.stderr
    text = cp.stdout.decode("utf-8")
    for label, tid in parked.tids.items():
        assert str(tid) in text, f"thread {label} tid {tid} not in text dump"
    for fn in ["main_wait", "<module>", "outer", "inner", "method", "<lambda>",
               "gen_body", "gen_driver", "async_leaf", "async_root",
               "recurse", "recursion_driver"]:
        assert fn in text, f"function {fn!r} not in text dump"
    assert "parked.py" in text
    assert str(parked.line("main_block")) in text
    # Not JSON: that is what --json is for.
    assert not text.lstrip().startswith("{")
