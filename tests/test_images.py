import shutil

import pytest

from mm_conformance.errors import UsageError
from mm_conformance.images import RELEASES_FILE, pin_module_version, release_lines, select_lines


def test_release_lines_name_their_branch():
    lines = release_lines()
    assert lines["11.7"].branch == "release-11.7"
    assert lines["11.7"].image == "mm-conformance/mattermost:11.7"


@pytest.mark.parametrize("spec, expected", [
    ("11.7", ["11.7"]),
    ("11.7,11.10", ["11.7", "11.10"]),
    ("esr", ["11.7"]),
    ("latest", ["11.10"]),
    ("all", ["11.7", "11.10"]),
    ("esr,11.7", ["11.7"]),
])
def test_select_lines(spec, expected):
    assert [line.name for line in select_lines(spec)] == expected


def test_unknown_line_is_a_one_line_usage_error():
    with pytest.raises(UsageError) as error:
        select_lines("11.7,12.0")
    assert str(error.value) == "unknown Mattermost release line '12.0'; known: 11.7, 11.10 (or esr, latest, all)"


def test_pinning_keeps_comments_and_touches_one_line(tmp_path):
    copy = tmp_path / "releases.toml"
    shutil.copy(RELEASES_FILE, copy)
    line = release_lines(copy)["11.10"]
    pin_module_version(line, "v8.0.0-20261101000000-abcdefabcdef", copy)
    pinned = release_lines(copy)
    assert pinned["11.10"].module_version == "v8.0.0-20261101000000-abcdefabcdef"
    assert pinned["11.7"].module_version == release_lines()["11.7"].module_version
    assert copy.read_text().startswith("# Mattermost release lines")
