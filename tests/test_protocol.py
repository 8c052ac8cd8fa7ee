"""Protocol v1 codec: round trips, and a readable ProtocolViolation for every bad line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mm_conformance.protocol.wire import (
    PROTOCOL_VERSION,
    ApiRequest,
    Credential,
    ErrorKind,
    Outcome,
    ProtocolViolation,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)

TOKEN = "kq4t3ym1mjdwpqkk3bxq5bfp4a"
CREDENTIAL = Credential(TOKEN, "https://127.0.0.1:41234/", allow_unauthorized_certs=True)
EXAMPLE_ADAPTER = Path(__file__).resolve().parents[1] / "docs" / "example_adapter.py"


def test_version_is_one() -> None:
    assert PROTOCOL_VERSION == 1


def test_credential_wire_uses_n8n_field_names() -> None:
    assert CREDENTIAL.to_wire() == {
        "accessToken": TOKEN,
        "baseUrl": "https://127.0.0.1:41234/",
        "allowUnauthorizedCerts": True,
    }
    assert Credential.from_wire(CREDENTIAL.to_wire()) == CREDENTIAL
    assert Credential.from_wire({"accessToken": "", "baseUrl": "x"}).allow_unauthorized_certs is False


def test_credential_repr_never_shows_the_token() -> None:
    assert TOKEN not in repr(CREDENTIAL)
    assert TOKEN not in str(CREDENTIAL)
    assert "https://127.0.0.1:41234/" in repr(CREDENTIAL)
    assert "access_token=''" in repr(Credential("", "https://x"))  # an empty token is worth seeing


def test_test_request_round_trip() -> None:
    line = encode_request(7, "test", CREDENTIAL, "/tmp/ca.pem")
    assert "\n" not in line
    assert json.loads(line) == {
        "id": 7,
        "protocol": 1,
        "operation": "test",
        "credential": CREDENTIAL.to_wire(),
        "caFile": "/tmp/ca.pem",
    }
    assert decode_request(line + "\n") == (7, "test", CREDENTIAL, "/tmp/ca.pem", None)


def test_api_request_round_trip() -> None:
    api = ApiRequest("POST", "posts", {"page": "0"}, {"message": "héllo"})
    line = encode_request(8, "request", CREDENTIAL, None, api)
    assert line.isascii()
    wire = {"method": "POST", "endpoint": "posts", "query": {"page": "0"}, "body": {"message": "héllo"}}
    assert json.loads(line)["request"] == wire
    assert decode_request(line) == (8, "request", CREDENTIAL, None, api)


def test_malformed_credential_values_travel_unchanged() -> None:
    # Judging a credential is the implementation's job, not the codec's.
    odd = Credential("", None, allow_unauthorized_certs=False)  # type: ignore[arg-type]
    assert decode_request(encode_request(1, "test", odd, None))[2] == odd


def test_encode_request_refuses_inconsistent_arguments() -> None:
    with pytest.raises(ValueError):
        encode_request(1, "request", CREDENTIAL, None)
    with pytest.raises(ValueError):
        encode_request(1, "test", CREDENTIAL, None, ApiRequest("GET", "users/me"))
    with pytest.raises(ValueError):
        encode_request(1, "fetch", CREDENTIAL, None)


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome.success(200, {"id": "u1", "username": "alice"}),
        Outcome.success(204),
        Outcome.failure(ErrorKind.AUTH, "Invalid or expired session", status=401, body={"status_code": 401}),
        Outcome.failure(ErrorKind.TLS, "certificate verify failed"),
        Outcome.failure(ErrorKind.CONFIG, "baseUrl has no scheme"),
    ],
)
def test_response_round_trip(outcome: Outcome) -> None:
    line = encode_response(3, outcome)
    assert "\n" not in line
    assert decode_response(line) == (3, outcome)


def test_outcome_refuses_inconsistency() -> None:
    with pytest.raises(ValueError):
        Outcome(ok=True, status=200, body=None, error_kind=ErrorKind.HTTP, error_message="x")
    with pytest.raises(ValueError):
        Outcome(ok=False, status=500, body=None, error_kind=None, error_message=None)


def test_response_ignores_unknown_fields_and_missing_body() -> None:
    line = '{"id": 1, "ok": true, "status": 200, "error": null, "x-extra": 1}'
    assert decode_response(line) == (1, Outcome.success(200, None))


_DROP = object()  # a field to leave out
GOOD = {"id": 4, "ok": False, "status": 401, "body": None, "error": {"kind": "auth", "message": "no"}}


def _with(**changes: object) -> str:
    message = {**GOOD, **changes}
    return json.dumps({k: v for k, v in message.items() if v is not _DROP})


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hello", "a line that is not JSON: 'hello'"),
        ("", "a line that is not JSON: ''"),
        ("[1, 2]", "a response that is not a JSON object"),
        (_with(id=_DROP), 'a response without "id"'),
        (_with(id="4"), 'a response whose "id" is "4", not an integer'),
        (_with(id=True), 'a response whose "id" is true, not an integer'),
        (_with(ok=_DROP), 'a response without "ok"'),
        (_with(ok="false"), 'a response whose "ok" is "false", not true or false'),
        (_with(status=_DROP), 'a response without "status"'),
        (_with(status="401"), 'a response whose "status" is "401", not an HTTP status code or null'),
        (_with(status=42), 'a response whose "status" is 42, not an HTTP status code or null'),
        (_with(error=_DROP), 'a response without "error"'),
        (_with(error="auth"), 'a response whose "error" is "auth", not a JSON object or null'),
        (_with(error={"kind": "denied", "message": "no"}),
         'a response whose "error.kind" is "denied", not one of auth, http, tls, network, timeout, config'),
        (_with(error={"kind": "auth"}), 'a response whose "error" has no "message"'),
        (_with(error={"kind": "auth", "message": 3}), 'a response whose "error.message" is 3, not a string'),
        (_with(ok=True), 'a response whose "error" is an object, not null, as "ok" is true'),
        (_with(error=None), 'a response whose "error" is null, not an error object, as "ok" is false'),
    ],
)
def test_every_bad_response_is_a_readable_violation(line: str, expected: str) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        decode_response(line)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_violation_excerpt_is_short() -> None:
    with pytest.raises(ProtocolViolation) as caught:
        decode_response("x" * 10_000)
    assert len(str(caught.value)) < 200


def _request(**changes: object) -> str:
    message = json.loads(encode_request(5, "request", CREDENTIAL, None, ApiRequest("GET", "users/me")))
    message.update(changes)
    return json.dumps({k: v for k, v in message.items() if v is not _DROP})


@pytest.mark.parametrize(
    ("line", "expected", "id"),
    [
        ("{nope", "a line that is not JSON", None),
        (_request(id=_DROP), 'a request without an integer "id"', None),
        (_request(protocol=2), "request 5: unsupported protocol version 2", 5),
        (_request(protocol=_DROP), "unsupported protocol version None", 5),
        (_request(protocol=2, credential="token"), "unsupported protocol version 2", 5),  # the version first
        (_request(operation="fetch"), 'request 5: "operation" is "fetch", not one of test, request', 5),
        (_request(credential="token"), 'request 5: "credential" is "token", not a JSON object', 5),
        (_request(credential=_DROP), 'request 5: no "credential"', 5),
        (_request(credential={"baseUrl": "x"}), 'request 5: "credential" has no "accessToken"', 5),
        (_request(request=None), 'request 5: "request" is null, not a JSON object', 5),
        (_request(request=_DROP), 'request 5: no "request"', 5),
        (_request(request={"method": "GET"}), 'request 5: "request" has no "endpoint"', 5),
        (_request(request={"method": "", "endpoint": "x"}), '"request.method" is "", not a non-empty string', 5),
        (_request(request={"method": "GET", "endpoint": "x", "query": {"a\nb": 1}}),
         'request 5: "request.query.a\\nb" is 1, not a string', 5),
        (_request(caFile=3), 'request 5: "caFile" is 3, not a string or null', 5),
    ],
)
def test_every_bad_request_is_a_violation_with_its_id(line: str, expected: str, id: int | None) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        decode_request(line)
    assert expected in str(caught.value)
    assert caught.value.id == id


def test_example_adapter_answers_a_config_error() -> None:
    """docs/example_adapter.py really speaks protocol v1 (no server needed for a config error)."""
    bad = Credential(TOKEN, "mattermost.example.com")
    future = {**json.loads(encode_request(2, "test", bad, None)), "protocol": 2}
    lines = encode_request(1, "test", bad, None) + "\n" + json.dumps(future) + "\n"
    done = subprocess.run(
        [sys.executable, str(EXAMPLE_ADAPTER)], input=lines, capture_output=True, text=True, timeout=10
    )
    assert done.returncode == 0, done.stderr
    first, second = (decode_response(line) for line in done.stdout.splitlines())
    assert first[0] == 1 and first[1].error_kind is ErrorKind.CONFIG and first[1].status is None
    assert second == (2, Outcome.failure(ErrorKind.CONFIG, "unsupported protocol version"))
    assert len(EXAMPLE_ADAPTER.read_text().splitlines()) <= 45


@pytest.mark.parametrize("adapter", [[sys.executable, "-m", "mm_conformance.protocol.reference"],
                                     [sys.executable, str(EXAMPLE_ADAPTER)]], ids=["reference", "example"])
def test_a_web_page_answered_in_place_of_the_api_is_not_success(adapter: list[str], web_page_site: str) -> None:
    line = encode_request(1, "test", Credential(TOKEN, web_page_site), None) + "\n"
    done = subprocess.run(adapter, input=line, capture_output=True, text=True, timeout=20,
                          cwd=EXAMPLE_ADAPTER.parents[1])
    assert done.returncode == 0, done.stderr
    [(_, outcome)] = [decode_response(answer) for answer in done.stdout.splitlines()]
    assert outcome.error_kind is ErrorKind.HTTP and outcome.status == 200


# --- the published schema ------------------------------------------------------------------


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    from jsonschema import Draft202012Validator

    from mm_conformance.protocol.schema import SCHEMA_PATH, schema

    Draft202012Validator.check_schema(schema())
    assert SCHEMA_PATH.name == "protocol-v1.schema.json" and SCHEMA_PATH.is_file()


def _whole_schema_accepts(line: str) -> bool:
    """What an adapter author's validator says of a line, given the whole published document."""
    from jsonschema import Draft202012Validator

    from mm_conformance.protocol.schema import schema

    return Draft202012Validator(schema()).is_valid(json.loads(line))


def test_every_line_the_codec_writes_validates_against_the_whole_document() -> None:
    """Requests and responses alike: the document tells them apart by "operation"."""
    lines = [encode_request(1, "test", CREDENTIAL, "/tmp/ca.pem"),
             encode_request(2, "request", CREDENTIAL, None, ApiRequest("POST", "posts", {"a": "b"}, {"m": 1})),
             encode_request(3, "test", Credential("", None), None),  # type: ignore[arg-type]  # sent as typed
             encode_response(1, Outcome.success(200, {"id": "u1"})),
             encode_response(2, Outcome.failure(ErrorKind.TLS, "certificate verify failed"))]
    assert all(_whole_schema_accepts(line) for line in lines)
    assert not _whole_schema_accepts(_with(ok="false"))
    assert not _whole_schema_accepts(_request(protocol=2))


def test_the_examples_of_the_protocol_document_validate() -> None:
    """Every JSON example in docs/protocol.md is a line the schema accepts (the document and the schema agree)."""
    import re

    document = (EXAMPLE_ADAPTER.parent / "protocol.md").read_text()
    decoder, examples = json.JSONDecoder(), []
    for block in re.findall(r"```json\n(.*?)```", document, re.DOTALL):
        rest = block.strip()
        while rest:  # one object per line, or one over several lines
            example, end = decoder.raw_decode(rest)
            examples.append(example)
            rest = rest[end:].strip()
    assert len(examples) >= 7
    assert all(_whole_schema_accepts(json.dumps(example)) for example in examples)


def test_an_integer_written_as_4_0_is_an_integer_as_json_schema_says() -> None:
    id, outcome = decode_response(_with(id=4.0, status=401.0))
    assert (id, outcome.status) == (4, 401) and type(id) is int and type(outcome.status) is int
