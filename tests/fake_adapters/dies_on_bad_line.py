"""The reference, except that a line that is not JSON kills it (json.loads' error, uncaught)."""
import json
import sys

from mm_conformance.protocol.reference import call
from mm_conformance.protocol.wire import ErrorKind, Outcome, ProtocolViolation, decode_request, encode_response

for line in sys.stdin:
    json.loads(line)  # the mistake: a line without a readable id is to be logged and skipped
    try:
        request_id, operation, credential, ca_file, request = decode_request(line)
    except ProtocolViolation as violation:  # with an id it can read: answered, as the protocol says
        print(encode_response(violation.id or 0, Outcome.failure(ErrorKind.CONFIG, str(violation))), flush=True)
        continue
    print(encode_response(request_id, call(operation, credential, ca_file, request)), flush=True)
