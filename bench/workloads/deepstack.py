"""Deep Python stacks: a recursive-descent parser and tree-walking
interpreter for nested arithmetic expressions.

Samplers that walk the whole stack on every sample pay per frame, so this
workload keeps ~150-250 Python frames live most of the time (a mix of
functions, methods, closures and a generator).  Pure Python, stdlib only.
"""

import random

import pyperf


class Num:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def eval(self, env):
        return self.value


class Var:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def eval(self, env):
        return env[self.name]


class BinOp:
    __slots__ = ("op", "left", "right")

    def __init__(self, op, left, right):
        self.op = op
        self.left = left
        self.right = right

    def eval(self, env):
        a = self.left.eval(env)
        b = self.right.eval(env)
        if self.op == "+":
            return a + b
        if self.op == "-":
            return a - b
        if self.op == "*":
            return (a * b) % 1000003
        return a // b if b else a


def tokens(text):
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isdigit():
            j = i
            while j < n and text[j].isdigit():
                j += 1
            yield ("num", int(text[i:j]))
            i = j
        elif c.isalpha():
            yield ("var", c)
            i += 1
        elif c == " ":
            i += 1
        else:
            yield ("op", c)
            i += 1
    yield ("end", None)


class Parser:
    def __init__(self, text):
        self.toks = list(tokens(text))
        self.pos = 0

    def peek(self):
        return self.toks[self.pos]

    def take(self):
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def expr(self):
        node = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            node = BinOp(op, node, self.term())
        return node

    def term(self):
        node = self.atom()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            node = BinOp(op, node, self.atom())
        return node

    def atom(self):
        kind, value = self.take()
        if kind == "num":
            return Num(value)
        if kind == "var":
            return Var(value)
        if (kind, value) == ("op", "("):
            node = self.expr()
            self.take()  # ")"
            return node
        raise SyntaxError(f"unexpected {kind} {value!r}")


def make_expr(rng, depth):
    if depth == 0:
        return str(rng.randint(1, 99)) if rng.random() < 0.7 else rng.choice("xyz")
    op = rng.choice("+-*/")
    inner = make_expr(rng, depth - 1)
    leaf = make_expr(rng, 0)
    if rng.random() < 0.5:
        return f"({inner} {op} {leaf})"
    return f"({leaf} {op} {inner})"


def run(exprs):
    total = 0

    def evaluate(text, env):
        return Parser(text).expr().eval(env)

    for i, text in enumerate(exprs):
        env = {"x": i, "y": i * 7 + 1, "z": 3}
        total += evaluate(text, env)
    return total


def main():
    runner = pyperf.Runner()
    rng = random.Random(1234)
    exprs = [make_expr(rng, 40 + (k % 3) * 10) for k in range(100)]
    runner.bench_func("deepstack", run, exprs)


if __name__ == "__main__":
    main()
