"""Four asyncio tasks with known awaits, for `--async` (issue 14, part 2).

Usage: python async_tasks.py SECONDS

Runs one event loop with four named tasks for SECONDS seconds:
  cpu      spin() burns CPU in 20 ms slices, yielding to the loop between
  sleeper  nap() -> asyncio.sleep(), over and over
  reader   StreamReader.read() on a connection to a local server that
           answers only at the end
  locker   waits on an asyncio.Lock main holds until the end
then cancels them and prints one line:
  MEASURED <json>  {task: {"wall": s, "cpu": s}}: each task's wall time from
                   its start to the end, and the CPU its own code used
                   (thread time measured around each slice it runs)
Before that, once every task has reached its await:
  READY <json>     pid, file, marks (line numbers of the "MARK:<name>" lines)
"""

import asyncio
import json
import os
import re
import sys
import time

SLICE = 0.02
cpu_used = {"cpu": 0.0}


def spin():
    t0 = time.thread_time()
    end = time.perf_counter() + SLICE
    while time.perf_counter() < end:  # MARK:spin
        pass
    cpu_used["cpu"] += time.thread_time() - t0


async def cpu_bound():
    while True:
        spin()  # MARK:cpu
        await asyncio.sleep(0)


async def nap():
    await asyncio.sleep(0.5)  # MARK:nap


async def sleeper():
    while True:
        await nap()  # MARK:sleeper


async def reader(port):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    await r.read(100)  # MARK:reader
    w.close()


async def locker(lock):
    async with lock:  # MARK:locker
        pass


def marks():
    found = {}
    with open(__file__) as f:
        for no, line in enumerate(f, 1):
            m = re.search(r"# MARK:(\w+)\s*$", line)
            if m:
                found[m.group(1)] = no
    return found


async def main(seconds):
    writers = []

    async def serve(r, w):
        writers.append(w)           # answered at the end only

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    lock = asyncio.Lock()
    await lock.acquire()
    start = time.perf_counter()
    tasks = {
        "cpu": asyncio.ensure_future(cpu_bound()),
        "sleeper": asyncio.ensure_future(sleeper()),
        "reader": asyncio.ensure_future(reader(port)),
        "locker": asyncio.ensure_future(locker(lock)),
    }
    for name, t in tasks.items():
        t.set_name(name)
    while not writers:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.05)
    print("READY " + json.dumps({"pid": os.getpid(), "file": os.path.abspath(__file__),
                                 "marks": marks()}), flush=True)
    await asyncio.sleep(seconds)
    wall = time.perf_counter() - start
    for w in writers:
        w.write(b"bye")
    lock.release()
    for t in tasks.values():
        t.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    srv.close()
    measured = {name: {"wall": wall, "cpu": cpu_used.get(name, 0.0)} for name in tasks}
    print("MEASURED " + json.dumps(measured), flush=True)


asyncio.run(main(float(sys.argv[1])))
