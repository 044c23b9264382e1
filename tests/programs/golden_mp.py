"""The golden test's second capture (tests/e2e/test_golden.py): two
threads and a forked child process, each allocating and computing a
little, with a recursive function, so the capture has several threads,
several processes, memory and recursion.  Short on purpose: the capture
is committed."""
import multiprocessing
import threading
import time


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def churn(n):
    keep = []
    for i in range(n):
        block = [i] * 50
        if i % 10 == 0:
            keep.append(block)
    return keep


def child_work():
    churn(600)
    fib(20)
    time.sleep(0.05)


def worker():
    churn(400)
    fib(21)


def main():
    t = threading.Thread(target=worker, name="worker")
    t.start()
    p = multiprocessing.get_context("fork").Process(target=child_work)
    p.start()
    held = churn(800)
    time.sleep(0.1)
    p.join()
    t.join()
    print("golden done", len(held))


if __name__ == "__main__":
    main()
