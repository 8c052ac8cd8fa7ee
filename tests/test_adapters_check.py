"""``mm-conformance adapters check``: every shipped adapter passes, every fake adapter that breaks
protocol v1 fails, on the check that names what it broke, with the reason.

No Mattermost and no network: the check points each adapter at HTTP servers of its own on
127.0.0.1 and at a port there that refuses connections (mm_conformance/protocol/loopback.py).
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mm_conformance.protocol.adapters import (
    KNOWN_IMPLEMENTATIONS,
    AdapterNotInstalled,
    declared_environment,
    implementation_command,
)
from mm_conformance.protocol.check import (
    BAD_REQUEST,
    CHECKS,
    ERROR_KINDS,
    EXITS,
    FLUSHES,
    OPERATIONS,
    STARTS,
    Verdict,
    check_adapter,
)
from mm_conformance.protocol.environment import adapter_environment

ROOT = Path(__file__).resolve().parent.parent
FAKES = Path(__file__).resolve().parent / "fake_adapters"
#: A Mattermost-shaped token, as the check makes them: it must never show in what the check prints.
TOKEN_SHAPE = re.compile(r"\b[a-z0-9]{26}\b")


def fake(name: str, *args: str) -> str:
    return shlex.join([sys.executable, str(FAKES / f"{name}.py"), *args])


def quick_check(command: str) -> dict[str, Verdict]:
    """The check with short waits (a fake that hangs costs the answer timeout, one that stays the exit
    grace), by check."""
    return by_check(check_adapter(command, timeout_s=3.0, startup_s=2.0, exit_grace_s=1.0))


def by_check(verdicts: list[Verdict]) -> dict[str, Verdict]:
    assert [verdict.check for verdict in verdicts] == list(CHECKS)  # every check, in order, each once
    return {verdict.check: verdict for verdict in verdicts}


@pytest.mark.parametrize("name", list(KNOWN_IMPLEMENTATIONS))
def test_every_shipped_adapter_speaks_protocol_v1(name: str) -> None:
    try:
        command = implementation_command(name)
    except AdapterNotInstalled as error:
        pytest.skip(f"infrastructure: {error}")
    verdicts = check_adapter(command, env=adapter_environment(declared=declared_environment(name)))
    failed = [f"{verdict.check}: {verdict.detail}" for verdict in verdicts if not verdict.passed]
    assert not failed, failed


# Each fake adapter of tests/fake_adapters/, as it breaks the protocol: its arguments, the check
# that fails first, and what that check's line says.
BROKEN = {
    "crash_after_first": ((), OPERATIONS,
                          "exited with code 3 before answering request 102 (GET users/me, the server answers 200); "
                          "last stderr: fake adapter: giving up"),
    "echo_ok": ((), ERROR_KINDS,
                'a "test", the server answers 200: answered without any request reaching the server'),
    "garbage": ((), OPERATIONS, "printed a line that is not JSON: 'hello' (expected the answer to request 101"),
    "greets": ((), OPERATIONS, "printed a line that is not JSON: 'adapter ready'"),
    "hang": ((), STARTS, 'did not answer request 101 (a "test", the server answers 200) within 5 s, its start-up '
                         "included"),
    "leaky": (("garbage",), OPERATIONS, "printed a line that is not JSON: 'token=[redacted] is what I got'"),
    "slow_ok": ((), ERROR_KINDS, 'POST posts to a port that refuses connections: answered "auth" (status 401), '
                                 'not "network"'),
    "tells_environment": (("{tmp}/environment.jsonl",), ERROR_KINDS, "answered without any request reaching"),
    "tells_token": (("nowhere",), ERROR_KINDS, 'refuses connections: answered "auth" (status 401), not "network"'),
    "wrong_id": ((), OPERATIONS, "answered id 102 to request 101"),
    "unflushed": ((), FLUSHES, "an answer arrived only when its stdin closed: end each answer line with a newline "
                               "and flush stdout after it"),
    "stays_after_eof": ((), EXITS, "still running 1.0 s after its stdin closed"),
    "dies_on_bad_line": ((), BAD_REQUEST, "after a line that is not JSON: exited with code 1 before answering "
                                          "request 107 (a request of protocol version 2); last stderr: "
                                          "json.decoder.JSONDecodeError"),
}


def test_every_fake_adapter_has_its_expectation() -> None:
    assert sorted(BROKEN) == sorted(path.stem for path in FAKES.glob("*.py"))


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, Verdict]]:
    """The check's verdicts on a fake adapter, by check; each fake is checked once per module."""
    tmp = tmp_path_factory.mktemp("fake-adapters")

    @functools.cache
    def check(name: str) -> dict[str, Verdict]:
        args = (arg.format(tmp=tmp) for arg in BROKEN[name][0])
        return quick_check(fake(name, *args))

    return check


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_fake_adapter_that_breaks_the_protocol_fails_with_the_reason(
        name: str, checked: Callable[[str], dict[str, Verdict]]) -> None:
    _, failing, reason = BROKEN[name]
    verdicts = checked(name)
    first_failure = next(verdict for verdict in verdicts.values() if verdict.passed is False)
    assert (first_failure.check, reason in first_failure.detail) == (failing, True), first_failure
    for verdict in verdicts.values():
        assert "\n" not in verdict.detail and not TOKEN_SHAPE.search(verdict.detail), verdict
    assert all(verdicts[check].passed for check in CHECKS[:CHECKS.index(failing)]), verdicts


def test_an_adapter_that_hangs_is_also_judged_on_its_exit(checked: Callable[[str], dict[str, Verdict]]) -> None:
    verdicts = checked("hang")
    assert verdicts[EXITS].passed is False and "still running" in verdicts[EXITS].detail
    assert verdicts[OPERATIONS].passed is None and verdicts[OPERATIONS].detail.startswith("not run: ")


def test_a_buffered_answer_fails_the_flush_check_not_the_start(checked: Callable[[str], dict[str, Verdict]]) -> None:
    verdicts = checked("unflushed")
    assert verdicts[STARTS].passed is True and "only when its stdin closed" in verdicts[STARTS].detail
    assert verdicts[FLUSHES].passed is False and verdicts[EXITS].passed is True


def test_a_program_that_does_not_exist_fails_to_start() -> None:
    verdicts = quick_check("/nonexistent/adapter --flag")
    assert verdicts[STARTS].passed is False
    assert verdicts[STARTS].detail.startswith("could not be started: [Errno 2] No such file or directory")
    assert all(verdict.passed is None for check, verdict in verdicts.items() if check != STARTS)


# --- the command line -------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mm_conformance", "adapters", "check", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def test_the_command_passes_the_reference_in_one_line_per_check() -> None:
    result = run_cli("reference")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("reference: ") and "mm_conformance.protocol.reference" in lines[0]
    assert [line.split()[0] for line in lines[1:-1]] == ["pass"] * len(CHECKS)
    assert lines[-1].startswith(f"it speaks protocol v1: {len(CHECKS)} of {len(CHECKS)} checks pass (")


def test_the_command_fails_a_broken_adapter_with_exit_1_and_the_reason() -> None:
    result = run_cli(fake("wrong_id"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"  FAIL     {OPERATIONS}: answered id 102 to request 101" in result.stdout
    assert "it does not speak protocol v1 yet: 1 check(s) fail" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_the_command_names_the_published_schema() -> None:
    result = subprocess.run([sys.executable, "-m", "mm_conformance", "adapters", "schema"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and Path(result.stdout.strip()).name == "protocol-v1.schema.json"
    assert Path(result.stdout.strip()).is_file()


@pytest.mark.parametrize(("args", "env", "error"), [
    ((), {}, "mm-conformance: error: adapters check needs an adapter: a shipped one's name (reference, "),
    (("python3 'unbalanced",), {}, "is not a valid command line: No closing quotation"),
    (("reference", "--adapter-timeout", "0"), {}, "--adapter-timeout needs a positive number of seconds, not 0"),
    (("n8n",), {"MM_CONFORMANCE_CACHE": "/nonexistent"}, "n8n adapter"),
], ids=["no adapter", "bad command line", "bad timeout", "shipped adapter not installed"])
def test_bad_usage_is_a_one_line_error_with_exit_2(args: tuple[str, ...], env: dict[str, str], error: str) -> None:
    result = run_cli(*args, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and error in lines[0], result.stderr
