"""Answers every request with a fixed line: argv[1], or 'hello'."""
import sys

answer = sys.argv[1] if len(sys.argv) > 1 else "hello"
for _ in sys.stdin:
    print(answer, flush=True)
