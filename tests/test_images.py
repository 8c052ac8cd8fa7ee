"""Packaging a Mattermost distribution, and the support images' bookkeeping.

The distribution here is a stand-in binary (a shell script that answers
``mattermost version``): it tests the packaging, never a scenario.
"""

import io
import subprocess
import tarfile

import pytest

from mm_conformance.errors import UsageError
from mm_conformance.infra.distribution import (
    context_digest,
    distribution_root,
    parse_version_output,
    unpack_distribution,
)
from mm_conformance.infra.engine import engine
from mm_conformance.infra.images import (
    BASE_IMAGE,
    SOURCE_DIGEST_LABEL,
    WEB_APP_LABEL,
    ImageBuilder,
    ImageBuildError,
    image_labels,
)
from mm_conformance.mattermost.servers import VERSION_LABEL

#: A stand-in for bin/mattermost: prints what `mattermost version` prints, as 11.0.3 does.
FAKE_BINARY = "#!/bin/sh\necho 'Version: 9.8.7'\necho 'Build Number: 9.8.7'\necho 'Build Hash: abcdef'\n"


def make_distribution(root, *, client: bool = False, binary: str = FAKE_BINARY):
    folder = root / "mattermost"
    for part in ("bin", "i18n", "templates", "fonts", "config"):
        (folder / part).mkdir(parents=True)
    (folder / "i18n" / "en.json").write_text("[]")
    (folder / "bin" / "mattermost").write_text(binary)
    (folder / "bin" / "mattermost").chmod(0o755)
    if client:
        (folder / "client").mkdir()
        (folder / "client" / "root.html").write_text("<!DOCTYPE html><title>the real web app</title>")
    return folder


def make_tarball(tmp_path, distribution):
    tarball = tmp_path / "mattermost-9.8.7-linux-amd64.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(distribution, arcname="mattermost")
    return tarball


def test_a_distribution_is_its_mattermost_folder_or_the_folder_above_it(tmp_path):
    folder = make_distribution(tmp_path)
    assert distribution_root(folder) == folder
    assert distribution_root(tmp_path) == folder


def test_a_path_that_is_not_a_distribution_is_a_one_line_error(tmp_path):
    with pytest.raises(UsageError, match=r"is not a Mattermost distribution: neither it nor its mattermost/ folder"):
        distribution_root(tmp_path)
    folder = make_distribution(tmp_path)
    (folder / "templates").rmdir()
    with pytest.raises(UsageError, match=r"it has no templates beside bin/mattermost$"):
        distribution_root(folder)


def test_a_tarball_unpacks_to_its_mattermost_folder(tmp_path):
    tarball = make_tarball(tmp_path, make_distribution(tmp_path / "src"))
    root = unpack_distribution(tarball, tmp_path / "unpacked")
    assert root == tmp_path / "unpacked" / "mattermost"
    assert (root / "bin" / "mattermost").read_text() == FAKE_BINARY


def test_a_tarball_that_escapes_its_folder_is_refused(tmp_path):
    tarball = tmp_path / "evil.tar"
    with tarfile.open(tarball, "w") as archive:
        entry = tarfile.TarInfo("../outside")
        entry.size = 2
        archive.addfile(entry, io.BytesIO(b"hi"))
    with pytest.raises(UsageError, match="is not a readable Mattermost release tarball"):
        unpack_distribution(tarball, tmp_path / "unpacked")
    assert not (tmp_path / "outside").exists()


def test_not_a_tarball_is_a_one_line_error(tmp_path):
    junk = tmp_path / "mattermost.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(UsageError, match="is not a readable Mattermost release tarball"):
        unpack_distribution(junk, tmp_path / "unpacked")


@pytest.mark.parametrize("output, version", [
    ("Version: 11.0.3\nBuild Number: 11.0.3\nBuild Date: Mon Oct 27\n", "11.0.3"),
    ("{\"level\":\"info\"}\nVersion: 5.37.0\nBuild Number: dev\n", "5.37.0"),
    ("Build Number: 11.0.3\n", ""),
    ("", ""),
])
def test_the_version_is_what_the_binary_prints(output, version):
    assert parse_version_output(output) == version


def test_context_digest_follows_names_and_contents(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM base\n")
    (tmp_path / "entrypoint.sh").write_text("exec postgres\n")
    before = context_digest(tmp_path)
    assert context_digest(tmp_path) == before
    (tmp_path / "entrypoint.sh").write_text("exec postgres -D data\n")
    changed = context_digest(tmp_path)
    assert changed != before
    (tmp_path / "entrypoint.sh").rename(tmp_path / "start.sh")
    assert context_digest(tmp_path) not in (before, changed)


@pytest.fixture
def base_image(docker_engine):
    if image_labels(BASE_IMAGE) is None:
        pytest.skip(f"infrastructure: {BASE_IMAGE} is not built (mm-conformance images build)")


def _remove(image: str) -> None:
    subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True)


@pytest.mark.usefixtures("base_image")
def test_packaging_a_tarball_tags_the_version_its_binary_reports_and_says_the_web_app_is_a_stand_in(tmp_path):
    tarball = make_tarball(tmp_path, make_distribution(tmp_path / "src"))
    builder = ImageBuilder(cache_dir=tmp_path / "cache")
    try:
        assert builder.package(tarball) == "mm-conformance/mattermost:9.8.7"
        labels = image_labels("mm-conformance/mattermost:9.8.7")
        assert labels[VERSION_LABEL] == "9.8.7" and labels[WEB_APP_LABEL] == "stand-in"
        page = subprocess.run(["docker", "run", "--rm", "--entrypoint", "cat", "mm-conformance/mattermost:9.8.7",
                               "/mattermost/client/root.html"], capture_output=True, text=True, check=True).stdout
        assert "<!DOCTYPE html>" in page
        again = builder.package(tarball)  # the same tarball: nothing to do
        assert again == "mm-conformance/mattermost:9.8.7"
        assert image_labels(again)[SOURCE_DIGEST_LABEL] == labels[SOURCE_DIGEST_LABEL]
    finally:
        _remove("mm-conformance/mattermost:9.8.7")


@pytest.mark.usefixtures("base_image")
def test_packaging_a_directory_keeps_its_own_web_app(tmp_path):
    folder = make_distribution(tmp_path, client=True)
    try:
        image = ImageBuilder(cache_dir=tmp_path / "cache").package(folder)
        assert image_labels(image)[WEB_APP_LABEL] == "distribution"
        page = subprocess.run(["docker", "run", "--rm", "--entrypoint", "cat", image, "/mattermost/client/root.html"],
                              capture_output=True, text=True, check=True).stdout
        assert "the real web app" in page
    finally:
        _remove("mm-conformance/mattermost:9.8.7")


@pytest.mark.usefixtures("base_image")
def test_a_binary_that_reports_no_version_is_a_one_line_error(tmp_path):
    folder = make_distribution(tmp_path, binary="#!/bin/sh\necho 'I am not Mattermost'\nexit 3\n")
    with pytest.raises(UsageError) as error:
        ImageBuilder(cache_dir=tmp_path / "cache").package(folder)
    assert "did not report a version (`mattermost version`: I am not Mattermost)" in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.usefixtures("base_image")
def test_a_build_that_fails_is_a_one_line_error_and_leaves_no_container(tmp_path):
    """The engine's API keeps a failed step's container unless told otherwise: nothing may stay behind."""
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nRUN echo building && exit 7\n")
    before = _containers_of(BASE_IMAGE)
    with pytest.raises(ImageBuildError) as error:
        ImageBuilder(cache_dir=tmp_path / "cache")._docker_build("mm-conformance-test/failing:build", context, {},
                                                                 log="failing")
    assert "exit" in str(error.value) and "\n" not in str(error.value)
    assert _containers_of(BASE_IMAGE) == before


def _containers_of(image: str) -> set[str]:
    """Every container, running or not, made from ``image`` (a build's steps run in such containers)."""
    return {container.id for container in engine().containers.list(all=True, filters={"ancestor": image})}
