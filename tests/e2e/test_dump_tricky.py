"""`stetho dump` on stacks that are hard for a remote walker (line-table
corner cases, unicode / very long names and paths, line > 65535, many
threads) and on a target whose threads are running, not parked."""

import json

import pytest

from conftest import (PROGRAMS, READY_TIMEOUT, Spawner, load_json_stdout,
                      read_line_with_prefix, run, thread_states,
                      wait_all_sleeping)

TRICKY = str(PROGRAMS / "tricky.py")
CHURN = str(PROGRAMS / "churn.py")
N_IDLE = 64
DUMP_TIMEOUT = 30


@pytest.fixture(scope="module")
def tricky(python):
    spawner = Spawner()
    try:
        proc = spawner.popen([python.path, TRICKY, str(N_IDLE), "300"])
        line, earlier, _ = read_line_with_prefix(proc, b"READY ", READY_TIMEOUT)
        info = json.loads(line[len(b"READY "):])
        stacks = json.loads([l for l in earlier if l.startswith(b"STACKS ")][0][7:])
        wait_all_sleeping(proc.pid)
        yield info, stacks
    finally:
        spawner.close()


@pytest.fixture(scope="module")
def tricky_dump(tricky, stetho):
    info, _ = tricky
    cp = run([stetho, "dump", "--json", str(info["pid"])], timeout=DUMP_TIMEOUT)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")
    return load_json_stdout(cp)


def by_tid(dump):
    return {t["tid"]: t for t in dump["threads"]}


def triples(thread):
    return [[f["function"], f["file"], f["line"]] for f in thread["frames"]]


def test_many_threads_all_present(tricky, tricky_dump):
    info, _ = tricky
    want = set(info["tids"].values())
    got = [t["tid"] for t in tricky_dump["threads"]]
    assert len(got) == len(set(got)), "duplicate tids"
    assert set(got) == want, f"missing {sorted(want - set(got))}, extra {sorted(set(got) - want)}"
    assert len(want) == len(thread_states(info["pid"]))


@pytest.mark.parametrize("label", [
    "in_except", "in_finally", "in_with", "in_comprehension", "big_gap",
    "multiline_call", "keyword_call", "loop_back", "decorated", "nested_class",
    "many_statements", "unicode", "long_name", "far_away", "idle0"])
def test_stack_matches_interpreter(tricky, tricky_dump, label):
    info, stacks = tricky
    t = by_tid(tricky_dump).get(info["tids"][label])
    assert t is not None, f"thread {label} missing"
    got, want = triples(t), stacks[label]
    assert got == want, (f"{label}:\n got  {json.dumps(got[:8], ensure_ascii=False)}"
                         f"\n want {json.dumps(want[:8], ensure_ascii=False)}")


def test_unicode_names_and_paths(tricky, tricky_dump, python):
    info, _ = tricky
    frames = by_tid(tricky_dump)[info["tids"]["unicode"]]["frames"]
    names = [f["function"] for f in frames]
    meth = "\u041a\u043b\u0430\u0441\u0441.m\u00e9thode" if python.qualnames else "m\u00e9thode"
    for n in ["f\u00fcnf", "\u0444\u0443\u043d\u043a\u0446\u0438\u044f",
              "\U00020000_wide", meth, "unicode_entry"]:
        assert n in names, f"{n!r} not among {names!r}"
    assert frames[1]["file"] == "/nonexistent/d\u00efr with space/\u00fcn\u00efc\u00f6d\u00e9_\u0444\u0430\u0439\u043b_\u6587\u4ef6.py"


def test_long_name_and_path_not_truncated(tricky, tricky_dump):
    info, _ = tricky
    f = by_tid(tricky_dump)[info["tids"]["long_name"]]["frames"][1]
    assert f["function"] == "long_" + "x" * 295
    assert f["file"].endswith("/segment059/long.py") and len(f["file"]) > 600


def test_line_above_65535(tricky, tricky_dump):
    info, _ = tricky
    f = by_tid(tricky_dump)[info["tids"]["far_away"]]["frames"][1]
    assert (f["function"], f["file"], f["line"]) == ("far_away", "<generated far away>", 70002)


def test_text_dump_unicode(tricky, stetho):
    info, _ = tricky
    cp = run([stetho, "dump", str(info["pid"])], timeout=DUMP_TIMEOUT)
    assert cp.returncode == 0, cp.stderr
    text = cp.stdout.decode("utf-8")  # must be valid UTF-8
    for s in ["f\u00fcnf", "\u0444\u0443\u043d\u043a\u0446\u0438\u044f",
              "\U00020000_wide", "70002", "long_" + "x" * 295]:
        assert s in text, f"{s!r} missing from text dump"


# --------------------------------------------------------------------------
# Running (not parked) target
# --------------------------------------------------------------------------

CHURN_FUNCS = {"spin", "descend", "churn_loop"}
THREADING_FUNCS = {"run", "_bootstrap_inner", "_bootstrap",
                   "Thread.run", "Thread._bootstrap_inner", "Thread._bootstrap"}


def rle(names):
    """['a', 'a', 'b'] -> 'a x2, b' (compact stacks in messages)."""
    out = []
    for n in names:
        if out and out[-1][0] == n:
            out[-1][1] += 1
        else:
            out.append([n, 1])
    return ", ".join(n if c == 1 else f"{n} x{c}" for n, c in out)


def test_dump_running_threads(python, stetho):
    """Dumps of a process whose threads are busy: every dump succeeds, every
    thread is there, every frame is a plausible frame of that program, and
    at most one thread holds the GIL."""
    spawner = Spawner()
    try:
        proc = spawner.popen([python.path, CHURN, "3", "120"])
        line, _, _ = read_line_with_prefix(proc, b"READY ", READY_TIMEOUT)
        info = json.loads(line[len(b"READY "):])
        problems = []
        for attempt in range(10):
            cp = run([stetho, "dump", "--json", str(info["pid"])], timeout=DUMP_TIMEOUT)
            if cp.returncode != 0:
                problems.append(f"dump #{attempt}: status {cp.returncode}: "
                                f"{cp.stderr.decode(errors='replace').strip()}")
                continue
            d = load_json_stdout(cp)
            threads = by_tid(d)
            missing = set(info["churn_tids"] + [info["main_tid"]]) - set(threads)
            if missing:
                problems.append(f"dump #{attempt}: missing tids {sorted(missing)}")
            gil = [t["tid"] for t in d["threads"] if t["holds_gil"] is True]
            if len(gil) > 1:
                problems.append(f"dump #{attempt}: several threads hold the GIL: {gil}")
            for tid in info["churn_tids"]:
                fr = threads.get(tid, {}).get("frames", [])
                names = [f["function"] for f in fr]
                if not fr or names[-1] not in THREADING_FUNCS or "churn_loop" not in names:
                    problems.append(f"dump #{attempt}: tid {tid}: implausible stack [{rle(names)}]"
                                    f" lines {[f['line'] for f in fr if not f['line'] > 0]}")
                    continue
                k = names.index("churn_loop")
                bad = [f for f in fr[:k + 1] if f["function"] not in CHURN_FUNCS
                       or f["file"] != info["file"] or f["line"] <= 0]
                if bad:
                    problems.append(f"dump #{attempt}: tid {tid}: bad frames {bad[:3]}")
                if any(n != "descend" for n in names[1:k]):
                    problems.append(f"dump #{attempt}: tid {tid}: impossible stack [{rle(names[:k + 1])}]"
                                    " (spin never calls descend)")
        states = thread_states(info["pid"])
        assert all(s not in "tT" for s in states.values()), f"target left stopped: {states}"
        assert proc.poll() is None, "target died"
        assert not problems, "\n".join(problems)
    finally:
        spawner.close()
