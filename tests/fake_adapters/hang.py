"""Reads requests and never answers (and ignores stdin closing)."""
import sys
import time

sys.stdin.readline()
time.sleep(3600)
