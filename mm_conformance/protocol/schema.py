"""Protocol v1 as a JSON Schema: the one statement of what a request and a response may hold.

``protocol-v1.schema.json`` beside this module (in the wheel too) is published for adapter
authors in any language; :data:`SCHEMA_PATH` is where it is::

    python -c 'from mm_conformance.protocol.schema import SCHEMA_PATH; print(SCHEMA_PATH)'

Any protocol line validates against the whole document (a line with ``"operation"`` is a
request, any other a response); ``#/$defs/request`` and ``#/$defs/response`` are each kind
alone. :mod:`.wire` decodes every line through it, and turns the first thing wrong into one
line that names the field, with the words the schema gives it (a ``title``) or its type:

>>> problem_in({"id": 4, "ok": True, "status": 42, "error": None}, "response")
'whose "status" is 42, not an HTTP status code or null'
>>> problem_in({"id": 4, "ok": False, "status": None}, "response")
'without "error"'
>>> problem_in({"id": 4, "ok": False, "status": None, "error": {"kind": "denied", "message": "no"}}, "response")
'whose "error.kind" is "denied", not one of auth, http, tls, network, timeout, config'
>>> problem_in({"id": 4, "ok": True, "status": 200, "error": None}, "response") is None
True
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_PATH = Path(__file__).resolve().parent / "protocol-v1.schema.json"

Kind = Literal["request", "response"]

#: How a message names what a JSON type is.
_TYPE_WORDS = {"object": "a JSON object", "array": "an array", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}


@functools.cache
def schema() -> dict[str, Any]:
    """The published schema, as parsed JSON (read once)."""
    document: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return document


@functools.cache
def _validator(kind: Kind) -> Draft202012Validator:
    """A validator of one kind of line: the document's ``$defs`` with ``$ref`` to that kind."""
    document = schema()
    return Draft202012Validator({"$schema": document["$schema"], "$defs": document["$defs"],
                                 "$ref": f"#/$defs/{kind}"})


def problem_in(message: object, kind: Kind) -> str | None:
    """What is wrong with a decoded line as a ``kind``, in one line, or None when it is valid."""
    error = first_problem(message, kind)
    return None if error is None else describe(error, kind)


def first_problem(message: object, kind: Kind) -> ValidationError | None:
    """The rule of the schema a decoded line breaks, or None. When it breaks several: the protocol
    version first (an adapter answers a request of another version with that alone), then
    jsonschema's most relevant (the shallowest)."""
    errors = list(_validator(kind).iter_errors(message))
    version = [error for error in errors if is_about_version(error)]
    return version[0] if version else best_match(errors)


def is_about_version(error: ValidationError) -> bool:
    """Whether ``error`` is about the protocol version: missing, or another than this side's."""
    return list(error.absolute_path) == ["protocol"] or (error.validator == "required"
                                                         and _missing(error) == "protocol")


def describe(error: ValidationError, kind: Kind) -> str:
    """One line for ``error``, completing its subject: "a response " + ``without "status"``,
    "request 5: " + ``"credential" has no "baseUrl"``."""
    field = _field_name(error)
    if error.validator == "required":
        missing = _missing(error)
        if not field:
            return f'without "{missing}"' if kind == "response" else f'no "{missing}"'
        return f'whose "{field}" has no "{missing}"' if kind == "response" else f'"{field}" has no "{missing}"'
    what = f'whose "{field}"' if kind == "response" else f'"{field}"'
    return f"{what} is {_value_words(error.instance)}, not {_expected(error)}"


def _field_name(error: ValidationError) -> str:
    """The field's dotted path (``error.kind``), each part short and on one line."""
    return ".".join(json.dumps(str(part))[1:-1][:40] for part in error.absolute_path)


def _missing(error: ValidationError) -> str:
    present = error.instance if isinstance(error.instance, dict) else {}
    return next((str(name) for name in error.validator_value if name not in present), "?")


def _expected(error: ValidationError) -> str:
    """What the value should have been: the subschema's title, else words for its rule."""
    subschema = error.schema if isinstance(error.schema, dict) else {}
    if "title" in subschema:
        return str(subschema["title"])
    if error.validator == "enum":
        return "one of " + ", ".join(str(value) for value in error.validator_value)
    if error.validator == "const":
        return json.dumps(error.validator_value)
    if error.validator == "type":
        types = [error.validator_value] if isinstance(error.validator_value, str) else error.validator_value
        return " or ".join(_TYPE_WORDS.get(name, name) for name in types)
    return error.message.splitlines()[0][:120]  # a rule the schema gives no words for: jsonschema's


def _value_words(value: object) -> str:
    """A value as a message shows it: short JSON for a scalar, its type's words for the rest."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value)  # ASCII, one line
    return text if len(text) <= 40 else text[:39] + "…"
