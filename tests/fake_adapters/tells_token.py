"""Answers every request with a refusal; per argv[1] it gives the token away in its 'message', its 'body',
its log as 'plain' text or as 'base64' (an Authorization: Basic header), or 'nowhere'."""
import base64
import json
import sys

for line in sys.stdin:
    request = json.loads(line)
    token = request["credential"]["accessToken"]
    where = sys.argv[1]
    message, body = "refused", {"id": "api.context.session_expired.app_error"}
    if where == "message":
        message = f"token {token} refused"
    elif where == "body":
        body["sent"] = {"headers": {"Authorization": f"Bearer {token}"}}
    elif where == "plain":
        print(f"debug: calling with {token}", file=sys.stderr, flush=True)
    elif where == "base64":
        print(f"debug: Authorization: Basic {base64.b64encode(f'user:{token}'.encode()).decode()}",
              file=sys.stderr, flush=True)
    print(json.dumps({"id": request["id"], "ok": False, "status": 401, "body": body,
                      "error": {"kind": "auth", "message": message}}), flush=True)
