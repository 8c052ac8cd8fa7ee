"""Keep secrets out of everything the suite prints, logs or writes into a report.

The suite handles real personal access tokens. Anything that leaves the process
(console output, log files, an adapter's stderr, report payloads, exception
messages) goes through :func:`redact` first, which removes two things:

1. **Registered secrets.** Whoever creates or receives a secret calls
   :func:`register_secret` on it; from then on every occurrence, in any text,
   becomes ``[redacted]``. The registry is process-wide because secrets travel
   between components (the admin client mints a token, an adapter echoes it).

   Values shorter than :data:`MIN_SECRET_LENGTH` (8) characters are *not*
   registered: a real token is 26 characters, while a deliberately wrong test
   token such as ``"x"`` or ``"abc"`` would otherwise be blanked out of every
   word that contains it, wrecking the output while protecting nothing.

2. **Things that look like credentials**, registered or not (belt and braces,
   for a secret nobody registered): the value in ``Authorization: Bearer <x>``
   (or ``Token <x>``), the value of an ``accessToken`` / ``access_token`` key
   in JSON, a Python ``repr`` or a query string, and an ``MMAUTHTOKEN=<x>`` cookie.
   Empty values stay visible, since "the token was empty" is useful to read.

>>> register_secret("kq4t3ym1mjdwpqkk3bxq5bfp4a")
>>> redact("sent kq4t3ym1mjdwpqkk3bxq5bfp4a")
'sent [redacted]'
>>> redact('{"accessToken": "short"}')
'{"accessToken": "[redacted]"}'
"""

from __future__ import annotations

import json
import logging
import re
import threading

REDACTED = "[redacted]"

#: Shorter values are not registered (see the module docstring for why).
MIN_SECRET_LENGTH = 8

_lock = threading.Lock()
_secrets: set[str] = set()
_longest_first: tuple[str, ...] = ()  # rebuilt on registration, read without the lock

# Keys whose values are secrets wherever they appear (redact_obj); compared case-insensitively.
_SECRET_KEYS = {"accesstoken", "access_token", "token", "authorization", "password", "mmauthtoken"}

_LOOKS_SECRET = [
    # Authorization: Bearer <x>   'authorization': 'Bearer <x>'   "Authorization":"Token <x>"   Basic <base64>
    re.compile(r"""(?i)(authorization["']?\s*[:=]\s*["']?(?:bearer|token|basic)\s+)(?!\[redacted\])([^\s"',;}\]]+)"""),
    # "accessToken": "<x>"   'access_token': '<x>'   access_token=<x>
    re.compile(
        r"""(?i)(["']?access_?token["']?\s*[:=]\s*)(?!["']?\[redacted\])"""
        r"""("(?:[^"\\]|\\.)+"|'(?:[^'\\]|\\.)+'|[^\s"'&,;}\])]+)"""
    ),
    re.compile(r"(?i)(MMAUTHTOKEN=)(?!\[redacted\])([^\s;,\"']+)"),
]


def register_secret(value: str) -> None:
    """Redact ``value`` from now on. Values under 8 characters (and non-strings) are ignored."""
    if not isinstance(value, str):
        return
    global _longest_first
    # Also the forms a secret takes when it travels: trimmed, and JSON-escaped.
    forms = {value, value.strip(), json.dumps(value)[1:-1]}
    forms = {f for f in forms if len(f) >= MIN_SECRET_LENGTH}
    if not forms:
        return
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        # Longest first, so a secret containing another is replaced whole. Plain substring search,
        # not one regular expression: compiling an alternation of every token again at each
        # registration cost more than all the searches of a run.
        _longest_first = tuple(sorted(_secrets, key=len, reverse=True))


def registered_secrets() -> frozenset[str]:
    """Every secret registered so far (for the hygiene scan at the end of a run)."""
    with _lock:
        return frozenset(_secrets)


def clear_secrets() -> None:
    """Forget every registered secret. For tests; the suite itself never forgets."""
    global _longest_first
    with _lock:
        _secrets.clear()
        _longest_first = ()


def redact(text: str) -> str:
    """``text`` with every registered secret and credential-looking value replaced by ``[redacted]``."""
    if not isinstance(text, str):
        text = str(text)
    for secret in _longest_first:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for looks_secret in _LOOKS_SECRET:
        text = looks_secret.sub(_keep_quotes, text)
    return text


def one_line(text: object, limit: int = 300) -> str:
    """``text`` fit for a message: on one line, redacted, at most ``limit`` characters."""
    flat = redact(" ".join(str(text).split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _keep_quotes(match: re.Match[str]) -> str:
    prefix, value = match.group(1), match.group(2)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{prefix}{quote}{REDACTED}{quote}"


def redact_obj(obj: object) -> object:
    """A copy of a JSON-like value (dicts, lists, tuples, strings) with secrets redacted.

    Strings go through :func:`redact`; the non-empty string value of a key that
    names a secret (``accessToken``, ``token``, ``Authorization``, ``password``, …)
    is replaced whole. Other values are returned as they are.
    """
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and key.lower() in _SECRET_KEYS and isinstance(value, str) and value
            else redact_obj(value)
            for key, value in obj.items()
        }
    if isinstance(obj, list):
        return [redact_obj(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(redact_obj(item) for item in obj)
    return obj


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message, arguments and traceback.

    Attach it to a *handler* (``handler.addFilter(RedactingFilter())``) so it sees
    records from every logger that handler serves.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # Format once here, so the handler's formatter has nothing left to leak.
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
