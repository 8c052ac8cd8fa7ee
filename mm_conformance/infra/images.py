"""The images the suite's world runs, made with no container registry at all.

A deployment runs the official ``postgres`` and ``nginx`` images where a registry
answers (:mod:`~mm_conformance.infra.support` chooses, and says what the suite relies
on in them); these are its own, for where none does. Support images, each built only
when it is missing or its files changed (``mm-conformance images build``, as root: the
base needs ``debootstrap``):

``mm-conformance/base:bookworm``
    A Debian bookworm rootfs made by ``debootstrap --variant=minbase`` and turned
    into an image with ``docker import``.
``mm-conformance/postgres:15``
    Debian's PostgreSQL 15 on that base (Mattermost 11 needs PostgreSQL >= 14), with an
    entrypoint that keeps the parts of the official image's contract the suite relies on.
``mm-conformance/nginx:bookworm``
    Debian's nginx, the TLS-terminating proxy in front of Mattermost.

Mattermost itself is never built here: the suite consumes a distribution.

``mm-conformance/mattermost:<version>``
    A Mattermost release tarball (``mattermost-<version>-linux-amd64.tar.gz``) or a
    directory laid out like its ``mattermost/`` folder, packaged on the base image by
    ``mm-conformance images build --from PATH``. The version in the tag is the one the
    binary itself reports (``mattermost version``). Official images
    (``mattermost/mattermost-team-edition:<version>``) and any other local image are
    used as they are (see :mod:`mm_conformance.mattermost.servers`).

The pre-migrated databases (the database a server image migrated, kept as an image) are
:mod:`~mm_conformance.infra.snapshots`' to make.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docker.errors import APIError, DockerException, ImageNotFound
from requests.exceptions import RequestException
from rich.console import Console
from rich.status import Status

from mm_conformance.errors import InfrastructureError, UsageError
from mm_conformance.infra.containers import suite_labels
from mm_conformance.infra.distribution import (
    context_digest,
    distribution_root,
    file_digest,
    parse_version_output,
    unpack_distribution,
)
from mm_conformance.infra.engine import engine, pull
from mm_conformance.mattermost.servers import LOCAL_REPOSITORY, VERSION_LABEL
from mm_conformance.paths import SUITE_ROOT

DOCKER_DIR = SUITE_ROOT / "docker"

BASE_IMAGE = "mm-conformance/base:bookworm"
POSTGRES_IMAGE = "mm-conformance/postgres:15"
NGINX_IMAGE = "mm-conformance/nginx:bookworm"
DEBIAN_MIRROR = os.environ.get("MM_CONFORMANCE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CACHE_DIR = Path(os.environ.get("MM_CONFORMANCE_CACHE", "/var/cache/mm-conformance"))
#: A digest of the files an image is built from: a changed Dockerfile or script means a rebuild.
CONTEXT_DIGEST_LABEL = "io.github.mm-conformance.context-digest"
#: A packaged distribution's digest: the same tarball or directory again is not packaged twice.
SOURCE_DIGEST_LABEL = "io.github.mm-conformance.source-digest"
#: ``distribution`` when the web app came with it, ``stand-in`` for the suite's one-page stand-in.
WEB_APP_LABEL = "io.github.mm-conformance.web-app"


class ImageBuildError(InfrastructureError):
    """An image could not be built; the message says which step failed and why."""


def image_labels(image: str) -> dict[str, str] | None:
    """The labels of a local image, or None when it is not present (or no Docker engine answers)."""
    try:
        return engine().images.get(image).labels or {}
    except (DockerException, RequestException):
        return None


def image_id(image: str) -> str | None:
    """The ID (``sha256:…``) of a local image, or None when it is not present."""
    try:
        return str(engine().images.get(image).id)
    except (DockerException, RequestException):
        return None


def local_mattermost_images() -> dict[str, str]:
    """The Mattermost images this machine has packaged, by the version their binary reports."""
    try:
        listed = engine().images.list(name=LOCAL_REPOSITORY)
    except (DockerException, RequestException):
        return {}
    images = {}
    for tag in sorted(tag for image in listed for tag in image.tags if tag.startswith(f"{LOCAL_REPOSITORY}:")):
        version = (image_labels(tag) or {}).get(VERSION_LABEL)
        if version and tag == f"{LOCAL_REPOSITORY}:{version}":
            images[version] = tag
    return images


def require_image(image: str) -> None:
    """Make sure ``image`` is present locally, pulling it only when it is not one of ours.

    The engine's own list first (no registry is asked for an image that is here); the
    suite's own images are never pulled: they exist nowhere but on this machine.
    """
    try:
        try:
            engine().images.get(image)
            return
        except ImageNotFound:
            pass
    except APIError as error:
        if error.is_client_error():  # the engine's answer to a name that is none: bad input, not a failure
            raise UsageError(f"{image!r} is not an image name: {' '.join(str(error.explanation).split())}") from None
        raise InfrastructureError(f"the Docker engine is not reachable: {' '.join(str(error).split())}") from None
    except DockerException as error:
        raise InfrastructureError(f"the Docker engine is not reachable: {' '.join(str(error).split())}") from None
    if image.startswith(f"{LOCAL_REPOSITORY}:"):
        raise InfrastructureError(f"image {image} is not on this machine (package a release tarball: "
                                  "mm-conformance images build --from PATH)")
    if image.startswith("mm-conformance/"):
        raise InfrastructureError(f"image {image} is not built (build it: mm-conformance images build)")
    failed = pull(image)
    if failed is not None:
        raise InfrastructureError(f"image {image} is not on this machine and could not be pulled: {failed}")


class ImageBuilder:
    """Builds missing images step by step, showing progress and keeping each step's log.

    ::

        builder = ImageBuilder()
        builder.ensure_postgres()                                          # the base image first when needed
        builder.package(Path("mattermost-11.0.3-linux-amd64.tar.gz"))   # 'mm-conformance/mattermost:11.0.3'

    Its :meth:`lock`, :meth:`status` and :meth:`say` serve whatever else makes images
    (the pre-migrated databases of :mod:`~mm_conformance.infra.snapshots`).
    """

    def __init__(self, console: Console | None = None, cache_dir: Path = CACHE_DIR) -> None:
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.cache_dir = cache_dir
        self.log_dir = cache_dir / "logs"

    # -- the support images ---------------------------------------------------------

    def ensure_base(self) -> None:
        if image_labels(BASE_IMAGE) is not None:
            self.say(f"{BASE_IMAGE} present")
            return
        with tempfile.TemporaryDirectory(dir=self._mkdir(self.cache_dir)) as work:
            self._run(f"building {BASE_IMAGE}'s root file system (debootstrap, about a minute)",
                      [str(DOCKER_DIR / "base" / "build-rootfs.sh"), work, DEBIAN_MIRROR], log="base")
            repository, _, tag = BASE_IMAGE.rpartition(":")
            try:
                engine().api.import_image_from_file(str(Path(work) / "rootfs.tar"), repository=repository, tag=tag,
                                                    changes=['CMD ["/bin/bash"]'])
            except DockerException as error:
                raise ImageBuildError(f"importing {BASE_IMAGE}'s root file system failed: {error}") from None

    def ensure_postgres(self) -> None:
        """Debian's PostgreSQL 15, the database Mattermost runs on."""
        self._ensure_on_base(POSTGRES_IMAGE, "postgres")

    def ensure_nginx(self) -> None:
        """nginx from Debian, the TLS proxy in front of Mattermost (see mm_conformance/infra/proxy.py)."""
        self._ensure_on_base(NGINX_IMAGE, "nginx")

    def _ensure_on_base(self, tag: str, directory: str) -> None:
        digest = context_digest(DOCKER_DIR / directory)
        labels = image_labels(tag)
        if labels is not None and labels.get(CONTEXT_DIGEST_LABEL) == digest:
            self.say(f"{tag} present")
            return
        self.ensure_base()
        self._docker_build(tag, DOCKER_DIR / directory, {"BASE_IMAGE": BASE_IMAGE}, log=directory,
                           labels={CONTEXT_DIGEST_LABEL: digest})

    # -- a Mattermost distribution, packaged ------------------------------------------

    def package(self, source: Path) -> str:
        """Package a release tarball, or a directory laid out like its ``mattermost/`` folder, as
        ``mm-conformance/mattermost:<version the binary reports>``; the image's name.

        The same tarball or directory again (same digest) is not packaged twice. A
        distribution without ``client/`` (the web app) gets the suite's stand-in page,
        and the image says so in its ``io.github.mm-conformance.web-app`` label.
        """
        source = source.expanduser().resolve()
        if not source.exists():
            raise UsageError(f"{source} does not exist")
        if source.is_dir():
            root = distribution_root(source)
            digest = context_digest(root)
        else:
            root, digest = None, file_digest(source)
        self.ensure_base()
        with tempfile.TemporaryDirectory(dir=self._mkdir(self.cache_dir)) as work:
            context = Path(work)
            if root is None:
                with self.status(f"unpacking {source.name}"):
                    root = unpack_distribution(source, context / "unpacked")
            version = self.reported_version(root)
            tag = f"{LOCAL_REPOSITORY}:{version}"
            labels = image_labels(tag)
            if labels is not None and labels.get(SOURCE_DIGEST_LABEL) == digest:
                self.say(f"{tag} present (packaged from the same distribution)")
                return tag
            web_app = "distribution" if (root / "client").is_dir() else "stand-in"
            with self.status(f"preparing Mattermost {version} from {source.name}"):
                shutil.copytree(root, context / "mattermost", symlinks=True)
                if web_app == "stand-in":
                    shutil.copytree(DOCKER_DIR / "mattermost" / "client", context / "mattermost" / "client")
                shutil.copy(DOCKER_DIR / "mattermost" / "Dockerfile", context / "Dockerfile")
            self._docker_build(tag, context, {"BASE_IMAGE": BASE_IMAGE}, log=f"mattermost-{version}",
                               labels={VERSION_LABEL: version, SOURCE_DIGEST_LABEL: digest, WEB_APP_LABEL: web_app})
        return tag

    def reported_version(self, root: Path) -> str:
        """What ``bin/mattermost version`` prints as its version, run in the base image, offline.

        Mattermost 5 connects to its database for ``version`` unless told
        ``--skip-server-start`` (without one it retries for minutes); later versions
        print it at once and have no such flag.
        """
        said = ""
        for arguments in (["version", "--skip-server-start"], ["version"]):
            finished, output = _run_once(BASE_IMAGE, ["/mattermost/bin/mattermost", *arguments], root, timeout_s=60)
            if not finished:
                said = f"`mattermost {' '.join(arguments)}` did not finish within 60 s"
                continue
            version = parse_version_output(output)
            if version:
                return version
            said = " ".join(output.split())[:200]
        raise UsageError(f"{root}/bin/mattermost did not report a version (`mattermost version`: {said})")

    # -- plumbing -----------------------------------------------------------------

    def _docker_build(self, tag: str, context: Path, args: dict[str, str], *, log: str,
                      labels: dict[str, str] | None = None) -> None:
        """``docker build --network host`` through the engine's API, its output streamed to the log; every
        step's container is removed, also after a step that failed (``forcerm``: the API keeps it otherwise)."""
        def build() -> Iterator[str]:
            pending = ""  # the engine streams a line and its newline in separate chunks
            for chunk in engine().api.build(path=str(context), tag=tag, buildargs=args, labels=labels or {},
                                            network_mode="host", forcerm=True, decode=True):
                if "error" in chunk:
                    if pending:
                        yield pending
                    yield " ".join(str(chunk["error"]).split())
                    raise _StepFailed("docker build")
                *complete, pending = (pending + str(chunk.get("stream") or chunk.get("status") or "")).split("\n")
                yield from complete
            if pending:
                yield pending

        self._logged(f"building {tag}", build(), log=log)

    def _run(self, what: str, command: list[str], *, log: str) -> None:
        """Run ``command`` (not Docker: see :meth:`_docker_build`), its output streamed to the log."""
        def run() -> Iterator[str]:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert process.stdout is not None
            yield from process.stdout
            code = process.wait()
            if code != 0:
                raise _StepFailed(f"exit {code}")

        self._logged(what, run(), log=log)

    def _logged(self, what: str, lines: Iterator[str], *, log: str) -> None:
        """Write ``lines`` to the step's log file as they come, the latest one on the status line."""
        log_file = self._mkdir(self.log_dir) / f"{log}.log"
        started = time.monotonic()
        try:
            with self.status(what) as status, log_file.open("w") as sink:
                for line in lines:
                    sink.write(line if line.endswith("\n") else line + "\n")
                    status.update(f"{what} — {line.strip()[:70]}")
        except (_StepFailed, DockerException, RequestException) as error:
            failure = str(error) if isinstance(error, _StepFailed) else " ".join(str(error).split())
            tail = [line for line in log_file.read_text().splitlines() if line.strip()][-1:] or ["no output"]
            raise ImageBuildError(f"{what} failed ({failure}): {tail[0]} — full log: {log_file}") from None
        self.say(f"{what}: done in {time.monotonic() - started:.0f} s")

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Held by one process of this machine at a time (pytest-xdist workers making the same image)."""
        with (self._mkdir(self.cache_dir / "locks") / f"{name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def status(self, what: str) -> Iterator[Status]:
        """A live status line while ``what`` goes on."""
        with self.console.status(what) as status:
            yield status

    def say(self, text: str) -> None:
        """One line of what was done."""
        self.console.print(f"[green]✓[/] {text}")

    @staticmethod
    def _mkdir(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path


class _StepFailed(Exception):
    """A build step ended in failure; the message says how (an exit code, the engine's error)."""


def _run_once(image: str, command: list[str], mounted: Path, *, timeout_s: float) -> tuple[bool, str]:
    """Run ``command`` in a throw-away container of ``image``, offline, with ``mounted`` read-only at
    ``/mattermost``: whether it finished within ``timeout_s``, and what it printed (stdout and stderr)."""
    container = engine().containers.create(
        image, command, network_mode="none", user="0", working_dir="/mattermost",
        volumes={str(mounted): {"bind": "/mattermost", "mode": "ro"}}, labels=suite_labels("version-probe"))
    try:
        container.start()
        try:
            code = container.wait(timeout=timeout_s)["StatusCode"]
        except RequestException:  # the wait timed out: the command still runs
            return False, ""
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        return True, output if output.strip() else f"exit code {code}"
    finally:
        with contextlib.suppress(DockerException):
            container.remove(force=True)
