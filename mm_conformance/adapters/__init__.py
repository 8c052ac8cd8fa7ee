"""Third-party Mattermost credential implementations, run as protocol v1 adapters.

``KNOWN_IMPLEMENTATIONS`` maps a name to a function returning the adapter's command
line (for :class:`mm_conformance.implementation.Implementation` or ``--impl``):

* ``reference``: the suite's own reference implementation;
* ``n8n``: n8n's own Mattermost credential code (``adapters/n8n/``, Node.js);
  raises :class:`AdapterNotInstalled` until ``mm_conformance/adapters/n8n/install.sh`` has run;
* ``mattermostdriver``: the ``mattermostdriver`` package (PyPI, 7.3.2), see
  :mod:`mm_conformance.adapters.mattermostdriver_adapter`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from ..errors import UsageError
from ..implementation import reference_command

N8N_DIR = Path(__file__).resolve().parent / "n8n"
N8N_INSTALL_SCRIPT = N8N_DIR / "install.sh"


class AdapterNotInstalled(RuntimeError):
    """An adapter's dependencies are missing; the message (one line) says how to install them."""


def n8n_modules_dir() -> Path:
    """Where install.sh puts n8n: ``${MM_CONFORMANCE_CACHE:-/var/cache/mm-conformance}/n8n-adapter``."""
    return Path(os.environ.get("MM_CONFORMANCE_CACHE", "/var/cache/mm-conformance")) / "n8n-adapter"


def n8n_installed() -> bool:
    """True when install.sh has installed exactly the packages of the committed lock file."""
    modules = n8n_modules_dir()
    stamp = modules / ".installed-lock.sha256"
    if not stamp.is_file() or not (modules / "node_modules" / "n8n-core").is_dir():
        return False
    import hashlib

    want = hashlib.sha256((N8N_DIR / "package.json").read_bytes() + (N8N_DIR / "package-lock.json").read_bytes())
    return stamp.read_text().strip() == want.hexdigest()


def n8n_command() -> str:
    """``node <adapter.js> --modules <cache dir>``; raises AdapterNotInstalled if install.sh has not run."""
    node = shutil.which("node")
    if node is None:
        raise AdapterNotInstalled("n8n adapter: node is not on PATH (Node 20 or later is needed)")
    if not n8n_installed():
        raise AdapterNotInstalled(
            f"n8n adapter not installed in {n8n_modules_dir()} (or out of date): run {N8N_INSTALL_SCRIPT}"
        )
    return shlex.join([node, str(N8N_DIR / "adapter.js"), "--modules", str(n8n_modules_dir())])


def mattermostdriver_command() -> str:
    """``python -m mm_conformance.adapters.mattermostdriver_adapter`` with this interpreter."""
    return f"{shlex.quote(sys.executable)} -m mm_conformance.adapters.mattermostdriver_adapter"


KNOWN_IMPLEMENTATIONS: dict[str, Callable[[], str]] = {
    "reference": reference_command,
    "n8n": n8n_command,
    "mattermostdriver": mattermostdriver_command,
}


def implementation_name(impl: str) -> str:
    """``--impl``'s value as reports name it: a known name as is, a command by its program."""
    if impl in KNOWN_IMPLEMENTATIONS:
        return impl
    words = [Path(w).name for w in impl.split() if not w.startswith("-")]
    programs = [w for w in words if not w.startswith(_INTERPRETERS)]
    return (programs or words or [impl])[0]


_INTERPRETERS = ("python", "node", "bash", "sh", "java", "ruby", "deno", "bun")


def check_implementations(impls: list[str], impl_name: str | None) -> None:
    """UsageError unless every implementation of a run gets a report column of its own."""
    if impl_name and len(impls) > 1:
        raise UsageError("--impl-name names one implementation: give a single --impl")
    names = [implementation_name(impl) for impl in impls]
    if len(set(names)) < len(names):  # one report column per name: one would hide the other
        raise UsageError(f"two implementations have the same name ({', '.join(names)}); "
                         "run them separately with --impl-name, or give the adapters distinct file names")
