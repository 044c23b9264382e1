"""Threads in the agent, without the GIL, when the process exits.

Three daemon threads call PyMem_RawMalloc and PyMem_RawFree (the raw
domain: no GIL needed) through ctypes.CDLL, which lets the GIL go around
each call: they are inside the agent's hooks (its
per-thread chunk held) a good part of their time, and never wait for the
main thread.  The main thread waits until each has made ROUNDS pairs,
then exits: the finalization's flush takes each thread's chunk while the
thread may be half-way through an event (src/agent/chunk.c,
thread_take_until); after it the hooks only forward.
Prints the block size used.
"""
import ctypes
import sys
import threading

SIZE = 12345
ROUNDS = 3000


def raw_loop(done):
    libc = ctypes.CDLL(None)      # the interpreter's symbols too
    libc.PyMem_RawMalloc.restype = ctypes.c_void_p
    libc.PyMem_RawMalloc.argtypes = [ctypes.c_size_t]
    libc.PyMem_RawFree.argtypes = [ctypes.c_void_p]
    malloc, free = libc.PyMem_RawMalloc, libc.PyMem_RawFree
    n = 0
    while True:
        free(malloc(SIZE))
        n += 1
        if n == ROUNDS:
            done.set()


def main():
    done = [threading.Event() for _ in range(3)]
    for d in done:
        threading.Thread(target=raw_loop, args=(d,), daemon=True).start()
    for d in done:
        d.wait()
    print(SIZE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
