"""Blocks handed between threads.  A producer allocates and hands a block
over; the consumer frees it and at once allocates one of the same size
(pymalloc gives it the address just freed), which it hands back for the
producer to free: an address comes back to the thread that allocated it
first without that thread allocating it again.  Before and after, one
thread alone makes and drops temporaries (frees the agent can match within
its chunk)."""
import queue
import sys
import threading

N = 20000


def alone():
    kept = []
    for i in range(N):
        s = str(i) * 3                  # temporaries, freed at once
        if i % 10 == 0:
            kept.append((s, i))
    return len(kept)


def producer(q1, q2):
    for i in range(N):
        q1.put(bytes(41))
        y = q2.get()
        del y


def consumer(q1, q2):
    for i in range(N):
        x = q1.get()
        del x
        q2.put(bytes(41))               # the size of x: its address, likely


def main():
    n = alone()
    q1, q2 = queue.SimpleQueue(), queue.SimpleQueue()
    ts = [threading.Thread(target=producer, args=(q1, q2)),
          threading.Thread(target=consumer, args=(q1, q2))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    n += alone()
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
