"""Tells what environment it started with, then becomes the adapter it wraps (or answers ok).

    python tells_environment.py REPORT [COMMAND ...]

Appends one JSON line to REPORT as it starts: the names of its environment variables and the
SHA-256 of each value (never a value: a test looks for a secret's digest among them). Then it
execs COMMAND with the same environment (the reference, say), or answers every request ok.
"""
import hashlib
import json
import os
import sys

report, command = sys.argv[1], sys.argv[2:]
with open(report, "a", encoding="utf-8") as out:
    out.write(json.dumps({"names": sorted(os.environ),
                          "value_digests": sorted(hashlib.sha256(v.encode()).hexdigest() for v in os.environ.values())})
              + "\n")
if command:
    os.execvp(command[0], command)
for line in sys.stdin:
    request_id = json.loads(line)["id"]
    print(json.dumps({"id": request_id, "ok": True, "status": 200, "body": {}, "error": None}), flush=True)
