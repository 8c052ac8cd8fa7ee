"""The reference, answering without flushing: each answer waits in stdout's buffer until the adapter exits.

Its stdout is buffered whatever PYTHONUNBUFFERED says, as most languages buffer a pipe.
"""
import os
import sys

from mm_conformance.protocol.reference import call
from mm_conformance.protocol.wire import ErrorKind, Outcome, ProtocolViolation, decode_request, encode_response

out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=65536)
for line in sys.stdin:
    try:
        request_id, operation, credential, ca_file, request = decode_request(line)
        outcome = call(operation, credential, ca_file, request)
    except ProtocolViolation as violation:
        if violation.id is None:
            continue  # no id to answer: skipped, as the protocol says
        request_id, outcome = violation.id, Outcome.failure(ErrorKind.CONFIG, str(violation))
    out.write(encode_response(request_id, outcome) + "\n")  # the mistake: no flush
out.close()
