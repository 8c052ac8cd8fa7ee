"""The reference, which then stays when its stdin closes (a timer or a socket left open, say)."""
import time

from mm_conformance.protocol.reference import main

main()
time.sleep(3600)
