"""Allocates known amounts in known functions and writes its own truth.

    mem_known.py TRUTH.json [baseline]

Each workload function allocates what it says and nothing big besides; the
truth file holds, per function, the bytes it allocated ("alloc"), the bytes
it still held when the 200 MB spike defined the heap's peak ("peak"), the
bytes it still held when the program ended ("leak") and the typical size of
one of its allocations ("block"), computed by the program itself
(sys.getsizeof, ndarray.nbytes, the sizes it asked libc for).

The functions are called one after the other from module level and never
call each other, so an allocation made while one of them is on the stack is
that function's.  The loop avoids creating int objects (ints above 256 are
allocated): it iterates over a list of ints prepared at module level.

"baseline" does the same imports and set-up, then exits without the
workloads: its heap is the interpreter's own baseline.
"""
import ctypes
import gc
import json
import os
import sys

MB = 1 << 20
N_OBJECTS = 10_000
OBJ_SIZE = 1_000
BYTEARRAY = 50 * MB
CTYPES_BUF = 20 * MB
LIBC = 30 * MB
NUMPY_ELEMS = 5 * MB            # float64: 40 MB
LEAK = 8 * MB
TEMP = 8 * MB
SPIKE = 200 * MB

try:
    import numpy
except ImportError:  # reported in the truth file; the test skips that part loudly
    numpy = None

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.restype = None
libc.free.argtypes = [ctypes.c_void_p]
ctypes.memset  # resolved now, not inside a workload

LEAKED = []                     # leaker() appends here and nothing removes it
truth = {}


def note(name, alloc, peak, leak, block=None):
    """block: the typical size of one allocation (for the sampling's variance)."""
    truth[name] = {"alloc": alloc, "peak": peak, "leak": leak, "block": block or alloc}


def make_objects():
    lst = [None] * N_OBJECTS
    for i in INDICES:
        lst[i] = bytes(OBJ_SIZE)
    return lst


def make_bytearray():
    return bytearray(BYTEARRAY)


def make_ctypes_buffer():
    return ctypes.create_string_buffer(CTYPES_BUF)


def libc_malloc():
    p = libc.malloc(LIBC)
    ctypes.memset(p, 1, LIBC)
    return p


def libc_free(p):
    libc.free(p)


def make_numpy():
    return numpy.ones(NUMPY_ELEMS)


def leaker():
    LEAKED.append(bytearray(LEAK))


def freer():
    b = bytearray(TEMP)
    del b


def spike():
    b = bytearray(SPIKE)
    del b


INDICES = list(range(N_OBJECTS))
gc.disable()                    # no collection in the middle of a measure

if sys.argv[2:] == ["baseline"]:
    with open(sys.argv[1], "w") as f:
        json.dump({"baseline": True}, f)
    sys.exit(0)

# The sizes are measured at module level, outside the functions, so that the
# measuring (int objects, bound methods) is not counted in the functions.
objs = make_objects()
size = sys.getsizeof(objs) + sum(map(sys.getsizeof, objs))
note("make_objects", size, size, 0, block=sys.getsizeof(objs[0]))
ba = make_bytearray()
size = sys.getsizeof(ba)
note("make_bytearray", size, size, 0)
cbuf = make_ctypes_buffer()
size = ctypes.sizeof(cbuf)      # the buffer; the object and its array type are a few KB more
note("make_ctypes_buffer", size, size, 0)
ptr = libc_malloc()
note("libc_malloc", LIBC, LIBC, 0)
if numpy is not None:
    arr = make_numpy()
    size = arr.nbytes
    note("make_numpy", size, size, 0)
leaker()
size = sys.getsizeof(LEAKED[-1])
note("leaker", size, size, size)
freer()
size = sys.getsizeof(bytearray(0)) + TEMP + 1   # what sys.getsizeof(bytearray(TEMP)) says
note("freer", size, 0, 0)

spike()                         # the heap's peak: everything above is live
size = sys.getsizeof(bytearray(0)) + SPIKE + 1
note("spike", size, size, 0)
live_at_peak = sum(v["peak"] for v in truth.values())

del objs, ba, cbuf
libc_free(ptr)
if numpy is not None:
    del arr

with open(sys.argv[1], "w") as f:
    json.dump({"functions": truth, "live_at_peak": live_at_peak,
               "numpy": numpy.__version__ if numpy is not None else None,
               "pid": os.getpid()}, f)
print("done", flush=True)
