"""The reference, after a greeting on stdout ("adapter ready"): the protocol has no greeting line."""
import sys

from mm_conformance.protocol.reference import main

print("adapter ready", flush=True)
sys.exit(main())
