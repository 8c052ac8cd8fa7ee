"""The options a run shares between ``mm-conformance run`` and ``pytest``, each declared once.

The CLI's argparse parser and the pytest plugin's ``pytest_addoption`` both render :data:`SHARED`,
so a name, metavar, type, default or help text cannot differ between the two; the shipped adapters
a help text lists come from the registry (:data:`~mm_conformance.protocol.adapters.KNOWN_IMPLEMENTATIONS`).
Options only one side has (the CLI's ``--report``, the plugin's ``--adapter-log``) are declared on
that side. What a shared option's values mean is decided here too: :func:`implementations` and
:func:`passed_environment`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mm_conformance.infra import support
from mm_conformance.infra.deployment import ADMIN_TOKEN_ENV
from mm_conformance.protocol.adapters import KNOWN_IMPLEMENTATIONS
from mm_conformance.protocol.environment import parse_passed

#: The implementation a run checks when no ``--impl`` is given.
DEFAULT_IMPLEMENTATION = "reference"


@dataclass(frozen=True)
class RunOption:
    """One command-line option: what both parsers need to declare it, and how to hand its value on."""

    flag: str
    help: str
    metavar: str | None = None
    type: Callable[[str], Any] | None = None
    default: Any = None
    #: Given several times, its values make a list (``action="append"``).
    repeatable: bool = False
    #: Takes no value: present or not (``action="store_true"``).
    switch: bool = False

    @property
    def dest(self) -> str:
        """The attribute the parsed value lands in (``--impl-env`` → ``impl_env``)."""
        return self.flag.lstrip("-").replace("-", "_")

    def keywords(self) -> dict[str, Any]:
        """The keywords of ``argparse``'s ``add_argument``, which pytest's ``addoption`` takes as well."""
        if self.switch:
            return {"action": "store_true", "default": False, "help": self.help}
        default = list(self.default) if isinstance(self.default, list) else self.default
        keywords: dict[str, Any] = {"action": "append" if self.repeatable else "store", "default": default,
                                    "metavar": self.metavar, "help": self.help}
        if self.type is not None:
            keywords["type"] = self.type
        return keywords

    def as_arguments(self, value: Any) -> list[str]:
        """``value``, as parsed, written back as arguments for the other parser: each as ``--flag=value``,
        since a separate value that looks like a path (an adapter's absolute path, say) would make
        pytest look for its configuration above it."""
        if self.switch:
            return [self.flag] if value else []
        values = (value or []) if self.repeatable else [value]
        return [f"{self.flag}={item}" for item in values if item is not None]


def _shipped_adapters() -> str:
    """The registry's adapters as a help text lists them, the default marked."""
    return ", ".join(f"{name} (default)" if name == DEFAULT_IMPLEMENTATION else name for name in KNOWN_IMPLEMENTATIONS)


def _support_image_help(image: support.SupportImage, contract: str) -> str:
    return (f"the {image.role} image, local or pulled, keeping the official image's contract ({contract}; "
            f"README: Images); default: the official {image.official} where a registry answers, else the "
            f"suite's own {image.own}")


IMPL = RunOption(
    "--impl", metavar="[NAME=]CMD", repeatable=True,
    help=f"the implementation under test: {_shipped_adapters()}, or a command that speaks protocol v1, "
         "optionally named for reports (mine=python3 adapter.py); repeat it to check several side by side "
         "on the same servers")
IMPL_ENV = RunOption(
    "--impl-env", metavar="NAME[=VALUE]", repeatable=True, default=[],
    help="give the implementations under test this variable (its value here, or VALUE), repeatable; beyond it "
         "they get only what a program needs to start (PATH, HOME, locale, NODE_*, PYTHON*), never the suite's "
         "own variables (docs/protocol.md)")
ADAPTER_TIMEOUT = RunOption(
    "--adapter-timeout", type=float, default=10.0, metavar="S",
    help="seconds the implementation may take to answer one request (default 10)")
MATTERMOST = RunOption(
    "--mattermost", metavar="SERVER", repeatable=True,
    help="a server to run on, repeatable: a version (11.0.3), an image name, local (every image packaged here), "
         "esr, latest, previous-esr; default: the local images, else the official ESR")
POSTGRES = RunOption(
    "--postgres-image", metavar="IMAGE",
    help=_support_image_help(support.POSTGRES, "POSTGRES_USER/PASSWORD/DB, PGDATA, port 5432, psql"))
NGINX = RunOption(
    "--nginx-image", metavar="IMAGE",
    help=_support_image_help(support.NGINX, "/etc/nginx/nginx.conf, /var/log/nginx"))
MATTERMOST_URL = RunOption(
    "--mattermost-url", metavar="URL",
    help="run against this existing server instead of starting one (external-server mode); a system admin's "
         f"personal access token comes from ${ADMIN_TOKEN_ENV}")
ALLOW_CONFIG_CHANGES = RunOption(
    "--allow-config-changes", switch=True,
    help="with --mattermost-url: let scenarios change server-wide settings (restored after each)")

#: Every option ``mm-conformance run`` hands on to pytest, in the order help texts list them.
SHARED: tuple[RunOption, ...] = (IMPL, IMPL_ENV, MATTERMOST, POSTGRES, NGINX, MATTERMOST_URL, ALLOW_CONFIG_CHANGES,
                                 ADAPTER_TIMEOUT)


def implementations(values: Sequence[str] | None) -> list[str]:
    """``--impl``'s values, or the default implementation when none is given."""
    return list(values) if values else [DEFAULT_IMPLEMENTATION]


def passed_environment(values: Sequence[str]) -> dict[str, str]:
    """``--impl-env``'s values as the variables the implementations get beyond the baseline (UsageError,
    one line, for a bad one): the one place both the CLI and the plugin read them."""
    return parse_passed(values)
