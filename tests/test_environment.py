"""The implementation under test gets an allowlisted environment: never a secret of the suite's.

The full-run checks (a real server, container and external-server modes) are in
tests/test_external_mode.py and tests/test_adapter_environment.py; these need no server.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from pathlib import Path

import pytest

from mm_conformance.protocol.adapters import DECLARED_ENVIRONMENT, DEFAULT_TIMEOUTS, declared_environment, declared_timeout
from mm_conformance.protocol.environment import (adapter_environment, changes_what_is_tested, describe, parse_passed,
                                        starts_a_program)
from mm_conformance.errors import UsageError
from mm_conformance.protocol.runner import Implementation
from mm_conformance.protocol.wire import Credential

FAKES = Path(__file__).parent / "fake_adapters"
ADMIN_TOKEN = "a1b2c3d4e5f6g7h8i9j0k1l2m3"

#: What a CI runner and the suite itself put in the environment, none of it the implementation's.
SUITES_AND_RUNNERS = {
    "MM_CONFORMANCE_ADMIN_TOKEN": ADMIN_TOKEN, "MM_CONFORMANCE_RUN_ID": "ci-1", "MM_CONFORMANCE_CACHE": "/var/cache",
    "DOCKER_HOST": "tcp://10.0.0.1:2376", "TESTCONTAINERS_RYUK_DISABLED": "true", "TC_HOST": "10.0.0.1",
    "CI_JOB_TOKEN": "glcbt-secret", "GITHUB_TOKEN": "ghs_secret", "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "localhost", "NODE_TLS_REJECT_UNAUTHORIZED": "0",
    "SSL_CERT_FILE": "/etc/ssl/other.pem",
}
BASELINE = {"PATH": "/usr/bin:/bin", "HOME": "/home/ci", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp",
            "NODE_OPTIONS": "--max-old-space-size=512", "PYTHONPATH": "/src", "VIRTUAL_ENV": "/venv"}


def test_an_adapter_gets_what_a_program_needs_to_start_and_nothing_of_the_suites():
    env = adapter_environment(environ={**BASELINE, **SUITES_AND_RUNNERS})
    assert env == BASELINE


def test_passed_variables_reach_it_by_name_or_with_a_value():
    environ = {**BASELINE, **SUITES_AND_RUNNERS}
    passed = parse_passed(["HTTPS_PROXY", "LOG_LEVEL=debug", "EMPTY="], environ)
    assert passed == {"HTTPS_PROXY": "http://proxy:3128", "LOG_LEVEL": "debug", "EMPTY": ""}
    assert adapter_environment(passed=passed, environ=environ) == {**BASELINE, **passed}


def test_a_shipped_adapter_gets_the_setting_it_declares_and_only_that():
    environ = {**BASELINE, **SUITES_AND_RUNNERS, "MM_CONFORMANCE_REFERENCE_TIMEOUT": "3",
               "MM_CONFORMANCE_N8N_TIMEOUT": "4"}
    env = adapter_environment(declared=declared_environment("reference"), environ=environ)
    assert env == {**BASELINE, "MM_CONFORMANCE_REFERENCE_TIMEOUT": "3"}
    assert declared_environment("mine=n8n") == ("MM_CONFORMANCE_N8N_TIMEOUT",)
    assert declared_environment("python3 my_adapter.py") == ()
    for name, declared in DECLARED_ENVIRONMENT.items():  # a declaration never opens the suite's secrets
        assert adapter_environment(declared=declared, environ=SUITES_AND_RUNNERS) == {}, name


def test_a_shipped_adapter_declares_its_timeout_as_its_user_configured_it():
    assert set(DEFAULT_TIMEOUTS) == set(DECLARED_ENVIRONMENT)
    assert declared_timeout("n8n", {}) == DEFAULT_TIMEOUTS["n8n"]
    assert declared_timeout("mine=n8n", {"MM_CONFORMANCE_N8N_TIMEOUT": "30"}) == "30 s (MM_CONFORMANCE_N8N_TIMEOUT)"
    assert declared_timeout("python3 my_adapter.py", {"MM_CONFORMANCE_N8N_TIMEOUT": "30"}) is None


@pytest.mark.parametrize("value, says", [
    ("MM_CONFORMANCE_ADMIN_TOKEN", "--impl-env MM_CONFORMANCE_ADMIN_TOKEN: that is the suite's own variable"),
    ("DOCKER_HOST=tcp://x", "--impl-env DOCKER_HOST: that is the suite's own variable"),
    ("TESTCONTAINERS_HOST_OVERRIDE", "--impl-env TESTCONTAINERS_HOST_OVERRIDE: that is the suite's own variable"),
    ("NOT_SET_ANYWHERE", "--impl-env NOT_SET_ANYWHERE: NOT_SET_ANYWHERE is not set here"),
    ("9LIVES=1", "--impl-env '9LIVES': not a variable name"),
    ("=x", "--impl-env '': not a variable name"),
])
def test_a_bad_impl_env_is_one_line(value, says):
    with pytest.raises(UsageError) as error:
        parse_passed([value], SUITES_AND_RUNNERS)
    assert str(error.value).startswith(says) and "\n" not in str(error.value)


def test_what_changes_what_is_tested_is_said_by_name_never_by_value():
    assert not starts_a_program("NODE_TLS_REJECT_UNAUTHORIZED") and starts_a_program("NODE_OPTIONS")
    assert changes_what_is_tested(["LOG_LEVEL", "https_proxy", "NODE_EXTRA_CA_CERTS"]) == [
        "https_proxy", "NODE_EXTRA_CA_CERTS"]
    assert describe({}) is None
    line = describe({"HTTPS_PROXY": "http://user:pw@proxy:3128", "LOG_LEVEL": "debug"})
    assert line is not None and "pw@proxy" not in line
    assert line.startswith("implementations under test also get HTTPS_PROXY, LOG_LEVEL (--impl-env); "
                           "HTTPS_PROXY change what is tested")
    assert describe({"LOG_LEVEL": "debug"}) == "implementations under test also get LOG_LEVEL (--impl-env)"


def test_the_adapter_process_starts_with_exactly_that_environment(tmp_path, monkeypatch):
    """The suite's own process holds the admin token; the adapter it starts does not."""
    for name, value in SUITES_AND_RUNNERS.items():
        monkeypatch.setenv(name, value)
    report = tmp_path / "environment.jsonl"
    command = shlex.join([sys.executable, str(FAKES / "tells_environment.py"), str(report)])
    with Implementation("tells", command, timeout_s=10, env=adapter_environment(passed={"LOG_LEVEL": "debug"})) as impl:
        assert impl.check(Credential("kq4t3ym1mjdwpqkk3bxq5bfp4a", "http://127.0.0.1:9/")).outcome.ok
    seen = json.loads(report.read_text().splitlines()[0])
    # (Python itself may add LC_CTYPE as it starts: PEP 538's locale coercion, on the baseline too.)
    assert [name for name in seen["names"] if not starts_a_program(name)] == ["LOG_LEVEL"]
    assert "PATH" in seen["names"]
    assert hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest() not in seen["value_digests"]


def test_by_default_an_implementation_gets_the_baseline(tmp_path, monkeypatch):
    monkeypatch.setenv("MM_CONFORMANCE_ADMIN_TOKEN", ADMIN_TOKEN)
    report = tmp_path / "environment.jsonl"
    with Implementation("tells", shlex.join([sys.executable, str(FAKES / "tells_environment.py"), str(report)]),
                        timeout_s=10) as impl:
        impl.start()
        assert impl.check(Credential("kq4t3ym1mjdwpqkk3bxq5bfp4a", "http://127.0.0.1:9/")).outcome.ok
    assert "MM_CONFORMANCE_ADMIN_TOKEN" not in json.loads(report.read_text())["names"]
