"""Threads one after the other, for tests/e2e/test_threadnames.py.

"first", "second", "third" each busy for about 0.3 s, each started when the
one before has ended, so glibc hands the next one the same pthread ident
(and stack).  Prints `NAMES {json}`: name -> [ident, native id].
"""
import json
import threading
import time

seen = {}


def busy():
    me = threading.current_thread()
    seen[me.name] = [me.ident, threading.get_native_id()]
    end = time.time() + 0.3
    while time.time() < end:
        sum(range(2000))
        time.sleep(0.001)


for name in ("first", "second", "third"):
    t = threading.Thread(target=busy, name=name)
    t.start()
    t.join()
print("NAMES " + json.dumps(seen), flush=True)
