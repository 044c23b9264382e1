"""Four threads each allocate a known amount, return, and are joined just
before the program ends: nothing runs between the last join and the
interpreter's exit.

    mem_joined.py [_exit]

With _exit the program ends in os._exit(0) right after the joins: no
finalization, only the agent's last flush at _exit.

Prints one JSON object first (the threads have not started: nothing the
program does after them could hide a late event): {"pid": ..., "threads":
{"alloc_K": bytes}} where alloc_K is the function thread K ran and bytes
what its bytearrays took (sys.getsizeof, measured here, on bytearrays made
outside any thread).  Thread K makes COUNT bytearrays of SIZES[K] bytes.

join() may return before the thread's last events are sent (on 3.9 it
returns as soon as the thread's state is released, before the thread's
own exit runs), so the thread's events can arrive after the main thread
has begun finalizing: issue 9's "nothing lost".
"""
import json
import os
import sys
import threading

SIZES = (123457, 234571, 345713, 457139)
COUNT = 3


def _work(k):
    return [bytearray(SIZES[k]) for _ in range(COUNT)]


def alloc_0():
    _work(0)


def alloc_1():
    _work(1)


def alloc_2():
    _work(2)


def alloc_3():
    _work(3)


FUNCS = (alloc_0, alloc_1, alloc_2, alloc_3)
print(json.dumps({"pid": os.getpid(),
                  "threads": {f.__name__: COUNT * sys.getsizeof(bytearray(SIZES[k]))
                              for k, f in enumerate(FUNCS)}}), flush=True)
threads = [threading.Thread(target=f) for f in FUNCS]
for t in threads:
    t.start()
for t in threads:
    t.join()
if sys.argv[1:] == ["_exit"]:
    os._exit(0)
