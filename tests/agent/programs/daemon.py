"""Daemon threads still allocating when the main thread exits.

The main thread waits until every daemon thread has allocated, then exits
at once: the threads are mid-allocation at exit, and the stream stays
short (a long one only costs the test's decoder time, not coverage).
"""
import sys
import threading


def spin(started):
    x = [bytearray(1000) for _ in range(100)]
    started.set()
    while True:
        x = [bytearray(1000) for _ in range(100)]
        del x


def main():
    events = [threading.Event() for _ in range(3)]
    for e in events:
        threading.Thread(target=spin, args=(e,), daemon=True).start()
    for e in events:
        e.wait()
    print("bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
