"""Build the images the suite's world runs, with no container registry at all.

Five kinds of image, each built only when it is missing or stale (building is idempotent):

``mm-conformance/base:bookworm``
    A Debian bookworm rootfs made by ``debootstrap --variant=minbase`` and turned
    into an image with ``docker import``.
``mm-conformance/postgres:15``
    Debian's PostgreSQL 15 on that base (Mattermost 11 needs PostgreSQL >= 14).
``mm-conformance/nginx:bookworm``
    Debian's nginx, the TLS-terminating proxy in front of Mattermost.
``mm-conformance/mattermost:<line>``
    The Mattermost server of one release line, built from the Go module
    ``github.com/mattermost/mattermost/server/v8`` at the pseudo-version pinned in
    ``docker/releases.toml``; also tagged with the version the server reports.
``mm-conformance/postgres:15-mattermost-<line>``
    A snapshot of a database that line's server migrated, so a deployment starts
    without running every migration (see :meth:`ImageBuilder.ensure_premigrated`).

Where images can be pulled, the official ``mattermost/mattermost-team-edition`` and
``postgres`` images work as well: see ``--mattermost-image`` and ``--postgres-image``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from .containers import migrate_and_snapshot
from .errors import InfrastructureError, UsageError

SUITE_ROOT = Path(__file__).resolve().parent.parent
DOCKER_DIR = SUITE_ROOT / "docker"
RELEASES_FILE = DOCKER_DIR / "releases.toml"
MODULE = "github.com/mattermost/mattermost/server/v8"
PUBLIC_MODULE = "github.com/mattermost/mattermost/server/public"

BASE_IMAGE = "mm-conformance/base:bookworm"
POSTGRES_IMAGE = "mm-conformance/postgres:15"
NGINX_IMAGE = "mm-conformance/nginx:bookworm"
DEBIAN_MIRROR = os.environ.get("MM_CONFORMANCE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CACHE_DIR = Path(os.environ.get("MM_CONFORMANCE_CACHE", "/var/cache/mm-conformance"))
MODULE_VERSION_LABEL = "io.github.mm-conformance.module-version"
#: A digest of the files an image is built from: a changed Dockerfile or script means a rebuild.
CONTEXT_DIGEST_LABEL = "io.github.mm-conformance.context-digest"


class ImageBuildError(InfrastructureError):
    """An image could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class ReleaseLine:
    """One Mattermost release line, e.g. ``11.7`` from branch ``release-11.7``."""

    name: str
    branch: str
    role: str
    module_version: str

    @property
    def image(self) -> str:
        return f"mm-conformance/mattermost:{self.name}"

    @property
    def premigrated_image(self) -> str:
        """PostgreSQL with a database this line's server has migrated: a start without migrations."""
        return f"{POSTGRES_IMAGE}-mattermost-{self.name}"

    @property
    def blocked_note(self) -> Path:
        """Where a failed build leaves its reason, for the scenarios' skip message."""
        return CACHE_DIR / f"mattermost-{self.name}.unavailable"

    @property
    def why_unavailable(self) -> str:
        """Why the last build of this line failed, or "" (no note: built, or never tried)."""
        return self.blocked_note.read_text().strip() if self.blocked_note.exists() else ""


def release_lines(path: Path = RELEASES_FILE) -> dict[str, ReleaseLine]:
    """The release lines pinned in ``docker/releases.toml``, by name."""
    data = tomllib.loads(path.read_text())
    return {
        name: ReleaseLine(name, entry["branch"], entry.get("role", ""), entry.get("module_version", ""))
        for name, entry in data["lines"].items()
    }


def select_lines(spec: str, path: Path = RELEASES_FILE) -> list[ReleaseLine]:
    """Parse ``--mattermost``: ``11.7,11.10``, a role (``esr``, ``latest``, ``previous-esr``) or ``all``."""
    known = release_lines(path)
    chosen: list[ReleaseLine] = []
    for word in (w.strip() for w in spec.split(",")):
        if word == "all":
            matches = list(known.values())
        elif word in known:
            matches = [known[word]]
        else:
            matches = [line for line in known.values() if line.role == word]
        if not matches:
            raise UsageError(
                f"unknown Mattermost release line {word!r}; known: {', '.join(known)} (or esr, latest, previous-esr, all)"
            )
        chosen += [m for m in matches if m not in chosen]
    return chosen


def pin_module_version(line: ReleaseLine, version: str, path: Path = RELEASES_FILE) -> None:
    """Write a resolved pseudo-version into ``docker/releases.toml``, keeping its comments."""
    text = path.read_text()
    section = re.compile(
        rf'(\[lines\."{re.escape(line.name)}"\][^\[]*?module_version = )"[^"]*"', re.DOTALL
    )
    new_text, count = section.subn(rf'\g<1>"{version}"', text)
    if count != 1:
        raise UsageError(f"could not find module_version of line {line.name} in {path}")
    path.write_text(new_text)


def commit_of(pseudo_version: str) -> str:
    """The commit a Go pseudo-version names: ``v8.0.0-20251229192601-96f159c25115`` → ``96f159c25115``."""
    found = re.fullmatch(r"v\d+\.\d+\.\d+-(?:[0-9A-Za-z.]+\.)?(?:0\.)?\d{14}-([0-9a-f]{12})(?:\+incompatible)?",
                         pseudo_version)
    if not found:
        raise UsageError(f"{pseudo_version!r} is not a Go pseudo-version (docker/releases.toml pins one per line)")
    return found.group(1)


def build_identity_ldflags(version: str, commit: str) -> str:
    """The ``-X`` flags Mattermost's release build sets, so the server reports itself as released ones do."""
    model = f"{PUBLIC_MODULE}/model"
    return " ".join([
        f"-X {model}.BuildNumber={version}",
        f"-X '{model}.BuildDate={time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime())}'",
        f"-X {model}.BuildHash={commit}",
        f"-X {model}.BuildHashEnterprise=none",
        f"-X {model}.BuildEnterpriseReady=false",
    ])


def reported_version(public_module_dir: Path) -> str:
    """The version the server reports: the first entry of ``model/version.go``'s list."""
    text = (public_module_dir / "model" / "version.go").read_text()
    found = re.search(r'var versions = \[\]string\{\s*"([^"]+)"', text)
    if not found:
        raise ImageBuildError(f"cannot read the server version from {public_module_dir}/model/version.go")
    return found.group(1)


def _writable_copy(module_dir: Path, target: Path) -> None:
    """Copy a module out of the read-only module cache, so the build may edit its go.mod and go.sum."""
    shutil.copytree(module_dir, target, copy_function=shutil.copy)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)


def context_digest(directory: Path) -> str:
    """A digest of every file under ``directory``, names and contents."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def docker_available() -> None:
    """Raise a one-line InfrastructureError when no Docker engine answers."""
    try:
        result = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True, timeout=20,
        )
    except FileNotFoundError:
        raise InfrastructureError("the docker command is not installed (Debian: apt-get install docker.io)") from None
    except subprocess.TimeoutExpired:
        raise InfrastructureError("the Docker engine did not answer within 20 s") from None
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        raise InfrastructureError(f"the Docker engine is not reachable: {first}")


def image_labels(image: str) -> dict[str, str] | None:
    """The labels of a local image, or None when it is not present."""
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        return None
    return json.loads(result.stdout or "null") or {}


class ImageBuilder:
    """Builds missing images step by step, showing progress and keeping each step's log.

    >>> builder = ImageBuilder()
    >>> builder.ensure_postgres()          # builds the base image first when needed
    >>> builder.ensure_mattermost(select_lines("esr")[0])
    """

    def __init__(self, console: Console | None = None, cache_dir: Path = CACHE_DIR) -> None:
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.cache_dir = cache_dir
        self.log_dir = cache_dir / "logs"

    # -- the three images ---------------------------------------------------------

    def ensure_base(self) -> None:
        if image_labels(BASE_IMAGE) is not None:
            self._say(f"{BASE_IMAGE} present")
            return
        with tempfile.TemporaryDirectory(dir=self._mkdir(self.cache_dir)) as work:
            self._run(
                f"building {BASE_IMAGE} (debootstrap, about a minute)",
                [str(DOCKER_DIR / "base" / "build-rootfs.sh"), BASE_IMAGE, work, DEBIAN_MIRROR],
                log="base",
            )

    def ensure_postgres(self) -> None:
        """Debian's PostgreSQL 15, the database Mattermost runs on."""
        self._ensure_on_base(POSTGRES_IMAGE, "postgres")

    def ensure_nginx(self) -> None:
        """nginx from Debian, the TLS proxy in front of Mattermost (see mm_conformance/proxy.py)."""
        self._ensure_on_base(NGINX_IMAGE, "nginx")

    def _ensure_on_base(self, tag: str, directory: str) -> None:
        digest = context_digest(DOCKER_DIR / directory)
        labels = image_labels(tag)
        if labels is not None and labels.get(CONTEXT_DIGEST_LABEL) == digest:
            self._say(f"{tag} present")
            return
        self.ensure_base()
        self._docker_build(tag, DOCKER_DIR / directory, {"BASE_IMAGE": BASE_IMAGE}, log=directory,
                           labels={CONTEXT_DIGEST_LABEL: digest})

    def ensure_mattermost(self, line: ReleaseLine) -> str:
        """Build the server image of ``line`` unless an image of its pinned version exists."""
        labels = image_labels(line.image)
        if labels is not None and labels.get(MODULE_VERSION_LABEL) == line.module_version:
            self._say(f"{line.image} present ({labels.get('org.mattermost.version', '?')})")
            return line.image
        try:
            self._build_mattermost(line)
        except ImageBuildError as error:
            self._mkdir(self.cache_dir)
            line.blocked_note.write_text(str(error) + "\n")
            raise
        line.blocked_note.unlink(missing_ok=True)
        return line.image

    def ensure_premigrated(self, line: ReleaseLine) -> str:
        """Snapshot a database migrated by ``line``'s server, unless a snapshot of its pinned version exists.

        A fresh server then starts without running every migration on an empty
        database (issue 10: seconds instead of a minute). The snapshot has no user:
        each deployment still makes its own first user, the system admin.
        """
        labels = image_labels(line.premigrated_image)
        if labels is not None and labels.get(MODULE_VERSION_LABEL) == line.module_version:
            self._say(f"{line.premigrated_image} present")
            return line.premigrated_image
        with self._status(f"migrating an empty database with Mattermost {line.name} (once per pinned version)"):
            started = time.monotonic()
            try:
                migrate_and_snapshot(line.image, POSTGRES_IMAGE, line.premigrated_image,
                                     {MODULE_VERSION_LABEL: line.module_version})
            except InfrastructureError:
                raise
            except Exception as error:  # Docker's, testcontainers' or a timeout: one line, with its cause
                raise ImageBuildError(f"snapshotting a migrated database for Mattermost {line.name} failed: "
                                      f"{type(error).__name__}: {error}") from None
        self._say(f"{line.premigrated_image}: done in {time.monotonic() - started:.0f} s")
        return line.premigrated_image

    def resolve(self, line: ReleaseLine) -> str:
        """Resolve the line's release branch to a pseudo-version through the Go module proxy."""
        result = self._go(["list", "-m", "-json", f"{MODULE}@{line.branch}"], cwd=self._scratch_module())
        return json.loads(result)["Version"]

    # -- Mattermost from the Go module --------------------------------------------

    def _build_mattermost(self, line: ReleaseLine) -> None:
        if not line.module_version:
            # Say whether pinning would help: the usual cause here is a proxy that refuses the module.
            try:
                resolved = self.resolve(line)
            except ImageBuildError as error:
                raise ImageBuildError(f"release line {line.name} is not pinned and cannot be resolved: {error}") from None
            raise ImageBuildError(
                f"release line {line.name} is not pinned: {line.branch} resolves to {resolved}; run "
                f"`mm-conformance images resolve --mattermost {line.name}` and commit docker/releases.toml"
            )
        with self._status(f"downloading {MODULE}@{line.module_version}"):
            server = json.loads(self._go(["mod", "download", "-json", f"{MODULE}@{line.module_version}"],
                                         cwd=self._scratch_module()))
            # server/v8 compiles against server/public *at the same commit*: the tagged
            # server/public named in its go.mod lags the tree (Mattermost's own build puts
            # ./public in a go.work for that reason), and the module zip leaves ./public out.
            public = json.loads(self._go(
                ["mod", "download", "-json", f"{PUBLIC_MODULE}@{commit_of(line.module_version)}"],
                cwd=self._scratch_module()))
        with tempfile.TemporaryDirectory(dir=self._mkdir(self.cache_dir)) as work:
            context = Path(work)
            source = context / "src"
            _writable_copy(Path(server["Dir"]), source)
            _writable_copy(Path(public["Dir"]), source / "public")
            version = reported_version(source / "public")
            self._go(["mod", "edit", f"-replace={PUBLIC_MODULE}=./public"], cwd=source)
            app = context / "mattermost"
            env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod -buildvcs=false"}
            # As Mattermost's release build does (server/build/release.mk): the `production`
            # tag and the build identity in ldflags, but neither `enterprise` nor
            # `sourceavailable`: the team edition's code path.
            self._run(
                f"compiling mattermost {version} (several minutes on 2 cores)",
                ["go", "build", "-trimpath", "-tags", "production",
                 "-ldflags", build_identity_ldflags(version, commit_of(line.module_version)),
                 "-o", str(app / "bin" / "mattermost"), "./cmd/mattermost"],
                log=f"mattermost-{line.name}-go", cwd=source, env=env,
            )
            for assets in ("i18n", "templates", "fonts"):
                if (source / assets).is_dir():
                    shutil.copytree(source / assets, app / assets)
            shutil.copytree(DOCKER_DIR / "mattermost" / "client", app / "client")
            shutil.copy(DOCKER_DIR / "mattermost" / "Dockerfile", context / "Dockerfile")
            self.ensure_base()
            self._docker_build(
                line.image, context,
                {"BASE_IMAGE": BASE_IMAGE, "MATTERMOST_VERSION": version, "MODULE_VERSION": line.module_version},
                log=f"mattermost-{line.name}", extra_tags=[f"mm-conformance/mattermost:{version}"],
            )

    # -- plumbing -----------------------------------------------------------------

    def _docker_build(self, tag: str, context: Path, args: dict[str, str], *, log: str,
                      extra_tags: list[str] | None = None, labels: dict[str, str] | None = None) -> None:
        command = ["docker", "build", "--network", "host", "-t", tag]
        for extra in extra_tags or []:
            command += ["-t", extra]
        for key, value in (labels or {}).items():
            command += ["--label", f"{key}={value}"]
        for key, value in args.items():
            command += ["--build-arg", f"{key}={value}"]
        self._run(f"building {tag}", command + [str(context)], log=log)

    def _scratch_module(self) -> Path:
        """An empty module to run `go mod download` / `go list -m` in."""
        scratch = self._mkdir(self.cache_dir / "go-scratch")
        if not (scratch / "go.mod").exists():
            (scratch / "go.mod").write_text("module mmconformance/scratch\n\ngo 1.22\n")
        return scratch

    def _go(self, args: list[str], *, cwd: Path) -> str:
        result = subprocess.run(["go", *args], cwd=cwd, capture_output=True, text=True,
                                env={**os.environ, "GOFLAGS": "-mod=mod"})
        if result.returncode != 0:
            reason = " ".join(result.stderr.split()) or f"exit code {result.returncode}"
            raise ImageBuildError(f"go {' '.join(args)} failed: {reason}")
        return result.stdout

    def _run(self, what: str, command: list[str], *, log: str, cwd: Path | None = None,
             env: dict[str, str] | None = None) -> None:
        log_file = self._mkdir(self.log_dir) / f"{log}.log"
        started = time.monotonic()
        with self._status(what) as status, log_file.open("w") as sink:
            process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
            assert process.stdout is not None
            for line in process.stdout:
                sink.write(line)
                status.update(f"{what} — {line.strip()[:70]}")
            code = process.wait()
        if code != 0:
            tail = [l for l in log_file.read_text().splitlines() if l.strip()][-1:] or ["no output"]
            raise ImageBuildError(f"{what} failed (exit {code}): {tail[0]} — full log: {log_file}")
        self._say(f"{what}: done in {time.monotonic() - started:.0f} s")

    @contextmanager
    def _status(self, what: str) -> Iterator:
        with self.console.status(what) as status:
            yield status

    def _say(self, text: str) -> None:
        self.console.print(f"[green]✓[/] {text}")

    @staticmethod
    def _mkdir(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path
