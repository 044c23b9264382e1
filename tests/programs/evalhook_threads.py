"""Exact mode's frame-evaluation hook (src/agent/evalhook.c) where its
state changes without the GIL.  A thread with a 256 KiB stack makes the
hook step aside (3.11+: too little C stack left for calls through it) and
never steps back; when it ends, the hook must come back for the others.
A forked child keeps only the forking thread: a thread of the parent's
that made the hook step aside must not keep it out in the child (followed:
`stetho run --subprocesses`), and a child not followed must not keep it.

    evalhook_threads.py thread | fork-aside | fork-plain

Prints one JSON object: whether the hook was in place (not the
interpreter's own evaluation) at each point; tests/e2e/test_evalhook.py."""
import json
import os
import sys
import threading

from evalframe import deep, own_evaluation


def hooked():
    return not own_evaluation()


def allocate():
    """Allocations 40 frames deep: the hook pays for itself (a trial, or
    what is owed, is asked for by a pending call, run between bytecodes)."""
    for _ in range(10):
        deep(40, 20_000)


def small_thread(report, release=None):
    def body():
        for _ in range(50):
            deep(5, 100)
        report["thread"] = hooked()
        if release is not None:
            release.wait(60)
    threading.stack_size(256 * 1024)
    t = threading.Thread(target=body)
    t.start()
    threading.stack_size(0)
    return t


def in_child(report):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        allocate()
        os.write(w, json.dumps(hooked()).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        report["child"] = json.loads(f.read())
    os.waitpid(pid, 0)


def main():
    report = {}
    allocate()
    report["main"] = hooked()
    if sys.argv[1] == "thread":
        small_thread(report).join()
        allocate()
        report["after_thread"] = hooked()
    elif sys.argv[1] == "fork-aside":
        release = threading.Event()
        t = small_thread(report, release)
        while "thread" not in report:
            deep(5, 100)
        in_child(report)
        release.set()
        t.join()
    else:
        in_child(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
