"""Token hygiene: find secrets in files the suite (or an adapter) left behind.

:mod:`~mm_conformance.redact` keeps secrets out of what the suite writes; this
module checks that it worked, after the fact, on the artifacts themselves
(reports, logs, captured output). Every file is read as bytes, so a binary file
or one in a stray encoding is scanned too, and a secret is looked for in each
form it takes when it travels:

* ``plain``: as it is (UTF-8);
* ``json-escaped``: inside a JSON string (``\\u00e9``, ``\\"``, ``\\/`` …);
* ``url-encoded``: percent-encoded, as in a query string (``%2F`` or ``%2f``, ``+`` for
  space) or a path (``/``, ``:``, ``@`` and the sub-delimiters left as they are);
* ``base64``: inside base64 text, at any offset, as in ``Authorization: Basic
  base64(user:token)``, where the secret's encoding depends on what precedes it.

A form identical to an earlier one (an alphanumeric token is the same in all
but base64) is reported as the earlier one.

Secrets shorter than :data:`~mm_conformance.redact.MIN_SECRET_LENGTH` are not
looked for: a deliberately wrong test token like ``"abc"`` is not a secret, and
would match everywhere. A :class:`Leak` names the secret by a *hint* (its number,
at most its first 3 characters, and its length), never by the secret itself, so
a hygiene report is safe to publish.

**Digests instead of secrets.** A process that knows the secrets (the suite,
after a run) can write :func:`secret_digests` instead of the secrets
themselves: one SHA-256 per pattern, with its length, form and hint, and no
secret anywhere on disk. :func:`find_digest_leaks` then hashes every window of
each of those lengths in every file: slower (fine for reports and logs, not
for gigabytes), and it finds what :func:`find_leaks` finds, except that in
base64 it checks only the secret's 3-byte-aligned middle (so it could report a
different secret sharing all but the first or last two bytes: never in practice
for random tokens).

Command line (exit 0 clean, 1 leaks found, 2 usage or unreadable input)::

    python -m mm_conformance.protocol.hygiene REPORT_DIR adapter.log --secrets-file secrets.txt
    python -m mm_conformance.protocol.hygiene REPORT_DIR --digests-file digests.txt

The secrets file holds one secret per line (line ending removed, nothing else
stripped; blank lines are skipped); the digests file is what
:func:`secret_digests` returns, one line each.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

from mm_conformance import redact

#: The forms a secret is looked for in, in reporting order.
FORMS = ("plain", "json-escaped", "url-encoded", "base64")

#: Fewest base64 characters a base64 pattern may have: shorter ones would match by chance.
MIN_BASE64_PATTERN = 8


@dataclass(frozen=True)
class Leak:
    """One occurrence of a secret in a file. ``line_number`` counts from 1 (lines end at ``\\n``)."""

    path: Path
    secret_hint: str
    form: str
    line_number: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line_number}: {self.secret_hint} found {self.form}"


def registered_secrets() -> frozenset[str]:
    """Every secret registered with :mod:`~mm_conformance.redact` in this process (with its travelling forms).

    Only secrets registered *in this process*: a subprocess's registry is its own.
    """
    return redact.registered_secrets()


def secret_hint(secret: str, number: int | None = None) -> str:
    """A name for ``secret`` that does not contain it: ``secret #2 'kq4'… (26 chars)``.

    The first 3 characters are shown only for secrets of 12 or more characters
    (a quarter at most), so the hint never gives away a short secret; and a
    (contrived) secret that the hint would contain gets a shorter hint.
    """
    name = "secret" if number is None else f"secret #{number}"
    size = f"({len(secret)} chars)"
    hints = [f"{name} {size}", size, "secret"]
    if len(secret) >= 12:
        hints.insert(0, f"{name} {ascii(secret[:3])}… {size}")
    return next(h for h in hints if secret not in h)


def needles(secret: str) -> dict[str, list[bytes]]:
    """The byte strings that betray ``secret``, by form, each form without those of earlier forms.

    The base64 ones cover the secret's 3-byte-aligned middle only (see
    :func:`patterns` for the exact match that :func:`find_leaks` uses).
    """
    raw = secret.encode("utf-8", "surrogatepass")
    candidates: dict[str, set[bytes]] = {
        "plain": {raw},
        "json-escaped": _json_forms(secret),
        "url-encoded": _url_forms(secret),
        "base64": {core for table in (_B64, _B64_URLSAFE) for _, core, _ in _base64_alignments(raw, table)},
    }
    seen: set[bytes] = set()
    found: dict[str, list[bytes]] = {}
    for form in FORMS:
        fresh = sorted(candidates[form] - seen)
        seen.update(fresh)
        found[form] = [p for p in fresh if p]
    return found


def patterns(secret: str) -> dict[str, list[re.Pattern[bytes]]]:
    """What :func:`find_leaks` looks for: :func:`needles`, with base64 matched on every bit of the secret.

    In base64, the first and last characters of the secret's encoding also carry
    bits of whatever surrounds it; those are matched by a character class of
    every value they can take, so the secret's own bits are all checked.
    """
    raw = secret.encode("utf-8", "surrogatepass")
    found = {form: [re.compile(re.escape(n)) for n in found] for form, found in needles(secret).items()}
    found["base64"] = [
        re.compile(b"".join(_class(chars) for chars in head) + re.escape(core) + b"".join(_class(c) for c in tail))
        for table in (_B64, _B64_URLSAFE)
        for head, core, tail in _base64_alignments(raw, table)
    ]
    return found


def find_leaks(
    paths: Iterable[Path], secrets: Iterable[str], *, min_length: int = redact.MIN_SECRET_LENGTH
) -> list[Leak]:
    """Every occurrence of every secret (in every form) in ``paths``; directories are walked recursively.

    Symbolic links to directories are not followed (a link to ``/`` must not
    make a scan endless); links to files are read, dangling ones skipped.
    Raises :class:`OSError` when a path cannot be read: an unreadable artifact
    has not been checked. One leak is reported per file, secret, form and line.
    """
    wanted = [s for s in dict.fromkeys(secrets) if isinstance(s, str) and len(s) >= min_length]
    compiled = [(secret_hint(s, i), patterns(s)) for i, s in enumerate(wanted, 1)]
    leaks: list[Leak] = []
    for path in _files(paths):  # also without secrets: a path that does not exist is an error
        if not compiled:
            continue
        data = path.read_bytes()
        seen: set[tuple[str, str, int]] = set()
        for hint, by_form in compiled:
            for form, regexes in by_form.items():
                for regex in regexes:
                    for match in regex.finditer(data):
                        key = (hint, form, data.count(b"\n", 0, match.start()) + 1)
                        if key not in seen:
                            seen.add(key)
                            leaks.append(Leak(path, hint, form, key[2]))
    leaks.sort(key=lambda leak: (str(leak.path), leak.line_number, leak.secret_hint, FORMS.index(leak.form)))
    return leaks


def secret_digests(secrets: Iterable[str], *, min_length: int = redact.MIN_SECRET_LENGTH) -> list[str]:
    """Lines ``sha256 <hex> <length> <form> <hint>``, one per pattern of each secret, for :func:`find_digest_leaks`.

    Safe to write to disk: a digest of a random token cannot be reversed, and
    the hint is the one a :class:`Leak` shows.
    """
    wanted = [s for s in dict.fromkeys(secrets) if isinstance(s, str) and len(s) >= min_length]
    lines = []
    for number, secret in enumerate(wanted, 1):
        hint = secret_hint(secret, number)
        for form, found in needles(secret).items():
            for needle in found:
                lines.append(f"sha256 {hashlib.sha256(needle).hexdigest()} {len(needle)} {form} {hint}")
    return lines


def find_digest_leaks(paths: Iterable[Path], digests: Iterable[str]) -> list[Leak]:
    """Like :func:`find_leaks`, knowing only :func:`secret_digests` lines (blank lines ignored).

    Raises :class:`ValueError` for a line that is not a digest line.
    """
    by_length: dict[int, dict[bytes, tuple[str, str]]] = {}
    for line in digests:
        if not line.strip():
            continue
        fields = line.strip().split(" ", 4)
        if len(fields) != 5 or fields[0] != "sha256" or not fields[2].isdigit() or fields[3] not in FORMS:
            raise ValueError(f"not a digest line: {line.strip()[:80]!r}")
        try:
            bytes.fromhex(fields[1])
        except ValueError:
            raise ValueError(f"not a digest line: {line.strip()[:80]!r}") from None
        _, hexdigest, length, form, hint = fields
        by_length.setdefault(int(length), {})[bytes.fromhex(hexdigest)] = (hint, form)
    leaks: set[Leak] = set()
    for path in _files(paths):
        if not by_length:
            continue
        data = path.read_bytes()
        view = memoryview(data)
        for size, wanted in by_length.items():
            for offset in range(len(data) - size + 1):
                found = wanted.get(hashlib.sha256(view[offset : offset + size]).digest())
                if found is not None:
                    leaks.add(Leak(path, found[0], found[1], data.count(b"\n", 0, offset) + 1))
    return sorted(leaks, key=lambda leak: (str(leak.path), leak.line_number, leak.secret_hint, FORMS.index(leak.form)))


def read_secrets_file(path: Path) -> list[str]:
    """The secrets in a UTF-8 secrets file: one per line, line ending removed, blank lines skipped."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 ({error.reason} at byte {error.start})") from None
    return [line.rstrip("\r") for line in text.split("\n") if line.rstrip("\r")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mm_conformance.protocol.hygiene", description="Find secrets left in files (reports, logs)."
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories to scan")
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--secrets-file", type=Path, metavar="F", help="one secret per line")
    given.add_argument("--digests-file", type=Path, metavar="F", help="secret_digests() lines")
    args = parser.parse_args(argv)
    try:
        if args.secrets_file is not None:
            leaks = find_leaks(args.paths, read_secrets_file(args.secrets_file))
        else:
            leaks = find_digest_leaks(args.paths, args.digests_file.read_text(encoding="utf-8").splitlines())
    except OSError as error:
        print(f"hygiene: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"hygiene: error: {args.secrets_file or args.digests_file}: {error}", file=sys.stderr)
        return 2
    for leak in leaks:
        print(leak)
    if leaks:
        secrets = len({leak.secret_hint for leak in leaks})
        print(f"hygiene: {len(leaks)} leak(s) of {secrets} secret(s)", file=sys.stderr)
        return 1
    return 0


# --- helpers ------------------------------------------------------------------


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for root, dirs, files in os.walk(path, onerror=_raise):
                dirs.sort()
                for name in sorted(files):
                    file = Path(root, name)
                    if file.is_symlink() and not file.exists():
                        continue  # a dangling link has no content to leak
                    yield file
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(2, "No such file or directory", str(path))


def _raise(error: OSError) -> None:
    raise error


def _occurrences(data: bytes, needle: bytes) -> Iterator[int]:
    start = data.find(needle)
    while start != -1:
        yield start
        start = data.find(needle, start + 1)


def _json_forms(secret: str) -> set[bytes]:
    forms = set()
    for ensure_ascii in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1]
        for variant in (escaped, escaped.replace("/", "\\/")):
            forms.add(variant.encode("utf-8", "surrogatepass"))
            # Encoders differ in the case of \u escapes (\u00e9 / \u00E9).
            forms.add(_upper_unicode_escapes(variant).encode("utf-8", "surrogatepass"))
    return forms


def _upper_unicode_escapes(text: str) -> str:
    parts = text.split("\\u")
    return parts[0] + "".join("\\u" + p[:4].upper() + p[4:] for p in parts[1:])


#: Characters a URL path keeps unencoded (RFC 3986 pchar, and "/"), as httpx leaves them in a path.
_PATH_SAFE = "!$&'()*+,;=:@/"


def _url_forms(secret: str) -> set[bytes]:
    forms = set()
    for encode, safe in ((quote, ""), (quote_plus, ""), (quote, _PATH_SAFE)):
        try:
            encoded = encode(secret, safe=safe)
        except UnicodeEncodeError:  # lone surrogates: no client can send them either
            continue
        forms.add(encoded.encode("ascii"))
        forms.add(_lower_percent_escapes(encoded).encode("ascii"))
    return forms


def _lower_percent_escapes(text: str) -> str:
    parts = text.split("%")
    return parts[0] + "".join("%" + p[:2].lower() + p[2:] for p in parts[1:])


_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_URLSAFE = _B64[:-2] + b"-_"


def _base64_alignments(raw: bytes, table: bytes) -> list[tuple[list[bytes], bytes, list[bytes]]]:
    """``(head, core, tail)`` for each offset of the secret modulo 3 in base64-encoded data.

    Base64 turns 3 bytes into 4 characters. ``core`` is the encoding of the
    secret's bytes between the first and the last 3-byte boundary: it appears
    verbatim whatever surrounds the secret (``user:`` before it, padding after
    it). ``head`` and ``tail`` are the characters, each given as the set of
    values it can take, that encode the secret's remaining 1 or 2 bytes at
    either end together with bits of the unknown bytes around them.
    Alignments whose core is under :data:`MIN_BASE64_PATTERN` characters are left out.
    """
    def one(bits: int) -> bytes:
        return table[bits : bits + 1]

    found = []
    for lead in (0, 2, 1):  # secret bytes in the first, partial, 3-byte group
        rest = raw[lead:]
        middle, end = rest[: len(rest) - len(rest) % 3], rest[len(rest) - len(rest) % 3 :]
        if len(middle) // 3 * 4 < MIN_BASE64_PATTERN:
            continue
        core = base64.b64encode(middle, altchars=table[62:])
        head: list[bytes] = []
        if lead == 2:  # [unknown][s0][s1]: 4 bits unknown in the 2nd character
            s0, s1 = raw[0], raw[1]
            head = [b"".join(one(u << 4 | s0 >> 4) for u in range(4)), one((s0 & 15) << 2 | s1 >> 6), one(s1 & 63)]
        elif lead == 1:  # [unknown][unknown][s0]: 2 bits of s0 in the 3rd character
            s0 = raw[0]
            head = [b"".join(one(u << 2 | s0 >> 6) for u in range(16)), one(s0 & 63)]
        tail: list[bytes] = []
        if len(end) == 1:
            t0 = end[0]
            tail = [one(t0 >> 2), b"".join(one((t0 & 3) << 4 | u) for u in range(16))]
        elif len(end) == 2:
            t0, t1 = end
            tail = [one(t0 >> 2), one((t0 & 3) << 4 | t1 >> 4), b"".join(one((t1 & 15) << 2 | u) for u in range(4))]
        found.append((head, core, tail))
    return found


def _class(chars: bytes) -> bytes:
    return re.escape(chars) if len(chars) == 1 else b"[" + b"".join(re.escape(bytes([c])) for c in chars) + b"]"


if __name__ == "__main__":
    raise SystemExit(main())
