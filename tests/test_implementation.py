"""Running an adapter: answers become Observations, misbehaviour becomes AdapterFailure, fast."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mm_conformance.protocol.runner import AdapterFailure, Implementation, Observation, reference_command
from mm_conformance.protocol.wire import ApiRequest, Credential, ErrorKind, Outcome
from mm_conformance.redact import clear_secrets, register_secret

FAKES = Path(__file__).parent / "fake_adapters"
TOKEN = "kq4t3ym1mjdwpqkk3bxq5bfp4a"
CREDENTIAL = Credential(TOKEN, "https://127.0.0.1:41234/")


def fake(name: str, *args: str) -> str:
    return shlex.join([sys.executable, str(FAKES / f"{name}.py"), *args])


@pytest.fixture
def implementations() -> Iterator[list[Implementation]]:
    """Implementations a test made; all closed, and their processes checked gone, afterwards."""
    made: list[Implementation] = []
    yield made
    for impl in made:
        process = impl.process
        impl.close()
        assert process is None or process.poll() is not None


@pytest.fixture
def start(implementations: list[Implementation]):
    def start(name: str, *args: str, timeout_s: float = 2.0, **kwargs: object) -> Implementation:
        impl = Implementation(name, fake(name, *args), timeout_s=timeout_s, **kwargs)  # type: ignore[arg-type]
        implementations.append(impl)
        return impl

    return start


def test_check_and_request_become_observations(start) -> None:
    impl = start("echo_ok")
    checked = impl.check(CREDENTIAL, ca_file="/tmp/ca.pem")
    assert checked.operation == "test" and checked.request is None and checked.ca_file == "/tmp/ca.pem"
    assert checked.outcome.ok and checked.outcome.status == 200
    assert checked.outcome.body["operation"] == "test"
    assert checked.outcome.body["baseUrl"] == "https://127.0.0.1:41234/"
    assert checked.outcome.body["caFile"] == "/tmp/ca.pem"
    api = ApiRequest("GET", "users/me", {"page": "0"})
    requested = impl.request(CREDENTIAL, api)
    assert requested.outcome.body["request"] == {**api.to_wire(), "query": {"page": "0"}}
    assert requested.outcome.body["id"] > checked.outcome.body["id"]  # ids increase
    assert requested.elapsed_s >= 0
    assert requested.describe() == "GET users/me?page=0 -> 200 ok"


def test_slow_answer_within_the_timeout_is_fine_and_blank_lines_are_ignored(start) -> None:
    impl = start("slow_ok", timeout_s=2.0)
    observation = impl.check(CREDENTIAL)
    assert observation.elapsed_s >= 0.5
    assert observation.outcome.error_kind is ErrorKind.AUTH
    assert observation.describe() == "test -> 401 auth: Invalid or expired session, please login again."


def test_hang_is_a_timeout_failure_and_the_process_is_killed(start) -> None:
    impl = start("hang", timeout_s=1.0)
    began = time.monotonic()
    with pytest.raises(AdapterFailure) as caught:
        impl.check(CREDENTIAL)
    assert time.monotonic() - began < 2.5
    command = fake("hang")
    assert str(caught.value) == f'adapter "hang" ({command}) did not answer request 1 within 1.0 s'
    assert caught.value.name == "hang"
    assert impl.process is None


def test_crash_names_the_exit_code_and_last_stderr_then_restarts(start) -> None:
    impl = start("crash_after_first")
    impl.check(CREDENTIAL)
    first_process = impl.process
    with pytest.raises(AdapterFailure) as caught:
        impl.check(CREDENTIAL)
    message = str(caught.value)
    assert message.startswith('adapter "crash_after_first" (')
    assert "exited with code 3 before answering request 2; last stderr: fake adapter: giving up" in message
    assert first_process is not None and first_process.poll() is not None  # reaped: no zombie
    # The next call starts a fresh process, and ids keep increasing.
    assert impl.check(CREDENTIAL).outcome.ok
    assert impl.process is not None and impl.process is not first_process


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "printed a line that is not JSON: 'hello' (expected the answer to request 1)"),
        (('{"id": 1, "ok": true}',), 'printed a response without "status"'),
    ],
)
def test_garbage_is_a_protocol_failure(start, args: tuple[str, ...], expected: str) -> None:
    impl = start("garbage", *args)
    with pytest.raises(AdapterFailure, match=r'^adapter "garbage" \(') as caught:
        impl.check(CREDENTIAL)
    assert expected in str(caught.value)


def test_wrong_id_is_a_failure(start) -> None:
    impl = start("wrong_id")
    with pytest.raises(AdapterFailure) as caught:
        impl.check(CREDENTIAL)
    assert str(caught.value).endswith("answered id 2 to request 1")


def test_command_that_cannot_start(implementations: list[Implementation]) -> None:
    impl = Implementation("missing", "/nonexistent/adapter --flag", timeout_s=1.0)
    implementations.append(impl)
    expected = r'^adapter "missing" \(/nonexistent/adapter --flag\) could not be started: .*No such file'
    with pytest.raises(AdapterFailure, match=expected):
        impl.check(CREDENTIAL)


def test_adapter_that_exits_at_once(implementations: list[Implementation]) -> None:
    command = shlex.join([sys.executable, "-c", "import sys; sys.exit(4)"])
    impl = Implementation("quitter", command, timeout_s=2.0)
    implementations.append(impl)
    with pytest.raises(AdapterFailure, match="exited with code 4 before answering request 1; no stderr output"):
        impl.check(CREDENTIAL)


def test_close_ends_the_process_and_is_idempotent(start) -> None:
    impl = start("echo_ok")
    impl.check(CREDENTIAL)
    process = impl.process
    impl.close()
    impl.close()
    assert process is not None and process.poll() == 0  # it exited on its own when stdin closed


def test_close_kills_an_adapter_that_ignores_stdin(start) -> None:
    impl = start("hang")
    impl.close_grace_s = 0.2
    impl._ensure_started()  # started without a request: it never reads stdin's end
    process = impl.process
    impl.close()
    assert process is not None and process.poll() is not None


def test_context_manager_closes() -> None:
    with Implementation("echo_ok", fake("echo_ok"), timeout_s=2.0) as impl:
        impl.check(CREDENTIAL)
        process = impl.process
    assert process is not None and process.poll() is not None


@pytest.mark.parametrize("mode", ["crash", "garbage"])
def test_token_never_appears_in_failures_or_the_stderr_log(start, tmp_path: Path, mode: str) -> None:
    clear_secrets()
    register_secret(TOKEN)
    log = tmp_path / "adapter.log"
    impl = start("leaky", mode, stderr_log=log)
    with pytest.raises(AdapterFailure) as caught:
        impl.check(CREDENTIAL)
    failure = caught.value
    assert TOKEN not in str(failure)
    assert "[redacted]" in str(failure)
    assert all(TOKEN not in line for line in failure.stderr_tail)
    impl.close()
    text = log.read_text()
    assert "fake adapter: using token [redacted]" in text
    assert TOKEN not in text


def test_tokens_sent_are_registered_even_if_nobody_else_did(start) -> None:
    clear_secrets()
    other = Credential("zz9plural-z-alpha-token-0001", "https://127.0.0.1:1/")
    impl = start("leaky", "garbage")
    with pytest.raises(AdapterFailure) as caught:
        impl.check(other)
    assert other.access_token not in str(caught.value)


def test_describe_redacts_and_says_when_there_was_no_response() -> None:
    register_secret(TOKEN)
    observation = Observation(
        operation="request",
        credential=CREDENTIAL,
        request=ApiRequest("GET", "users/me"),
        ca_file=None,
        outcome=Outcome.failure(ErrorKind.TLS, f"certificate verify failed\nfor {TOKEN}"),
        elapsed_s=0.1,
    )
    assert observation.describe() == "GET users/me -> no response tls: certificate verify failed for [redacted]"


def test_reference_command_uses_this_interpreter() -> None:
    assert shlex.split(reference_command()) == [sys.executable, "-m", "mm_conformance.protocol.reference"]


# --- the implementation's own leaks --------------------------------------------------------


@pytest.mark.parametrize("where, answered", [
    ("message", ("its error message",)),
    ("body", ("the body it returned",)),
    ("nowhere", ()),
])
def test_a_token_in_the_answer_is_seen_before_anything_is_redacted(start, where, answered) -> None:
    observation = start("tells_token", where).request(CREDENTIAL, ApiRequest("GET", "users/me"))
    assert observation.leaks == answered
    assert TOKEN not in observation.describe()  # the suite's own record stays clean


@pytest.mark.parametrize("where, form", [("plain", "plain"), ("base64", "base64")])
def test_a_token_in_the_adapters_log_is_seen_in_every_form(start, where, form) -> None:
    impl = start("tells_token", where)
    impl.request(CREDENTIAL, ApiRequest("GET", "users/me"))
    deadline = time.monotonic() + 5
    leaks: list[str] = []
    while not leaks and time.monotonic() < deadline:  # stderr arrives on a thread of its own
        leaks = impl.stderr_leaks()
        time.sleep(0.02)
    assert leaks == [form]
    assert impl.stderr_leaks() == []  # each found once


def test_a_longer_deadline_for_one_request_and_a_timeout_named_as_such(start) -> None:
    from mm_conformance.protocol.runner import AdapterTimedOut

    impl = start("slow_ok", timeout_s=0.3)  # it answers after 0.5 s
    assert impl.request(CREDENTIAL, ApiRequest("GET", "users/me"), timeout_s=5.0).outcome.status == 401
    with pytest.raises(AdapterTimedOut, match="did not answer request 2 within 0.3 s"):
        impl.request(CREDENTIAL, ApiRequest("GET", "users/me"))
