import shutil

import pytest

from mm_conformance.errors import UsageError
from mm_conformance.images import (
    RELEASES_FILE,
    ImageBuildError,
    _writable_copy,
    build_identity_ldflags,
    commit_of,
    context_digest,
    pin_module_version,
    release_lines,
    reported_version,
    select_lines,
)


def test_release_lines_name_their_branch():
    lines = release_lines()
    assert lines["11.7"].branch == "release-11.7"
    assert lines["11.7"].image == "mm-conformance/mattermost:11.7"


@pytest.mark.parametrize("spec, expected", [
    ("11.7", ["11.7"]),
    ("11.7,11.10", ["11.7", "11.10"]),
    ("esr", ["11.7"]),
    ("latest", ["11.10"]),
    ("previous-esr", ["10.11"]),
    ("all", ["10.11", "11.7", "11.10"]),
    ("esr,11.7", ["11.7"]),
])
def test_select_lines(spec, expected):
    assert [line.name for line in select_lines(spec)] == expected


def test_unknown_line_is_a_one_line_usage_error():
    with pytest.raises(UsageError) as error:
        select_lines("11.7,12.0")
    assert str(error.value) == "unknown Mattermost release line '12.0'; known: 10.11, 11.7, 11.10 (or esr, latest, previous-esr, all)"


def test_pinning_keeps_comments_and_touches_one_line(tmp_path):
    copy = tmp_path / "releases.toml"
    shutil.copy(RELEASES_FILE, copy)
    line = release_lines(copy)["11.10"]
    pin_module_version(line, "v8.0.0-20261101000000-abcdefabcdef", copy)
    pinned = release_lines(copy)
    assert pinned["11.10"].module_version == "v8.0.0-20261101000000-abcdefabcdef"
    assert pinned["11.7"].module_version == release_lines()["11.7"].module_version
    assert copy.read_text().startswith("# Mattermost release lines")


@pytest.mark.parametrize(
    ("pseudo_version", "commit"),
    [
        ("v8.0.0-20251229192601-96f159c25115", "96f159c25115"),
        ("v8.1.0-rc1.0.20251229192601-96f159c25115", "96f159c25115"),
        ("v8.0.1-0.20251229192601-96f159c25115", "96f159c25115"),
    ],
)
def test_commit_of_a_pseudo_version(pseudo_version, commit):
    assert commit_of(pseudo_version) == commit


def test_a_tag_is_not_a_pseudo_version():
    with pytest.raises(UsageError, match="not a Go pseudo-version"):
        commit_of("v8.1.2")


def test_build_identity_is_a_team_edition_release(tmp_path):
    flags = build_identity_ldflags("11.7.3", "96f159c25115")
    assert "model.BuildNumber=11.7.3" in flags
    assert "model.BuildHash=96f159c25115" in flags
    assert "model.BuildEnterpriseReady=false" in flags
    assert "'github.com/mattermost/mattermost/server/public/model.BuildDate=" in flags  # quoted: it has spaces


def test_reported_version_is_the_first_of_the_list(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "version.go").write_text(
        'package model\n\nvar versions = []string{\n\t"11.7.3",\n\t"11.7.2",\n}\n')
    assert reported_version(tmp_path) == "11.7.3"
    (tmp_path / "model" / "version.go").write_text("package model\n")
    with pytest.raises(ImageBuildError, match="cannot read the server version"):
        reported_version(tmp_path)


def test_module_cache_copy_is_writable(tmp_path):
    cached = tmp_path / "cache" / "mod@v1"
    (cached / "pkg").mkdir(parents=True)
    (cached / "go.mod").write_text("module x\n")
    for path in (cached / "go.mod", cached / "pkg", cached):
        path.chmod(0o444 if path.is_file() else 0o555)  # as the Go module cache leaves them
    copy = tmp_path / "src"
    _writable_copy(cached, copy)
    # Modes, not writes: the suite runs as root, which could write read-only files anyway.
    for path in (copy, copy / "go.mod", copy / "pkg"):
        assert path.stat().st_mode & 0o200, f"{path} is not writable by its owner"
    assert (copy / "go.mod").read_text() == "module x\n"


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
