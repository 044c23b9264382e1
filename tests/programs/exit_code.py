"""Prints a line and exits with the status given as argv[1]."""
import sys

print("exiting with", sys.argv[1])
sys.exit(int(sys.argv[1]))
