"""Which Mattermost servers a run uses: ``--mattermost`` and what each value names.

A run names its servers by what a user has, never by a release line of the suite's
own. Each ``--mattermost`` value (repeat the option, or separate values by commas)
is one of::

    local                         every image `mm-conformance images build --from` made here
    11.0.3                        that version: this machine's image of it, else the official image
    esr | latest | previous-esr   the official team-edition image of that line (where a registry answers)
    mattermost/mattermost-enterprise-edition:11.0.3   any image, local or pulled, by name

With no ``--mattermost`` at all, a run uses the local images, or the official ESR
image when there are none. Reports never name a column by any of these: they use
the version the server reports once it is up (:attr:`Deployment.name`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mm_conformance.errors import UsageError

#: The suite's packaged Mattermost images: ``mm-conformance/mattermost:<version the binary reports>``.
LOCAL_REPOSITORY = "mm-conformance/mattermost"
OFFICIAL_REPOSITORY = "mattermost/mattermost-team-edition"
#: The label that carries the version a packaged binary reports (also set on official images we inspect).
VERSION_LABEL = "org.mattermost.version"
#: Shortcuts to official tags (Docker Hub publishes ``release-X.Y`` for every line). Update with new ESRs.
SHORTCUTS = {
    "esr": f"{OFFICIAL_REPOSITORY}:release-11.7",
    "latest": f"{OFFICIAL_REPOSITORY}:latest",
    "previous-esr": f"{OFFICIAL_REPOSITORY}:release-10.11",
}
_VERSION = re.compile(r"\d+\.\d+\.\d+")


@dataclass(frozen=True)
class MattermostServer:
    """One server a run starts (an image) or reaches (an external URL).

    ``version`` is what is known before it runs: the label of a packaged image, or an
    official tag that is a version; "" when nothing is known. The version the server
    reports when it is up is what results name it by.
    """

    image: str = ""
    version: str = ""
    url: str = ""  # external-server mode: a server the suite did not start

    @property
    def id(self) -> str:
        """A short, stable name for test ids: ``5.37.0``, ``external``, or the image's tag."""
        if self.url:
            return "external"
        return self.version or self.image.rsplit("/", 1)[-1].replace(":", "-")

    @property
    def sort_key(self) -> tuple[int, ...]:
        """Oldest first: known versions by number; unknown ones after them, in the order given."""
        return version_key(self.version)

    def __str__(self) -> str:
        if self.url:
            return f"the Mattermost at {self.url}"
        return f"Mattermost {self.version} ({self.image})" if self.version else f"Mattermost {self.image}"


def version_key(version: str) -> tuple[int, ...]:
    """``5.37.0`` before ``11.0.3``; anything that is no version ("", ``external``) after every version."""
    parts = version.split(".")
    return tuple(int(part) for part in parts) if all(part.isdigit() for part in parts) else (10**6,)


def external(url: str) -> MattermostServer:
    return MattermostServer(url=url.rstrip("/"))


def select_servers(specs: list[str] | None, local: dict[str, str]) -> list[MattermostServer]:
    """The servers ``--mattermost`` names, without repeats, in the order given.

    ``local`` maps the version of each image this machine has packaged to the image
    (see :func:`mm_conformance.infra.images.local_mattermost_images`).
    """
    words = [word.strip() for spec in specs or [] for word in spec.split(",") if word.strip()]
    if not words:
        words = ["local"] if local else ["esr"]
    chosen: list[MattermostServer] = []
    for word in words:
        for server in _servers_named(word, local):
            if server not in chosen:
                chosen.append(server)
    return chosen


def _servers_named(word: str, local: dict[str, str]) -> list[MattermostServer]:
    if word == "local":
        if not local:
            raise UsageError("no Mattermost image is packaged on this machine: run "
                             "`mm-conformance images build --from RELEASE_TARBALL_OR_DIR`, or name an image")
        return sorted((MattermostServer(image, version) for version, image in local.items()),
                      key=lambda server: server.sort_key)
    if word in SHORTCUTS:
        return [image_server(SHORTCUTS[word])]
    if _VERSION.fullmatch(word):
        return [MattermostServer(local.get(word, f"{OFFICIAL_REPOSITORY}:{word}"), word)]
    if "/" in word or ":" in word:
        return [image_server(word)]
    raise UsageError(f"--mattermost {word!r} is neither a version (11.0.3), an image name, local, "
                     f"nor one of {', '.join(SHORTCUTS)}")


def image_server(image: str) -> MattermostServer:
    """A server from an image name; its version is known when the tag is one (``…:11.0.3``)."""
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    return MattermostServer(image, tag if _VERSION.fullmatch(tag) else "")


def oldest_first(servers: list[MattermostServer]) -> list[MattermostServer]:
    """The upgrade scenario's order: it upgrades the first of these to each later one."""
    return sorted(servers, key=lambda server: server.sort_key)  # stable: unknown versions keep their order
