"""Writes lines to stdout until the reader goes away (or 2M lines: exit 3)."""
import sys

line = "y" * 99 + "\n"
for _ in range(2_000_000):
    sys.stdout.write(line)
sys.exit(3)
