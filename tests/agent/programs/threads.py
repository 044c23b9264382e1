"""Four threads allocate at once, each in its own function."""
import sys
import threading

N = 200
start = threading.Barrier(4)


def worker_0(out):
    start.wait()
    out.extend(bytearray(10_000) for _ in range(N))


def worker_1(out):
    start.wait()
    out.extend(bytearray(11_000) for _ in range(N))


def worker_2(out):
    start.wait()
    out.extend(bytearray(12_000) for _ in range(N))


def worker_3(out):
    start.wait()
    out.extend(bytearray(13_000) for _ in range(N))


def main():
    outs = [[] for _ in range(4)]
    ts = [threading.Thread(target=f, args=(o,))
          for f, o in zip((worker_0, worker_1, worker_2, worker_3), outs)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(sum(len(o) for o in outs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
