"""Replaces itself via os.execv.

  execer.py python   exec the same Python: prints "after exec", exits 6
  execer.py sh       exec /bin/sh (not Python): prints "from sh", exits 9"""
import os
import sys

print("before exec", flush=True)
if sys.argv[1] == "python":
    os.execv(sys.executable, [sys.executable, "-c",
                              "print('after exec'); raise SystemExit(6)"])
else:
    os.execv("/bin/sh", ["sh", "-c", "echo from sh; exit 9"])
