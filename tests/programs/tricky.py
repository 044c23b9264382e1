"""Parks threads in places that are hard for a remote stack walker:
line-table corner cases, unicode and very long names/paths, a line number
above 65535, and many threads.

Usage: python tricky.py [n_idle_threads] [timeout_seconds]

Writes "STACKS <json>" (ground truth from sys._current_frames(): per thread
label, [[function, file, line], ...] innermost first; function is
co_qualname on 3.11+, else co_name), then "READY <json>" with pid, version
and native thread ids, then blocks in select() on stdin until it closes.
"""

import contextlib
import functools
import json
import os
import platform
import select
import sys
import threading
import time

FOREVER = threading.Lock()
FOREVER.acquire()


def block():
    FOREVER.acquire()


# --- line-table corner cases --------------------------------------------------

def in_except():
    try:
        raise ValueError("x")
    except ValueError:
        block()


def in_finally():
    try:
        pass
    finally:
        block()


def in_with():
    with contextlib.suppress(KeyError):
        with open(os.devnull) as f:
            f.read(0)
            block()


def in_comprehension():
    return [block() for _ in range(1)]


def big_gap():
    x = 1
    # A gap of ~300 lines (no bytecode) forces multi-entry line deltas.
    # 1
    # 2
    # 3
    # 4
    # 5
    # 6
    # 7
    # 8
    # 9
    # 10
    # 11
    # 12
    # 13
    # 14
    # 15
    # 16
    # 17
    # 18
    # 19
    # 20
    # 21
    # 22
    # 23
    # 24
    # 25
    # 26
    # 27
    # 28
    # 29
    # 30
    # 31
    # 32
    # 33
    # 34
    # 35
    # 36
    # 37
    # 38
    # 39
    # 40
    # 41
    # 42
    # 43
    # 44
    # 45
    # 46
    # 47
    # 48
    # 49
    # 50
    # 51
    # 52
    # 53
    # 54
    # 55
    # 56
    # 57
    # 58
    # 59
    # 60
    # 61
    # 62
    # 63
    # 64
    # 65
    # 66
    # 67
    # 68
    # 69
    # 70
    # 71
    # 72
    # 73
    # 74
    # 75
    # 76
    # 77
    # 78
    # 79
    # 80
    # 81
    # 82
    # 83
    # 84
    # 85
    # 86
    # 87
    # 88
    # 89
    # 90
    # 91
    # 92
    # 93
    # 94
    # 95
    # 96
    # 97
    # 98
    # 99
    # 100
    # 101
    # 102
    # 103
    # 104
    # 105
    # 106
    # 107
    # 108
    # 109
    # 110
    # 111
    # 112
    # 113
    # 114
    # 115
    # 116
    # 117
    # 118
    # 119
    # 120
    # 121
    # 122
    # 123
    # 124
    # 125
    # 126
    # 127
    # 128
    # 129
    # 130
    # 131
    # 132
    # 133
    # 134
    # 135
    # 136
    # 137
    # 138
    # 139
    # 140
    # 141
    # 142
    # 143
    # 144
    # 145
    # 146
    # 147
    # 148
    # 149
    # 150
    # 151
    # 152
    # 153
    # 154
    # 155
    # 156
    # 157
    # 158
    # 159
    # 160
    # 161
    # 162
    # 163
    # 164
    # 165
    # 166
    # 167
    # 168
    # 169
    # 170
    # 171
    # 172
    # 173
    # 174
    # 175
    # 176
    # 177
    # 178
    # 179
    # 180
    # 181
    # 182
    # 183
    # 184
    # 185
    # 186
    # 187
    # 188
    # 189
    # 190
    # 191
    # 192
    # 193
    # 194
    # 195
    # 196
    # 197
    # 198
    # 199
    # 200
    # 201
    # 202
    # 203
    # 204
    # 205
    # 206
    # 207
    # 208
    # 209
    # 210
    # 211
    # 212
    # 213
    # 214
    # 215
    # 216
    # 217
    # 218
    # 219
    # 220
    # 221
    # 222
    # 223
    # 224
    # 225
    # 226
    # 227
    # 228
    # 229
    # 230
    # 231
    # 232
    # 233
    # 234
    # 235
    # 236
    # 237
    # 238
    # 239
    # 240
    # 241
    # 242
    # 243
    # 244
    # 245
    # 246
    # 247
    # 248
    # 249
    # 250
    # 251
    # 252
    # 253
    # 254
    # 255
    # 256
    # 257
    # 258
    # 259
    # 260
    # 261
    # 262
    # 263
    # 264
    # 265
    # 266
    # 267
    # 268
    # 269
    # 270
    # 271
    # 272
    # 273
    # 274
    # 275
    # 276
    # 277
    # 278
    # 279
    # 280
    # 281
    # 282
    # 283
    # 284
    # 285
    # 286
    # 287
    # 288
    # 289
    # 290
    # 291
    # 292
    # 293
    # 294
    # 295
    # 296
    # 297
    # 298
    # 299
    # 300
    x += 1
    block()
    return x


def multiline_call():
    return max(
        1,
        2,
        block(),
    )


def keyword_call():
    return sorted([3, 1], key=None, reverse=(block() or False))


def loop_back():
    def items():
        yield 1
        block()
        yield 2
    total = 0
    for item in items():
        total += item
        total *= 2
    return total


def decorate(fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        return fn(*a, **k)
    return wrapper


@decorate
def decorated():
    block()


class Outer:
    class Inner:
        @staticmethod
        def static():
            block()

        @classmethod
        def klass(cls):
            cls.static()


def nested_class():
    Outer.Inner.klass()


# Lots of bytecode before the call: large bytecode-offset deltas.
_MANY = "def many_statements():\n    x = 0\n" + "    x = x + 1\n" * 400 + "    block()\n"
exec(compile(_MANY, __file__ + "-generated-many", "exec"))  # noqa: S102


# --- names and paths ---------------------------------------------------------

LONG_NAME = "long_" + "x" * 295  # 300 characters
UNICODE_FILE = "/nonexistent/dïr with space/ünïcödé_файл_文件.py"
LONG_FILE = "/nonexistent/" + "/".join(["segment%03d" % i for i in range(60)]) + "/long.py"

_NAMES_SRC = """
def f\u00fcnf():                    # latin-1 (1-byte kind)
    block()

def \u0444\u0443\u043d\u043a\u0446\u0438\u044f():   # 2-byte kind
    f\u00fcnf()

def \U00020000_wide():               # 4-byte kind
    \u0444\u0443\u043d\u043a\u0446\u0438\u044f()

class \u041a\u043b\u0430\u0441\u0441:
    def m\u00e9thode(self):
        \U00020000_wide()

def unicode_entry():
    \u041a\u043b\u0430\u0441\u0441().m\u00e9thode()
"""
exec(compile(_NAMES_SRC, UNICODE_FILE, "exec"))  # noqa: S102

exec(compile("def %s():\n    block()\n" % LONG_NAME, LONG_FILE, "exec"))  # noqa: S102
long_named = globals()[LONG_NAME]

# A line number above 65535 (and above 16 bits) in a synthetic file.
exec(compile("\n" * 70000 + "def far_away():\n    block()\n",  # noqa: S102
             "<generated far away>", "exec"))


# --- setup ---------------------------------------------------------------------

TARGETS = {
    "in_except": in_except,
    "in_finally": in_finally,
    "in_with": in_with,
    "in_comprehension": in_comprehension,
    "big_gap": big_gap,
    "multiline_call": multiline_call,
    "keyword_call": keyword_call,
    "loop_back": loop_back,
    "decorated": decorated,
    "nested_class": nested_class,
    "many_statements": many_statements,  # noqa: F821 - defined by exec
    "unicode": unicode_entry,  # noqa: F821 - defined by exec
    "long_name": long_named,
    "far_away": far_away,  # noqa: F821 - defined by exec
}


def idle(i):
    FOREVER.acquire()


def frame_name(code):
    return getattr(code, "co_qualname", code.co_name)


def stack_of(frame):
    out = []
    while frame is not None:
        out.append([frame_name(frame.f_code), frame.f_code.co_filename, frame.f_lineno])
        frame = frame.f_back
    return out


def blocked(frame):
    return frame is not None and frame.f_code in (block.__code__, idle.__code__)


def main():
    n_idle = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 600.0
    threads = {}
    for label, fn in TARGETS.items():
        threads[label] = threading.Thread(target=fn, name=label, daemon=True)
    for i in range(n_idle):
        threads["idle%d" % i] = threading.Thread(target=idle, args=(i,), daemon=True)
    for t in threads.values():
        t.start()
    deadline = time.monotonic() + 20
    stable, last = 0, None
    while True:
        frames = sys._current_frames()
        ok = all(blocked(frames.get(t.ident)) for t in threads.values())
        snap = {k: stack_of(frames[t.ident]) for k, t in threads.items()} if ok else None
        del frames
        stable = stable + 1 if (ok and snap == last) else 0
        last = snap
        if stable >= 5:
            break
        if time.monotonic() > deadline:
            sys.exit("tricky.py: threads did not settle")
        time.sleep(0.005)
    sys.stdout.write("STACKS " + json.dumps(snap) + "\n")
    sys.stdout.flush()
    info = {"pid": os.getpid(), "version": platform.python_version(),
            "file": block.__code__.co_filename,
            "tids": {k: t.native_id for k, t in threads.items()}}
    info["tids"]["main"] = threading.get_native_id()
    os.write(1, ("READY " + json.dumps(info) + "\n").encode())
    select.select([sys.stdin], [], [], timeout)


main()
