"""Which PostgreSQL and nginx images a deployment runs beside Mattermost: official where a registry answers.

================  ==============================  =====================================
role              by default                      where no registry answers
================  ==============================  =====================================
PostgreSQL        ``postgres:15`` (official)      ``mm-conformance/postgres:15``
nginx             ``nginx:1.28`` (official)       ``mm-conformance/nginx:bookworm``
================  ==============================  =====================================

``--postgres-image`` and ``--nginx-image`` name another; it is used as it is, pulled if it
is not here. The default is looked for in this order, each step only when the one before
found nothing: the engine's own images (``images.get``: no registry is asked for an
image that is here), a pull (a registry that does not answer within
:data:`~mm_conformance.infra.engine.REGISTRY_ANSWER_S` counts as none; where none
resolves, the engine answers in milliseconds), then the suite's own image, built by
``mm-conformance images build`` (as root: its base needs ``debootstrap``). A run says in
one line when it falls back (:func:`fallback_line`); where the suite's own is not built
either, the error names the command that builds it. Each process chooses once.

What the suite relies on in each image, and nothing else, is written where it is used:
PostgreSQL's contract in :mod:`~mm_conformance.infra.database`, nginx's in
:mod:`~mm_conformance.infra.nginx`. ``tests/test_official_images.py`` checks both on images
made to keep exactly those parts.

>>> POSTGRES.official, NGINX.own
('postgres:15', 'mm-conformance/nginx:bookworm')
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.engine import pull
from mm_conformance.infra.images import NGINX_IMAGE, POSTGRES_IMAGE, image_id, require_image

#: The official images a deployment runs by default.
OFFICIAL_POSTGRES = "postgres:15"
OFFICIAL_NGINX = "nginx:1.28"


@dataclass(frozen=True)
class SupportImage:
    """One image a deployment runs beside Mattermost: the official one, the suite's own, the option naming another."""

    role: str
    official: str
    own: str
    option: str


POSTGRES = SupportImage("PostgreSQL", OFFICIAL_POSTGRES, POSTGRES_IMAGE, "--postgres-image")
NGINX = SupportImage("nginx", OFFICIAL_NGINX, NGINX_IMAGE, "--nginx-image")


@dataclass(frozen=True)
class Choice:
    """The image a deployment runs, and why the official one is not it (None: it is, or one was named)."""

    image: str
    official_not_pulled: str | None = None


_chosen: dict[SupportImage, Choice] = {}
_choosing = threading.Lock()  # a deployment's extras start in threads of their own


def choose(support: SupportImage, named: str | None = None) -> Choice:
    """The image to run for ``support``: ``named`` (made present, else an InfrastructureError in one
    line), or the default as the module docstring says, chosen once per process."""
    if named:
        require_image(named)
        return Choice(named)
    with _choosing:
        if support not in _chosen:
            _chosen[support] = _default(support)
        return _chosen[support]


def _default(support: SupportImage) -> Choice:
    if image_id(support.official) is not None:
        return Choice(support.official)
    failed = pull(support.official)
    if failed is None:
        return Choice(support.official)
    if image_id(support.own) is None:
        raise InfrastructureError(
            f"{support.official} is not here and could not be pulled ({failed}), and the suite's own "
            f"{support.own} is not built: build it with `sudo mm-conformance images build` (needs debootstrap), "
            f"or name a {support.role} image with {support.option}")
    return Choice(support.own, failed)


def forget_choices() -> None:
    """Choose again on next use (a test that changes which images are here)."""
    with _choosing:
        _chosen.clear()


def fallback_line(choices: dict[SupportImage, Choice]) -> str | None:
    """One line saying which official images could not be pulled and what runs instead, or None.

    >>> fallback_line({POSTGRES: Choice(POSTGRES.own, "no such host")})
    "postgres:15 could not be pulled (no such host): using the suite's own mm-conformance/postgres:15"
    """
    fell_back = {support: choice for support, choice in choices.items() if choice.official_not_pulled}
    if not fell_back:
        return None
    reasons = list(dict.fromkeys(choice.official_not_pulled or "" for choice in fell_back.values()))
    return (f"{' and '.join(support.official for support in fell_back)} could not be pulled "
            f"({'; '.join(reason[:160] for reason in reasons)}): using the suite's own "
            f"{' and '.join(choice.image for choice in fell_back.values())}")
