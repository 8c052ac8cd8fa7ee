"""Mattermost distributions as the suite consumes them: a release tarball or its ``mattermost/`` folder.

Also the digests that decide whether an image is built again: of a build context,
and of a distribution (the same tarball or directory again is not packaged twice).
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path

from mm_conformance.errors import UsageError

#: What a Mattermost distribution holds beside its binary, as a release tarball lays it out.
DISTRIBUTION_PARTS = ("bin/mattermost", "i18n", "templates", "fonts")


def context_digest(directory: Path) -> str:
    """A digest of every file under ``directory``, names and contents."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def distribution_root(path: Path) -> Path:
    """The ``mattermost/`` folder of an unpacked distribution at ``path`` (itself or its only child).

    UsageError, in one line, naming what is missing when ``path`` is not a distribution.
    """
    candidates = [path, path / "mattermost"]
    for candidate in candidates:
        if (candidate / "bin" / "mattermost").is_file():
            missing = [part for part in DISTRIBUTION_PARTS if not (candidate / part).exists()]
            if missing:
                raise UsageError(f"{path} is not a complete Mattermost distribution: it has no "
                                 f"{', '.join(missing)} beside bin/mattermost")
            return candidate
    raise UsageError(f"{path} is not a Mattermost distribution: neither it nor its mattermost/ folder "
                     "has bin/mattermost (expected a release tarball or its unpacked mattermost/ folder)")


def unpack_distribution(tarball: Path, into: Path) -> Path:
    """Unpack a release tarball safely (no links out, no absolute paths); its ``mattermost/`` folder."""
    try:
        with tarfile.open(tarball) as archive:
            archive.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UsageError(f"{tarball} is not a readable Mattermost release tarball: {error}") from None
    entries = [entry for entry in into.iterdir()]
    return distribution_root(entries[0] if len(entries) == 1 and entries[0].is_dir() else into)


def parse_version_output(output: str) -> str:
    """The version in what ``mattermost version`` printed (``Version: 11.0.3``), or ""."""
    found = re.search(r"^Version:\s*(\d+\.\d+\.\d+)\s*$", output, re.MULTILINE)
    return found.group(1) if found else ""
