"""Answers the first request, then writes to stderr and exits with code 3 on the second."""
import json
import sys

for n, line in enumerate(sys.stdin):
    req = json.loads(line)
    if n > 0:
        print("fake adapter: giving up", file=sys.stderr, flush=True)
        sys.exit(3)
    print(json.dumps({"id": req["id"], "ok": True, "status": 200, "body": None, "error": None}), flush=True)
