#!/usr/bin/env python3
"""Check src/cpython/asyncio.c's TaskObj offsets against a live interpreter.

Usage: python3.X tools/check_asyncio_offsets.py

Run with the interpreter to check: it parses the LAYOUTS table of
src/cpython/asyncio.c, makes a pending task, and compares the words at
id(task) + offset (ctypes) with id() of what the task holds: its
_fut_waiter, its coroutine, its name, its state (pending, then finished)
and _asyncio.Task's size.  Prints
one line per check; exits 1 if one fails, 2 if the version has no row.
"""

import asyncio
import ctypes
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "cpython",
                   "asyncio.c")


def row(minor):
    text = open(SRC).read()
    for m in re.finditer(r"\{\s*(\d+),\s*\"(\w+)\",\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+),",
                         text):
        if int(m.group(1)) == minor:
            size, state, waiter, coro, name = (int(m.group(i)) for i in range(3, 8))
            return m.group(2), size, state, waiter, coro, name
    return None


async def check(layout):
    registry, size, state, waiter, coro, name = layout
    word = lambda obj, off: ctypes.c_uint64.from_address(id(obj) + off).value

    async def inner():
        await asyncio.sleep(0.2)

    task = asyncio.ensure_future(inner())
    task.set_name("checked")
    await asyncio.sleep(0.01)
    import _asyncio
    results = [
        ("tp_basicsize", _asyncio.Task.__basicsize__ == size),
        ("task is _asyncio.Task", type(task) is _asyncio.Task),
        ("fut_state pending", word(task, state) & 0xffffffff == 0),
        ("task_fut_waiter", word(task, waiter) == id(task._fut_waiter)),
        ("task_coro", word(task, coro) == id(task.get_coro())),
        ("task_name", word(task, name) == id(task.get_name())),
        ("registry asyncio.tasks." + registry, hasattr(sys.modules["asyncio.tasks"], registry)),
    ]
    await task
    results.append(("fut_state finished", word(task, state) & 0xffffffff == 2))
    return results


def main():
    layout = row(sys.version_info[1]) if sys.version_info[0] == 3 else None
    if not layout:
        print(f"no offsets for Python {sys.version.split()[0]}")
        return 2
    ok = True
    for what, good in asyncio.run(check(layout)):
        print(f"{'ok' if good else 'WRONG'}  {what}")
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
