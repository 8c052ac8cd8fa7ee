"""Answers every request with ok 200 and echoes what it was asked (id, operation, baseUrl, request)."""
import json
import sys

for line in sys.stdin:
    req = json.loads(line)
    body = {"id": req["id"], "operation": req["operation"], "baseUrl": req["credential"]["baseUrl"],
            "request": req.get("request"), "caFile": req["caFile"]}
    print(json.dumps({"id": req["id"], "ok": True, "status": 200, "body": body, "error": None}), flush=True)
