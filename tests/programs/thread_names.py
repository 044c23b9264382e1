"""Named threads for tests/e2e/test_threadnames.py.

A thread named "uploader", one named "before-rename" renamed to
"renamed-late" 0.5 s after every thread started, and a ThreadPoolExecutor with the prefix "pool",
all busy for about SECONDS (argv[1], default 2.5).  With argv[2] == "wait" it
prints READY and waits for stdin to close instead (for `stetho dump`).  Prints
`NAMES {json}`: each thread's final Python name -> its native thread id, as
the program itself sees them.
"""
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.5
WAIT = len(sys.argv) > 2 and sys.argv[2] == "wait"

ids = {}
ids_lock = threading.Lock()
stop = threading.Event()
renamed = threading.Event()


def note():
    me = threading.current_thread()
    with ids_lock:
        ids[me.name] = threading.get_native_id()


def busy(until):
    while not stop.is_set() and time.time() < until:
        sum(range(2000))
        time.sleep(0.001)


def worker(until):
    if threading.current_thread().name == "before-rename":
        renamed.wait(5)
    note()
    busy(until)


def main():
    until = time.time() + SECONDS if not WAIT else time.time() + 600
    threads = [threading.Thread(target=worker, args=(until,), name=n)
               for n in ("uploader", "before-rename")]
    for t in threads:
        t.start()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="pool") as ex:
        barrier = threading.Barrier(2)

        def pooled():
            barrier.wait(5)             # both workers exist, each runs one
            note()
            busy(until)

        futures = [ex.submit(pooled) for _ in range(2)]
        # renamed after every thread has started: only stetho's periodic
        # re-read (every second) can see the new name
        time.sleep(0.5)
        threads[1].name = "renamed-late"
        renamed.set()
        while len(ids) < 4:
            time.sleep(0.01)
        note()
        if WAIT:
            print("NAMES " + json.dumps(ids), flush=True)
            print("READY", flush=True)
            sys.stdin.read()
            stop.set()
        for f in futures:
            f.result()
    for t in threads:
        t.join()
    if not WAIT:
        print("NAMES " + json.dumps(ids), flush=True)


main()
