"""Writes a fixed mix of binary and text to stdout and stderr."""
import sys

out = sys.stdout.buffer
for i in range(2000):
    out.write(bytes((i * 7 + k) % 256 for k in range(100)))
out.flush()
print("\nh\u00e9llo \u2713 text line", flush=True)
sys.stderr.write("to stderr: line 1\nline 2 without newline")
sys.stderr.flush()
sys.stdout.write("no trailing newline")
