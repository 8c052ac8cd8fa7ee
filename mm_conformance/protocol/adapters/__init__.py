"""Third-party Mattermost credential implementations, run as protocol v1 adapters.

``KNOWN_IMPLEMENTATIONS`` maps a name to a function returning the adapter's command
line (for :class:`mm_conformance.protocol.runner.Implementation` or ``--impl``):

* ``reference``: the suite's own reference implementation;
* ``n8n``: n8n's own Mattermost credential code (``adapters/n8n/``, Node.js);
* ``mattermost-client``: Mattermost's official JavaScript client, ``@mattermost/client``'s
  ``Client4`` (``adapters/mattermost_client/``, Node.js);
* ``mattermostdriver`` and ``mattermostautodriver``: the Python packages of those names
  (PyPI), see :mod:`.mattermostdriver_adapter` and :mod:`.mattermostautodriver_adapter`.

The Node.js adapters raise :class:`AdapterNotInstalled` until ``mm-conformance adapters
install`` has put their pinned npm packages in the cache directory (never in the repository).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mm_conformance.errors import UsageError
from mm_conformance.protocol.runner import reference_command

ADAPTERS_DIR = Path(__file__).resolve().parent


class AdapterNotInstalled(RuntimeError):
    """An adapter's dependencies are missing; the message (one line) says how to install them."""


@dataclass(frozen=True)
class NpmAdapter:
    """A Node.js adapter: ``adapter.js`` beside the ``package.json`` and ``package-lock.json`` it runs on.

    ``install()`` runs ``npm ci --ignore-scripts`` (nothing native is built) in
    ``${MM_CONFORMANCE_CACHE:-/var/cache/mm-conformance}/<name>-adapter`` and records the
    lock's digest; it does nothing when the digest matches, so it is cheap to call
    from every CI run. ``command()`` is ``node adapter.js --modules <that directory>``.
    """

    name: str
    directory: Path

    @property
    def modules_dir(self) -> Path:
        return Path(os.environ.get("MM_CONFORMANCE_CACHE", "/var/cache/mm-conformance")) / f"{self.name}-adapter"

    @property
    def _stamp(self) -> Path:
        return self.modules_dir / ".installed-lock.sha256"

    def _wanted(self) -> str:
        return hashlib.sha256((self.directory / "package.json").read_bytes()
                              + (self.directory / "package-lock.json").read_bytes()).hexdigest()

    def installed(self) -> bool:
        """True when exactly the packages of the committed lock file are installed."""
        return (self._stamp.is_file() and self._stamp.read_text().strip() == self._wanted()
                and (self.modules_dir / "node_modules" / ".package-lock.json").is_file())

    def install(self) -> bool:
        """Install the locked packages unless they are; True when it installed them."""
        if shutil.which("npm") is None:
            raise AdapterNotInstalled(f"{self.name} adapter: npm is not installed (Node 20 or later with npm)")
        self.modules_dir.mkdir(parents=True, exist_ok=True)
        with (self.modules_dir / ".install.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be installing: wait, then look again
            if self.installed():
                return False
            self._stamp.unlink(missing_ok=True)
            for name in ("package.json", "package-lock.json"):
                shutil.copy(self.directory / name, self.modules_dir / name)
            npm = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                                 cwd=self.modules_dir, capture_output=True, text=True)
            if npm.returncode != 0:
                last = (npm.stderr.strip().splitlines() or [f"exit code {npm.returncode}"])[-1]
                raise AdapterNotInstalled(f"{self.name} adapter: npm ci failed in {self.modules_dir}: {last}")
            self._stamp.write_text(self._wanted() + "\n")
        return True

    def command(self) -> str:
        node = shutil.which("node")
        if node is None:
            raise AdapterNotInstalled(f"{self.name} adapter: node is not on PATH (Node 20 or later is needed)")
        if not self.installed():
            raise AdapterNotInstalled(f"{self.name} adapter not installed in {self.modules_dir} (or out of date): "
                                      f"run mm-conformance adapters install {self.name}")
        return shlex.join([node, str(self.directory / "adapter.js"), "--modules", str(self.modules_dir)])


NPM_ADAPTERS = {adapter.name: adapter for adapter in (
    NpmAdapter("n8n", ADAPTERS_DIR / "n8n"),
    NpmAdapter("mattermost-client", ADAPTERS_DIR / "mattermost_client"),
)}


def _python_adapter(module: str, package: str, extra: str) -> Callable[[], str]:
    """``python -m mm_conformance.protocol.adapters.<module>`` with this interpreter, once ``package`` is importable."""
    def command() -> str:
        if importlib.util.find_spec(package) is None:
            raise AdapterNotInstalled(f"{package} is not installed for {sys.executable} "
                                      f"(pip install 'mm-conformance[{extra}]')")
        return f"{shlex.quote(sys.executable)} -m mm_conformance.protocol.adapters.{module}"
    return command


KNOWN_IMPLEMENTATIONS: dict[str, Callable[[], str]] = {
    "reference": reference_command,
    "n8n": NPM_ADAPTERS["n8n"].command,
    "mattermost-client": NPM_ADAPTERS["mattermost-client"].command,
    "mattermostdriver": _python_adapter("mattermostdriver_adapter", "mattermostdriver", "mattermostdriver"),
    "mattermostautodriver": _python_adapter("mattermostautodriver_adapter", "mattermostautodriver",
                                            "mattermostautodriver"),
}


#: What each shipped adapter reads of its environment beyond the baseline every adapter gets
#: (:mod:`mm_conformance.protocol.environment`): the client's own timeout, as its user would configure it.
DECLARED_ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "reference": ("MM_CONFORMANCE_REFERENCE_TIMEOUT",),
    "n8n": ("MM_CONFORMANCE_N8N_TIMEOUT",),
    "mattermost-client": ("MM_CONFORMANCE_CLIENT_TIMEOUT",),
    "mattermostdriver": ("MM_CONFORMANCE_DRIVER_TIMEOUT",),
    "mattermostautodriver": ("MM_CONFORMANCE_AUTODRIVER_TIMEOUT",),
}


#: What each shipped adapter's client does about time when its timeout variable is unset, as its
#: adapter's docstring shows from the client's source: a finding that the credential did not give
#: up within the suite's deadline prints it beside what the suite saw.
DEFAULT_TIMEOUTS: dict[str, str] = {
    "reference": "5 s to connect and 5 s per read",
    "n8n": "300 s without a byte (n8n's request timeout, applied by axios)",
    "mattermost-client": "300 s for the headers (Node's fetch, undici's default)",
    "mattermostdriver": "none (request_timeout None: requests waits for ever)",
    "mattermostautodriver": "none (request_timeout None switches httpx's 5 s off)",
}


def declared_timeout(impl: str, environment: Mapping[str, str]) -> str | None:
    """The timeout ``--impl``'s value declares, as a finding prints it: the value of its timeout
    variable in ``environment`` (what the adapter gets) when set, else its client's default; None for
    a command of the user's, which declares nothing."""
    target = _target(impl)
    if target not in DEFAULT_TIMEOUTS:
        return None
    configured = [f"{environment[name]} s ({name})" for name in DECLARED_ENVIRONMENT[target] if name in environment]
    return configured[0] if configured else DEFAULT_TIMEOUTS[target]


#: ``--impl NAME=COMMAND``: the name a report gives the implementation, then its command.
_NAMED = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.:-]*)=(?P<target>\S.*)", re.DOTALL)


def implementation_name(impl: str) -> str:
    """``--impl``'s value as reports name it: ``NAME=…`` by NAME, a known name as is, a command
    by its program (``python3 my_adapter.py`` → ``my_adapter.py``)."""
    named = _NAMED.fullmatch(impl)
    if named:
        return named["name"]
    if impl in KNOWN_IMPLEMENTATIONS:
        return impl
    words = [Path(w).name for w in impl.split() if not w.startswith("-")]
    programs = [w for w in words if not w.startswith(_INTERPRETERS)]
    return (programs or words or [impl])[0]


def implementation_command(impl: str) -> str:
    """The command line behind ``--impl``'s value (a known name's adapter, or the command itself).

    Raises AdapterNotInstalled for a known adapter whose packages are missing.
    """
    target = _target(impl)
    return KNOWN_IMPLEMENTATIONS[target]() if target in KNOWN_IMPLEMENTATIONS else target


def is_shipped(impl: str) -> bool:
    """Whether ``--impl``'s value names one of the adapters shipped with the suite."""
    return _target(impl) in KNOWN_IMPLEMENTATIONS


def declared_environment(impl: str) -> tuple[str, ...]:
    """The variables ``--impl``'s value declares it reads: a shipped adapter's own, none for a command."""
    return DECLARED_ENVIRONMENT.get(_target(impl), ())


def _target(impl: str) -> str:
    """``--impl``'s value without its report name: a shipped adapter's name, or a command."""
    named = _NAMED.fullmatch(impl)
    return named["target"].strip() if named else impl


_INTERPRETERS = ("python", "node", "bash", "sh", "java", "ruby", "deno", "bun")


def check_implementations(impls: list[str]) -> None:
    """UsageError unless every implementation of a run gets a report column of its own."""
    names = [implementation_name(impl) for impl in impls]
    if len(set(names)) < len(names):  # one report column per name: one would hide the other
        twice = sorted({name for name in names if names.count(name) > 1})
        raise UsageError(f"two implementations have the same name ({', '.join(twice)}); "
                         "name each one: --impl NAME=COMMAND")
