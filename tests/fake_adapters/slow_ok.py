"""Prints a blank line (to be ignored), waits 0.5 s, then answers ok with an auth error."""
import json
import sys
import time

for line in sys.stdin:
    req = json.loads(line)
    print(flush=True)
    time.sleep(0.5)
    error = {"kind": "auth", "message": "Invalid or expired session, please login again."}
    print(json.dumps({"id": req["id"], "ok": False, "status": 401, "body": {"status_code": 401}, "error": error}),
          flush=True)
