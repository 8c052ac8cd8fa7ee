"""What ``--mattermost`` names: servers a user has, never release lines of the suite's own."""

import pytest

from mm_conformance.errors import UsageError
from mm_conformance.mattermost.servers import MattermostServer, external, image_server, oldest_first, select_servers

LOCAL = {"5.37.0": "mm-conformance/mattermost:5.37.0", "11.0.3": "mm-conformance/mattermost:11.0.3"}


def images(servers: list[MattermostServer]) -> list[str]:
    return [server.image for server in servers]


def test_without_a_choice_the_local_images_run_oldest_first():
    assert images(select_servers(None, LOCAL)) == ["mm-conformance/mattermost:5.37.0",
                                                   "mm-conformance/mattermost:11.0.3"]


def test_without_a_choice_or_a_local_image_the_official_esr_image_runs():
    (server,) = select_servers(None, {})
    assert server.image.startswith("mattermost/mattermost-team-edition:release-")


@pytest.mark.parametrize("spec, expected", [
    (["11.0.3"], ["mm-conformance/mattermost:11.0.3"]),                  # this machine's image of it
    (["10.11.4"], ["mattermost/mattermost-team-edition:10.11.4"]),       # else the official one
    (["5.37.0,11.0.3"], ["mm-conformance/mattermost:5.37.0", "mm-conformance/mattermost:11.0.3"]),
    (["11.0.3", "5.37.0", "11.0.3"], ["mm-conformance/mattermost:11.0.3", "mm-conformance/mattermost:5.37.0"]),
    (["mattermost/mattermost-enterprise-edition:11.0.3"], ["mattermost/mattermost-enterprise-edition:11.0.3"]),
    (["registry.local:5000/mm:dev"], ["registry.local:5000/mm:dev"]),
    (["latest"], ["mattermost/mattermost-team-edition:latest"]),
])
def test_each_value_names_an_image(spec, expected):
    assert images(select_servers(spec, LOCAL)) == expected


def test_versions_known_before_start_come_from_the_tag_or_the_label():
    assert image_server("mattermost/mattermost-team-edition:11.0.3").version == "11.0.3"
    assert image_server("registry.local:5000/mm:dev").version == ""
    assert image_server("registry.local:5000/mm").version == ""  # the port is not a tag
    assert select_servers(["local"], LOCAL)[0].version == "5.37.0"


def test_unknown_words_and_no_local_image_are_one_line_usage_errors():
    with pytest.raises(UsageError, match=r"^--mattermost '12' is neither a version"):
        select_servers(["12"], LOCAL)
    with pytest.raises(UsageError, match="images build --from"):
        select_servers(["local"], {})


def test_the_upgrade_goes_from_the_oldest_known_version():
    unknown = image_server("registry.local:5000/mm:dev")
    servers = [MattermostServer("b", "11.0.3"), unknown, MattermostServer("a", "5.37.0"), MattermostServer("c", "11.10.1")]
    assert [s.image for s in oldest_first(servers)] == ["a", "b", "c", unknown.image]


def test_ids_name_the_version_or_the_image():
    assert MattermostServer("mm-conformance/mattermost:5.37.0", "5.37.0").id == "5.37.0"
    assert image_server("mattermost/mattermost-team-edition:latest").id == "mattermost-team-edition-latest"
    assert external("https://staging.example.com/").id == "external"
    assert str(external("https://staging.example.com/")) == "the Mattermost at https://staging.example.com"


def test_with_several_servers_each_server_s_scenarios_share_one_scope():
    """pytest-xdist gives each server's scenarios to one worker: the scope is the server a test id names."""
    from mm_conformance.pytest_plugin.scheduling import server_scope

    servers = [MattermostServer("a:11.0", "11.0"), MattermostServer("b:11.0.3", "11.0.3"),
               MattermostServer("c:5.37.0", "5.37.0")]
    scenario = "steps/test_scenarios.py::test_tokens"
    assert server_scope(f"{scenario}[mm11.0.3-self-signed]", servers) == "11.0.3"
    assert server_scope(f"{scenario}[mm11.0.3]", servers) == "11.0.3"
    assert server_scope(f"{scenario}[mm11.0-self-signed]", servers) == "11.0"
    assert server_scope("steps/test_scenarios.py::test_upgrade[mm5.37.0-to-11.0.3]", servers) == "5.37.0"
    assert server_scope("tests/test_cli.py::test_other", servers) == "tests/test_cli.py::test_other"


def test_with_more_workers_than_servers_only_the_scenarios_that_need_extras_stay_together():
    """The extras start once, in the worker that runs every scenario needing them; each other
    scenario (a silent server's wait among them) goes to whichever worker is free."""
    from mm_conformance.pytest_plugin.scheduling import extras_needed, server_scope
    from mm_conformance.infra.silent import SILENCES

    servers = [MattermostServer("b:11.0.3", "11.0.3")]
    silent = "steps/test_scenarios.py::test_the_credential_gives_up_on_a_server_that_never_answers[mm11.0.3-{}]"
    for silence in SILENCES:
        assert server_scope(silent.format(silence), servers, dealt_out=True) == silent.format(silence)
        assert server_scope(silent.format(silence), servers) == "11.0.3"
    subpath = ("steps/test_scenarios.py::test_a_write_to_the_site_root_of_a_subpath_deployment_does_not_appear_"
               "to_work_and_posts_nothing[mm11.0.3]")
    assert extras_needed(subpath) == {"subpath"}
    assert server_scope(subpath, servers, dealt_out=True) == "11.0.3 (extras)"
    proxy = ("steps/test_scenarios.py::test_with_ignore_ssl_issues_off_a_certificate_that_validates_connects"
             "[mm11.0.3-the credential test-trusted]")
    assert extras_needed(proxy) == {"tls-proxy", "mattermost-tls"}
    plain = "steps/test_scenarios.py::test_tokens[mm11.0.3]"
    assert extras_needed(plain) == frozenset()
    assert server_scope(plain, servers, dealt_out=True) == plain


def test_with_several_servers_the_upgrade_is_one_scenario_through_each_newer_one_in_turn():
    """Collected only (no server is started): one scenario, the oldest upgraded through the others, oldest first."""
    import subprocess
    import sys
    from pathlib import Path

    servers = [f"--mattermost=mm-conformance-test/never-packaged:{v}" for v in ("10.11.6", "5.37.0", "9.11.18")]
    listed = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "steps", "--collect-only", "-q",
                             "-k", "upgrade", *servers], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    ids = [line for line in listed.stdout.splitlines() if "::" in line]
    assert ids == ["steps/test_scenarios.py::test_tokens_roles_and_the_token_setting_survive_every_step_of_an_"
                   "inplace_upgrade[mm5.37.0-to-9.11.18-10.11.6]"], listed.stdout + listed.stderr
