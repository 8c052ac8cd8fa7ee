"""Where the suite's own files are: the repository's top level, or their copy in an installed wheel.

The repository keeps ``features/``, ``steps/``, ``fixtures/``, ``docker/`` and
``docs/`` at its top level; a wheel carries the same files in
``mm_conformance/_suite/`` (see ``[tool.setuptools]`` in pyproject.toml), so an
installed ``mm-conformance`` runs the scenarios from any working directory.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_INSTALLED = PACKAGE_DIR / "_suite"
#: The directory holding features/, steps/, fixtures/, docker/, docs/ and the pytest settings.
SUITE_ROOT = _INSTALLED if (_INSTALLED / "features").is_dir() else PACKAGE_DIR.parent
