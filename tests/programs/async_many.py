"""Many asyncio tasks running a few coroutines, for `--merge-tasks`.

Usage: python async_many.py SECONDS

WORKERS tasks (asyncio's own names, Task-N) run `worker`, which spins a
little and sleeps in turn; PULLERS tasks named puller-K run `puller`, which
waits on a queue.  Ends after SECONDS and prints DONE.
"""

import asyncio
import sys
import time

WORKERS = 12
PULLERS = 3


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def worker(until):
    while time.monotonic() < until:
        spin(0.002)
        await asyncio.sleep(0.01)


async def puller(queue):
    while True:
        await queue.get()


async def main(seconds):
    until = time.monotonic() + seconds
    queue = asyncio.Queue()
    pullers = [asyncio.ensure_future(puller(queue)) for _ in range(PULLERS)]
    for k, task in enumerate(pullers):
        task.set_name(f"puller-{k}")
    await asyncio.gather(*(worker(until) for _ in range(WORKERS)))
    for task in pullers:
        task.cancel()
    print("DONE", flush=True)


asyncio.run(main(float(sys.argv[1])))
