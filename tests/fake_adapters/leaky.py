"""Leaks the token it receives: to stderr, then per argv[1] either exits 3 ('crash') or prints it ('garbage')."""
import json
import sys

for line in sys.stdin:
    token = json.loads(line)["credential"]["accessToken"]
    print(f"fake adapter: using token {token}", file=sys.stderr, flush=True)
    if sys.argv[1] == "crash":
        sys.exit(3)
    print(f"token={token} is what I got", flush=True)
