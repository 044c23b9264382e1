"""Allocations at known lines under known stacks, in the cases where a stack
is easy to get wrong (tests/e2e/test_stack_truth.py).

    stack_truth.py [api CAPTURE]

Without arguments the cases run as they are (under `stetho run --memory
exact`, or alone); with `api CAPTURE` they run inside `with
stetho.profile(memory="exact", output=CAPTURE)`, the agent loaded into the
running interpreter, after the threads, generators and greenlets that the
cases use were already started (their frames run below the window).

Each case allocates bytearrays at lines marked `# @alloc_...`; every
(stack, size) pair has a size of its own, so an allocation given to another
stack changes the bytes of two stacks.  What it did is printed as one JSON
object: "truth", a list of {case, stack, bytes, tid}, where a stack is the
program's own frames, root first, as [function, where, repeat] (`where`: a
`# @name` marker of this file, or a line number the interpreter itself
reported), bytes is count * sys.getsizeof(bytearray(size)), and tid the
native id of the thread that allocated; "cases", the cases run, and
"missing", the cases that could not run and why.  The output is the same
with and without stetho, the tids aside.

Loops count over lists made beforehand (no int objects are made in them).
"""
import asyncio
import json
import sys
import threading
import time

try:
    import greenlet
    GREENLET_MISSING = None
except ImportError as e:      # the test skips the greenlet case, saying why
    greenlet = None
    GREENLET_MISSING = f"greenlet is not importable in {sys.executable}: {e}"

N = 40                          # allocations per stack
ROUNDS = list(range(N))
FIVE = ROUNDS[:5]
DEEP = 3000
DEEPER = 20000                  # 3.11+ only: Python calls off the C stack
SIZE_NAMES = """site_a site_b site_c site_d site_e site_f self_1 site_g self_2 site_h
    two_1 two_2 gen_a gen_b gen_c co_a co_b deep deeper exc_try exc_except exc_fin
    exc_fin_block exc_with exc_with_exit t0_a t0_b t1_a t1_b t2_a t2_b t3_a t3_b
    gl_1 gl_2 aio_a1 aio_a2 aio_b1 aio_b2""".split()
SIZES = {name: 4096 + 1024 * i for i, name in enumerate(SIZE_NAMES)}
MAIN_TID = threading.get_native_id()
PFX = [["<module>", "mod_main"], ["main", "main_run"], ["run_cases", "run_case"]]

TRUTH = []


def expect(case, stack, size, count=N, tid=None):
    TRUTH.append({"case": case, "stack": [e if len(e) == 3 else e + [1] for e in stack],
                  "size": size, "count": count, "tid": MAIN_TID if tid is None else tid})


# ---- 1. one callee from two call sites; lines that move -------------------

def p(s):
    x = bytearray(s)  # @alloc_p
    return x


def mid(s):
    p(s)  # @mid_call


def other(s):
    y = bytearray(s)  # @alloc_other
    return y


def helper():
    return None


def two_step(s1, s2):
    a = bytearray(s1)  # @alloc_two_1
    helper()
    b = bytearray(s2)  # @alloc_two_2
    return a, b


def case_sites():
    a, b, c, d = SIZES["site_a"], SIZES["site_b"], SIZES["site_c"], SIZES["site_d"]
    e, f, s1, g = SIZES["site_e"], SIZES["site_f"], SIZES["self_1"], SIZES["site_g"]
    s2, h, t1, t2 = SIZES["self_2"], SIZES["site_h"], SIZES["two_1"], SIZES["two_2"]
    for _ in ROUNDS:            # the caller's line moves, p's frame is new each time
        p(a)  # @site_a
        p(b)  # @site_b
    for _ in ROUNDS:            # the grandparent's line moves, the parent is new
        mid(c)  # @site_c
        mid(d)  # @site_d
    for _ in ROUNDS:            # another callee's frame where p's was
        p(e)  # @site_e
        other(f)  # @site_f
    for _ in ROUNDS:            # the caller allocates itself between the calls
        z = bytearray(s1)  # @alloc_self_1
        p(g)  # @site_g
        w = bytearray(s2)  # @alloc_self_2
        p(h)  # @site_h
    for _ in ROUNDS:            # one activation's line moves past a returned call
        two_step(t1, t2)  # @site_i
    del z, w
    me = PFX + [["case_sites", None]]
    for site, size in (("site_a", a), ("site_b", b), ("site_g", g), ("site_h", h),
                       ("site_e", e)):
        expect("sites", at(me, site) + [["p", "alloc_p"]], size)
    expect("sites", at(me, "site_f") + [["other", "alloc_other"]], f)
    for site, size in (("site_c", c), ("site_d", d)):
        expect("sites", at(me, site) + [["mid", "mid_call"], ["p", "alloc_p"]], size)
    expect("sites", at(me, "alloc_self_1"), s1)
    expect("sites", at(me, "alloc_self_2"), s2)
    expect("sites", at(me, "site_i") + [["two_step", "alloc_two_1"]], t1)
    expect("sites", at(me, "site_i") + [["two_step", "alloc_two_2"]], t2)


def at(stack, where):
    """stack with its innermost frame at `where`."""
    return stack[:-1] + [[stack[-1][0], where]]


# ---- 2. a generator and a coroutine resumed from two callers --------------

def gen():
    s = yield
    while True:
        x = bytearray(s)  # @alloc_gen
        s = yield x


def drive_a(g, s):
    g.send(s)  # @drive_a


def drive_b(g, s):
    g.send(s)  # @drive_b


class Suspend:
    def __await__(self):
        return (yield)


async def co_leaf():
    s = await Suspend()
    x = bytearray(s)  # @alloc_co
    return x


async def co_root():
    while True:
        await co_leaf()  # @co_call


def drive_co_a(c, s):
    c.send(s)  # @drive_co_a


def drive_co_b(c, s):
    c.send(s)  # @drive_co_b


def setup_generators():
    g, c = gen(), co_root()
    next(g)                     # both wait for their first size
    c.send(None)
    return g, c


def case_generators(g, c):
    a, b, sc = SIZES["gen_a"], SIZES["gen_b"], SIZES["gen_c"]
    ca, cb = SIZES["co_a"], SIZES["co_b"]
    for _ in ROUNDS:
        drive_a(g, a)  # @gen_call_a
        drive_b(g, b)  # @gen_call_b
        g.send(sc)  # @gen_here
    for _ in ROUNDS:
        drive_co_a(c, ca)  # @co_call_a
        drive_co_b(c, cb)  # @co_call_b
    me = PFX + [["case_generators", None]]
    expect("generators", at(me, "gen_call_a") + [["drive_a", "drive_a"], ["gen", "alloc_gen"]], a)
    expect("generators", at(me, "gen_call_b") + [["drive_b", "drive_b"], ["gen", "alloc_gen"]], b)
    expect("generators", at(me, "gen_here") + [["gen", "alloc_gen"]], sc)
    for call, drive, size in (("co_call_a", "drive_co_a", ca), ("co_call_b", "drive_co_b", cb)):
        expect("generators", at(me, call) + [[drive, drive], ["co_root", "co_call"],
                                             ["co_leaf", "alloc_co"]], size)


# ---- 3. deep recursion -----------------------------------------------------

def rec(it, s):
    if next(it):
        return rec(it, s)  # @rec_call
    return bottom(s)  # @rec_bottom


def bottom(s):
    kept = [None] * len(FIVE)
    for i in FIVE:
        kept[i] = bytearray(s)  # @alloc_deep
    return len(kept)


def recurse(case, depth):
    levels = [1] * depth + [0]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 500)
    try:
        got = rec(iter(levels), SIZES[case])  # @deep_call
    finally:
        sys.setrecursionlimit(limit)
    expect(case, PFX + [["recurse", "deep_call"], ["rec", "rec_call", depth],
                        ["rec", "rec_bottom"], ["bottom", "alloc_deep"]], SIZES[case],
           count=got)
    return got


# ---- 4. threads, each in its own chain, at the same time --------------------

def t0_leaf(s):
    x = bytearray(s)  # @alloc_t0
    return x


def t0_outer(go, a, b):
    go.wait()  # @t0_wait
    for _ in ROUNDS:
        t0_leaf(a)  # @t0_a
        t0_leaf(b)  # @t0_b
        time.sleep(0)           # let the others run
    settle()


def t1_leaf(s):
    x = bytearray(s)  # @alloc_t1
    return x


def t1_outer(go, a, b):
    go.wait()  # @t1_wait
    for _ in ROUNDS:
        t1_leaf(a)  # @t1_a
        t1_leaf(b)  # @t1_b
        time.sleep(0)           # let the others run
    settle()


def t2_leaf(s):
    x = bytearray(s)  # @alloc_t2
    return x


def t2_outer(go, a, b):
    go.wait()  # @t2_wait
    for _ in ROUNDS:
        t2_leaf(a)  # @t2_a
        t2_leaf(b)  # @t2_b
        time.sleep(0)           # let the others run
    settle()


def t3_leaf(s):
    x = bytearray(s)  # @alloc_t3
    return x


def t3_outer(go, a, b):
    go.wait()  # @t3_wait
    for _ in ROUNDS:
        t3_leaf(a)  # @t3_a
        t3_leaf(b)  # @t3_b
        time.sleep(0)           # let the others run
    settle()


def settle():
    """Outlive the agent's chunk age (50 ms, docs/memory.md), then make an
    event: the chunk with this thread's allocations goes out now, while the
    thread runs.  Left to the thread's exit, it may reach stetho after the
    main thread's FINALIZING, and stetho drops the allocations of a chunk
    decoded after that (seen 1 run in ~40: a bug of its own, not a stack's)."""
    time.sleep(0.06)
    return bytes(16)


CHAINS = [t0_outer, t1_outer, t2_outer, t3_outer]


def setup_threads():
    """Started before the window, all four wait for `go` in their chain."""
    go = threading.Barrier(len(CHAINS) + 1)
    threads = []
    for k, outer in enumerate(CHAINS):
        t = threading.Thread(target=outer, name=f"chain{k}",
                             args=(go, SIZES[f"t{k}_a"], SIZES[f"t{k}_b"]))
        t.start()
        threads.append(t)
    return go, threads


def case_threads(go, threads):
    go.wait()                   # all four go at once and interleave (the GIL
    for t in threads:           # switches every 5 ms, allocations release it)
        t.join()
    for k, t in enumerate(threads):
        for site in "ab":
            expect("threads", [[f"t{k}_outer", f"t{k}_{site}"], [f"t{k}_leaf", f"alloc_t{k}"]],
                   SIZES[f"t{k}_{site}"], tid=t.native_id)


# ---- 5. exceptions unwinding between allocations ----------------------------

def ex_level3(s):
    x = bytearray(s)  # @alloc_ex3
    raise ValueError(len(x))


def ex_level2(s):
    ex_level3(s)  # @ex_l2


def ex_level1(s):
    ex_level2(s)  # @ex_l1


def ex_finally(s, s_block):
    try:
        ex_level1(s)  # @ex_fin_try
    finally:
        z = bytearray(s_block)  # @alloc_ex_finally
        del z


class Guard:
    line = None                 # where __exit__'s caller is, as Python says

    def __init__(self, s):
        self.s = s

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if Guard.line is None:
            Guard.line = sys._getframe(1).f_lineno
        w = bytearray(self.s)  # @alloc_guard_exit
        del w
        return True             # swallow the ValueError


def ex_with(s, s_exit):
    with Guard(s_exit):  # @ex_with
        ex_level1(s)  # @ex_with_body


def case_exceptions():
    a, b, c, d = SIZES["exc_try"], SIZES["exc_except"], SIZES["exc_fin"], SIZES["exc_fin_block"]
    e, f = SIZES["exc_with"], SIZES["exc_with_exit"]
    for _ in ROUNDS:
        try:
            ex_level1(a)  # @ex_try
        except ValueError:
            y = bytearray(b)  # @alloc_ex_except
            del y
        try:
            ex_finally(c, d)  # @ex_fin_call
        except ValueError:
            pass
        ex_with(e, f)  # @ex_with_call
    me = PFX + [["case_exceptions", None]]
    down = [["ex_level1", "ex_l1"], ["ex_level2", "ex_l2"], ["ex_level3", "alloc_ex3"]]
    expect("exceptions", at(me, "ex_try") + down, a)
    expect("exceptions", at(me, "alloc_ex_except"), b)
    fin = at(me, "ex_fin_call")
    expect("exceptions", fin + [["ex_finally", "ex_fin_try"]] + down, c)
    expect("exceptions", fin + [["ex_finally", "alloc_ex_finally"]], d)
    wth = at(me, "ex_with_call")
    expect("exceptions", wth + [["ex_with", "ex_with_body"]] + down, e)
    # 3.9 puts a with's exceptional exit on the body's line, 3.10+ on the with's
    expect("exceptions", wth + [["ex_with", Guard.line], ["Guard.__exit__", "alloc_guard_exit"]], f)


# ---- 6. greenlets switching back and forth ---------------------------------

def gl1_leaf(s):
    x = bytearray(s)  # @alloc_gl1
    return x


def gl1_body(main):
    s = main.switch()  # @gl1_start
    for _ in ROUNDS:
        gl1_leaf(s)  # @gl1_call
        s = GREENLETS[1].switch(SIZES["gl_2"])  # @gl1_switch


def gl2_leaf(s):
    x = bytearray(s)  # @alloc_gl2
    return x


def gl2_body(main):
    s = main.switch()  # @gl2_start
    for _ in ROUNDS:
        gl2_leaf(s)  # @gl2_call
        s = GREENLETS[0].switch(SIZES["gl_1"])  # @gl2_switch


GREENLETS = []


def setup_greenlets():
    """Both started before the window: each waits in its body."""
    main = greenlet.getcurrent()
    GREENLETS[:] = [greenlet.greenlet(gl1_body), greenlet.greenlet(gl2_body)]
    for g in GREENLETS:
        g.switch(main)


def case_greenlets():
    GREENLETS[0].switch(SIZES["gl_1"])      # back here when gl1_body returns
    GREENLETS[1].switch(None)               # let gl2_body end too
    assert all(g.dead for g in GREENLETS)
    # a greenlet's stack starts at its body (the switch into it is not its caller)
    expect("greenlet", [["gl1_body", "gl1_call"], ["gl1_leaf", "alloc_gl1"]], SIZES["gl_1"])
    expect("greenlet", [["gl2_body", "gl2_call"], ["gl2_leaf", "alloc_gl2"]], SIZES["gl_2"])


# ---- 7. asyncio: two tasks interleaving --------------------------------------

async def a_mid(s1, s2):
    x = bytearray(s1)  # @alloc_am1
    await asyncio.sleep(0)
    y = bytearray(s2)  # @alloc_am2
    return x, y


async def task_a():
    for _ in ROUNDS:
        await a_mid(SIZES["aio_a1"], SIZES["aio_a2"])  # @ta_call


async def b_leaf(s):
    await asyncio.sleep(0)
    x = bytearray(s)  # @alloc_bl
    return x


async def b_mid(s1, s2):
    await b_leaf(s1)  # @bm_call
    await asyncio.sleep(0)
    y = bytearray(s2)  # @alloc_bm
    return y


async def task_b():
    for _ in ROUNDS:
        await b_mid(SIZES["aio_b1"], SIZES["aio_b2"])  # @tb_call


async def both():
    await asyncio.gather(task_a(), task_b())


def case_asyncio():
    asyncio.run(both())  # @aio_run
    # a task's frames run under the event loop's (asyncio's own, not ours)
    me = PFX + [["case_asyncio", "aio_run"]]
    expect("asyncio", me + [["task_a", "ta_call"], ["a_mid", "alloc_am1"]], SIZES["aio_a1"])
    expect("asyncio", me + [["task_a", "ta_call"], ["a_mid", "alloc_am2"]], SIZES["aio_a2"])
    expect("asyncio", me + [["task_b", "tb_call"], ["b_mid", "bm_call"], ["b_leaf", "alloc_bl"]],
           SIZES["aio_b1"])
    expect("asyncio", me + [["task_b", "tb_call"], ["b_mid", "alloc_bm"]], SIZES["aio_b2"])


# ---- the run ------------------------------------------------------------------

def run_cases(cases):
    results = {}
    for name, case, args in cases:
        results[name] = case(*args)  # @run_case
    return results


def main(argv):
    missing = {}
    gens = setup_generators()
    threads = setup_threads()
    cases = [("sites", case_sites, ()), ("generators", case_generators, gens),
             ("deep", recurse, ("deep", DEEP))]
    if sys.version_info >= (3, 11):
        cases.append(("deeper", recurse, ("deeper", DEEPER)))
    else:
        missing["deeper"] = "before 3.11 every Python call recurses on the C stack"
    cases += [("threads", case_threads, threads), ("exceptions", case_exceptions, ())]
    if greenlet:
        setup_greenlets()
        cases.append(("greenlet", case_greenlets, ()))
    else:
        missing["greenlet"] = GREENLET_MISSING
    cases.append(("asyncio", case_asyncio, ()))
    if argv[:1] == ["api"]:
        import stetho
        window = stetho.profile(memory="exact", output=argv[1])
    else:
        import contextlib
        window = contextlib.nullcontext()
    with window:
        results = run_cases(cases)  # @main_run
    for t in TRUTH:
        t["bytes"] = t.pop("count") * sys.getsizeof(bytearray(t.pop("size")))
    print(json.dumps({"cases": [c[0] for c in cases], "missing": missing,
                      "results": results, "truth": TRUTH}))


main(sys.argv[1:])  # @mod_main
