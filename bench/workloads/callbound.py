"""Call-bound: nearly every operation is a call -- small functions,
methods, a class instantiated per step (its __init__ called from C), a
generator, recursion, and builtins and C methods (len, list.append,
dict.get, isinstance).

Deterministic profilers (cProfile, yappi, `stetho run --calls`) pay per
call, so this is their worst case: their cost on it is the per-call
floor, where the pyperformance programs mix calls with other work.
Pure Python, stdlib only.
"""

import pyperf


class P:
    def __init__(self, x):
        self.x = x

    def get(self):
        return self.x

    def add(self, o):
        return P(self.x + o.get())


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def gen(n):
    for i in range(n):
        yield i


def small(a, b):
    return a + b


def work(n):
    acc = 0
    lst = []
    d = {}
    p = P(0)
    for i in range(n):
        acc = small(acc, i)
        p = p.add(P(1))
        lst.append(len(lst))
        d.get(i, 0)
        isinstance(p, P)
    acc += sum(gen(n))
    return acc + fib(18) + p.get()


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.bench_func("callbound", work, 20000)
