"""Secret redaction: the registry, the credential-looking patterns, objects and logging."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from mm_conformance.redact import (
    REDACTED,
    RedactingFilter,
    clear_secrets,
    redact,
    redact_obj,
    register_secret,
)

TOKEN = "kq4t3ym1mjdwpqkk3bxq5bfp4a"


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()


def test_registered_secret_is_replaced_everywhere() -> None:
    register_secret(TOKEN)
    assert redact(f"a {TOKEN} b {TOKEN}") == f"a {REDACTED} b {REDACTED}"


def test_unregistered_text_is_untouched() -> None:
    assert redact(f"a {TOKEN}") == f"a {TOKEN}"


def test_short_values_are_not_registered() -> None:
    # A deliberately wrong test token like "abc" must not blank out every "abc" in the output.
    for value in ("", "x", "abc", "1234567", "   abc   "):
        register_secret(value)
    assert redact("abc 1234567 x") == "abc 1234567 x"


def test_eight_characters_is_enough() -> None:
    register_secret("12345678")
    assert redact("id 12345678") == f"id {REDACTED}"


def test_longest_secret_wins() -> None:
    register_secret("abcdefgh")
    register_secret("abcdefgh-and-more")
    assert redact("abcdefgh-and-more") == REDACTED


def test_trimmed_and_json_escaped_forms_are_redacted() -> None:
    register_secret(f"  {TOKEN}\n")
    register_secret('quote"d-secret')
    assert redact(f"got {TOKEN}") == f"got {REDACTED}"
    assert redact('{"x": "quote\\"d-secret"}') == f'{{"x": "{REDACTED}"}}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc123", f"Authorization: Bearer {REDACTED}"),
        ("authorization: token abc123", f"authorization: token {REDACTED}"),
        ("{'Authorization': 'Bearer abc123'}", f"{{'Authorization': 'Bearer {REDACTED}'}}"),
        ('{"accessToken": "abc123", "baseUrl": "https://x"}', f'{{"accessToken": "{REDACTED}", "baseUrl": "https://x"}}'),
        ("{'access_token': 'abc'}", f"{{'access_token': '{REDACTED}'}}"),
        ("GET /api/v4/users?access_token=abc123&page=0", f"GET /api/v4/users?access_token={REDACTED}&page=0"),
        ("Cookie: MMAUTHTOKEN=abc123; other=1", f"Cookie: MMAUTHTOKEN={REDACTED}; other=1"),
        ('{"accessToken": ""}', '{"accessToken": ""}'),  # "the token was empty" is worth reading
        (f"Authorization: Bearer {REDACTED}", f"Authorization: Bearer {REDACTED}"),  # idempotent
        (f'"accessToken": "{REDACTED}"', f'"accessToken": "{REDACTED}"'),
        ("the bearer of bad news", "the bearer of bad news"),
    ],
)
def test_credential_looking_values_are_redacted_even_unregistered(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_redact_obj_walks_json_like_values() -> None:
    register_secret(TOKEN)
    payload = {
        "credential": {"accessToken": "short", "baseUrl": "https://x"},
        "log": [f"sent {TOKEN}", ("tuple", TOKEN)],
        "token": {"nested": "kept as structure"},
        "password": "",
        "n": 3,
    }
    assert redact_obj(payload) == {
        "credential": {"accessToken": REDACTED, "baseUrl": "https://x"},
        "log": [f"sent {REDACTED}", ("tuple", REDACTED)],
        "token": {"nested": "kept as structure"},
        "password": "",
        "n": 3,
    }
    assert payload["credential"]["accessToken"] == "short"  # a copy, not in place


def test_logging_filter_redacts_message_args_and_traceback() -> None:
    register_secret(TOKEN)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test_redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("token %s in args", TOKEN)
        try:
            raise RuntimeError(f"boom {TOKEN}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert TOKEN not in output
    assert f"token {REDACTED} in args" in output
    assert f"RuntimeError: boom {REDACTED}" in output
