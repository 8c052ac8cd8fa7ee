"""Answers request N with id N + 1."""
import json
import sys

for line in sys.stdin:
    req = json.loads(line)
    print(json.dumps({"id": req["id"] + 1, "ok": True, "status": 200, "body": None, "error": None}), flush=True)
