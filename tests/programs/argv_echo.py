"""Prints sys.argv as JSON (also usable as `python -m argv_echo`)."""
import json
import sys

print(json.dumps(sys.argv))
