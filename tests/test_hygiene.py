"""Token hygiene: find_leaks finds a secret in every form it travels in, and the suite leaves none behind.

Everything here runs on synthetic artifacts in tmp_path and on local subprocesses;
the one full run against a real Mattermost is opt-in (see its docstring).
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mm_conformance.protocol.hygiene import (
    FORMS,
    Leak,
    find_digest_leaks,
    find_leaks,
    main,
    registered_secrets,
    secret_digests,
    secret_hint,
)
from mm_conformance.protocol.runner import AdapterFailure, Implementation
from mm_conformance.protocol.wire import Credential
from mm_conformance.redact import clear_secrets, redact, register_secret

ROOT = Path(__file__).resolve().parents[1]
FAKES = Path(__file__).parent / "fake_adapters"
TOKEN = "kq4t3ym1mjdwpqkk3bxq5bfp4a"
OTHER = "kq4t3ym1mjdwpqkk3bxq5bfp4b"  # one character apart: must not match
ODD = 'tok/en "é" +&=%~ 0123456789'  # a secret whose forms all differ


@pytest.fixture(autouse=True)
def fresh_registry():
    clear_secrets()
    yield
    clear_secrets()


def forms_found(leaks: list[Leak]) -> set[str]:
    return {leak.form for leak in leaks}


# --- find_leaks on synthetic artifacts --------------------------------------------


def test_plain_secret_with_its_line_number(tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_text(f"first line\nsecond {TOKEN} line\nthird\n{TOKEN}\n")
    leaks = find_leaks([tmp_path / "log.txt"], [TOKEN])
    assert [(leak.form, leak.line_number) for leak in leaks] == [("plain", 2), ("plain", 4)]
    assert leaks[0].path == tmp_path / "log.txt"


def test_json_escaped_secret(tmp_path: Path) -> None:
    (tmp_path / "ascii.json").write_text(json.dumps({"accessToken": ODD}))
    (tmp_path / "utf8.json").write_text(json.dumps({"t": ODD}, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "slashes.json").write_text(json.dumps({"t": ODD}).replace("/", "\\/"))
    leaks = find_leaks([tmp_path], [ODD])
    assert {(leak.path.name, leak.form) for leak in leaks} == {
        ("ascii.json", "json-escaped"), ("utf8.json", "json-escaped"), ("slashes.json", "json-escaped")}


@pytest.mark.parametrize("how", ["httpx query", "httpx path", "urlencode", "quote", "lower-case hex"])
def test_url_encoded_secret(tmp_path: Path, how: str) -> None:
    secret = ODD.replace("%", "")  # httpx leaves a "%" in a path as it is (taken as already encoded)
    url = {
        "httpx query": lambda: str(httpx.URL("http://127.0.0.1/x", params={"access_token": secret})),
        "httpx path": lambda: str(httpx.URL("http://127.0.0.1/x/" + secret)),
        "urlencode": lambda: "/x?" + urlencode({"t": secret}),
        "quote": lambda: "/x/" + quote(secret, safe=""),
        "lower-case hex": lambda: "/x/" + quote(secret, safe="").lower(),
    }[how]()
    (tmp_path / "access.log").write_text(f"GET {url} 200\n")
    assert forms_found(find_leaks([tmp_path], [secret])) == {"url-encoded"}


@pytest.mark.parametrize("user", ["", "u", "us", "usr", "n8n-user"])  # every alignment modulo 3
@pytest.mark.parametrize("secret", [TOKEN, ODD])
def test_base64_secret_as_in_basic_auth(tmp_path: Path, user: str, secret: str) -> None:
    basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
    (tmp_path / "headers.txt").write_text(f"GET /api/v4/users/me\nAuthorization: Basic {basic}\n")
    leaks = find_leaks([tmp_path], [secret])
    assert [(leak.form, leak.line_number) for leak in leaks] == [("base64", 2)]


def test_secret_inside_a_binary_file(tmp_path: Path) -> None:
    blob = os.urandom(4096) + b"\x00\xff\xfe" + TOKEN.encode() + b"\x00" + os.urandom(4096)
    (tmp_path / "core.bin").write_bytes(blob)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 ".encode("latin-1") + ODD.encode("utf-8"))
    leaks = find_leaks([tmp_path], [TOKEN, ODD])
    assert {(leak.path.name, leak.form) for leak in leaks} == {("core.bin", "plain"), ("latin1.txt", "plain")}


def test_directories_are_walked_recursively(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "junit.xml").write_text(f"<failure>{TOKEN}</failure>")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")  # no content: skipped, not an error
    assert [leak.path for leak in find_leaks([tmp_path], [TOKEN])] == [deep / "junit.xml"]


def test_no_false_positive_on_another_token_or_a_short_secret(tmp_path: Path) -> None:
    basic = base64.b64encode(f"u:{OTHER}".encode()).decode()
    (tmp_path / "report.md").write_text(f"token {OTHER}\n{json.dumps(OTHER)}\nBasic {basic}\nabc abc\n")
    assert find_leaks([tmp_path], [TOKEN]) == []
    assert find_leaks([tmp_path], ["abc"]) == []  # shorter than 8: not a secret, would match anywhere


def test_a_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        find_leaks([tmp_path / "nope"], [TOKEN])


def test_the_hint_does_not_contain_the_secret(tmp_path: Path) -> None:
    (tmp_path / "log").write_text(f"{TOKEN} {ODD}")
    leaks = find_leaks([tmp_path], [TOKEN, ODD])
    assert {leak.secret_hint for leak in leaks} == {"secret #1 'kq4'… (26 chars)", "secret #2 'tok'… (27 chars)"}
    assert all(TOKEN not in str(leak) and ODD not in str(leak) for leak in leaks)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(min_size=8), st.one_of(st.none(), st.integers(0, 99)))
def test_the_hint_never_contains_the_secret(secret: str, number: int | None) -> None:
    assert secret not in secret_hint(secret, number)


def test_contrived_secret_that_the_hint_would_contain() -> None:
    secret = "secret #1 's"
    assert secret not in secret_hint(secret, 1)


def test_digests_find_what_the_secrets_find(tmp_path: Path) -> None:
    basic = base64.b64encode(f"us:{TOKEN}".encode()).decode()
    (tmp_path / "a.log").write_text(f"x {TOKEN}\n{json.dumps(ODD)}\nBasic {basic}\n/x/{quote(ODD, safe='')}\n")
    (tmp_path / "b.bin").write_bytes(os.urandom(2000) + ODD.encode() + os.urandom(100))
    digests = secret_digests([TOKEN, ODD])
    assert all(TOKEN not in line and ODD not in line for line in digests)
    expected = find_leaks([tmp_path], [TOKEN, ODD])
    assert forms_found(expected) == set(FORMS)
    assert find_digest_leaks([tmp_path], digests) == expected


def test_registered_secrets_come_from_redact() -> None:
    register_secret(TOKEN)
    register_secret("abc")  # too short: redact ignores it
    assert TOKEN in registered_secrets()
    assert "abc" not in registered_secrets()


# --- the command line ----------------------------------------------------------------


def test_main_prints_one_line_per_leak_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "report"
    report.mkdir()
    (report / "summary.md").write_text(f"| x | fail | | {TOKEN} |\n")
    (report / "clean.md").write_text("nothing here\n")
    secrets = tmp_path / "secrets.txt"
    secrets.write_text(f"{TOKEN}\n\n{OTHER}\n")
    assert main([str(report), "--secrets-file", str(secrets)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{report / 'summary.md'}:1: secret #1 'kq4'… (26 chars) found plain"]
    assert TOKEN not in out + err
    (report / "summary.md").write_text("redacted\n")
    assert main([str(report), "--secrets-file", str(secrets)]) == 0


def test_module_runs_with_digests(tmp_path: Path) -> None:
    (tmp_path / "log").write_text(f"Bearer {TOKEN}\n")
    digests = tmp_path / "digests.txt"
    digests.write_text("\n".join(secret_digests([TOKEN])) + "\n")
    run = subprocess.run([sys.executable, "-m", "mm_conformance.protocol.hygiene", str(tmp_path / "log"),
                          "--digests-file", str(digests)], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert run.returncode == 1, run.stderr
    assert run.stdout == f"{tmp_path / 'log'}:1: secret #1 'kq4'… (26 chars) found plain\n"


def test_main_unreadable_input_exits_2(tmp_path: Path) -> None:
    assert main([str(tmp_path), "--secrets-file", str(tmp_path / "missing.txt")]) == 2


# --- end to end: what the suite writes about a leaky adapter ----------------------------

#: An adapter that answers properly but puts the token everywhere it can: stderr (plain and
#: JSON-escaped), the error message and the body.
ECHOING_ADAPTER = """
import json, sys
for line in sys.stdin:
    req = json.loads(line)
    token = req["credential"]["accessToken"]
    print("echo: using token", token, "as", json.dumps(token), file=sys.stderr, flush=True)
    error = {"kind": "auth", "message": "token " + token + " rejected; " + json.dumps({"accessToken": token})}
    print(json.dumps({"id": req["id"], "ok": False, "status": 401, "body": {"token": token}, "error": error}),
          flush=True)
"""


def _collect(path: Path, *texts: str) -> None:
    with path.open("a", encoding="utf-8", errors="surrogateescape") as f:
        for text in texts:
            f.write(text + "\n")


@pytest.mark.parametrize("token", [TOKEN, ODD])
def test_suite_artifacts_about_a_leaky_adapter_hold_no_token(tmp_path: Path, token: str) -> None:
    """The adapter echoes the token to stderr, in error messages and protocol garbage; none of it survives.

    Network: the credentials name 127.0.0.1 on port 9, and the adapters never open a socket.
    """
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    log = artifacts / "adapter.log"
    credential = Credential(token, "https://127.0.0.1:9/")
    for mode in ("crash", "garbage"):
        command = shlex.join([sys.executable, str(FAKES / "leaky.py"), mode])
        with Implementation(f"leaky-{mode}", command, timeout_s=5, stderr_log=log) as impl:
            with pytest.raises(AdapterFailure) as caught:
                impl.check(credential)
        _collect(artifacts / "failures.txt", str(caught.value), *caught.value.stderr_tail)
    with Implementation("echo", shlex.join([sys.executable, "-c", ECHOING_ADAPTER]), timeout_s=5,
                        stderr_log=log) as impl:
        observation = impl.check(credential)
    _collect(artifacts / "observations.txt", observation.describe())

    assert "[redacted]" in log.read_text() and "[redacted]" in observation.describe()
    control = tmp_path / "control.txt"
    control.write_text(f"{observation.outcome.error_message}\n")  # the raw message does hold it
    assert find_leaks([control], [token]), "the scan itself must see an unredacted token"
    assert find_leaks([artifacts], [token]) == []


def test_base64_form_echoed_by_an_adapter_is_redacted(tmp_path: Path) -> None:
    register_secret(TOKEN)
    line = "adapter: Authorization: Basic " + base64.b64encode(f"n8n:{TOKEN}".encode()).decode()
    (tmp_path / "adapter.log").write_text(redact(line) + "\n")
    assert find_leaks([tmp_path], [TOKEN]) == []


# --- a full run against a real Mattermost -------------------------------------------

DIGESTS_ENV = "MM_CONFORMANCE_SECRET_DIGESTS"


@pytest.mark.needs_mattermost
@pytest.mark.needs_docker
def test_full_run_leaves_no_minted_token_in_its_report(tmp_path: Path) -> None:
    """Every token the run minted or sent is absent from the report and the console output.

    Skipped with the reason where the run gives no verdict (no Mattermost). The run writes the digests of every secret it registered to
    ``$MM_CONFORMANCE_SECRET_DIGESTS`` (:func:`hygiene.secret_digests`), so no
    token is ever written to disk in clear.
    """
    report, digests = tmp_path / "report", tmp_path / "digests.txt"
    env = {**os.environ, DIGESTS_ENV: str(digests)}
    run = subprocess.run([sys.executable, "-m", "mm_conformance", "run", "-q", "--report", str(report)],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600)
    if run.returncode == 2:
        last = (run.stdout.strip().splitlines() or ["exit code 2"])[-1]
        pytest.skip(f"infrastructure: the run gave no verdict: {last}")
    (tmp_path / "stdout.txt").write_text(run.stdout)
    (tmp_path / "stderr.txt").write_text(run.stderr)
    assert digests.is_file(), f"the run did not write {DIGESTS_ENV}; the CLI must support it"
    lines = digests.read_text().splitlines()
    assert lines, "the run registered no secret, so it minted no token: nothing was checked"
    leaks = find_digest_leaks([report, tmp_path / "stdout.txt", tmp_path / "stderr.txt"], lines)
    assert leaks == [], "\n".join(map(str, leaks))


# --- base64, property-based --------------------------------------------------------------


@settings(max_examples=150, deadline=None, derandomize=True)
@given(secret=st.text(min_size=8, max_size=40), before=st.binary(max_size=5), after=st.binary(max_size=5),
       urlsafe=st.booleans())
def test_base64_is_found_whatever_surrounds_it(secret: str, before: bytes, after: bytes, urlsafe: bool) -> None:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    data = b"Authorization: Basic " + encode(before + secret.encode("utf-8", "surrogatepass") + after) + b"\n"
    assert "base64" in forms_found(find_leaks_in_bytes(data, secret))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(secret=st.text(st.characters(codec="ascii"), min_size=8, max_size=40), before=st.binary(max_size=5),
       after=st.binary(max_size=5), data=st.data())
def test_base64_of_a_secret_one_bit_apart_is_not_a_leak(secret: str, before: bytes, after: bytes, data) -> None:
    raw = bytearray(secret.encode())
    index, bit = data.draw(st.integers(0, len(raw) - 1)), data.draw(st.integers(0, 6))
    raw[index] ^= 1 << bit
    encoded = b"Basic " + base64.b64encode(before + bytes(raw) + after) + b"\n"
    assert "base64" not in forms_found(find_leaks_in_bytes(encoded, secret))


def find_leaks_in_bytes(data: bytes, secret: str) -> list[Leak]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "artifact")
        path.write_bytes(data)
        return find_leaks([path], [secret])


def test_main_bad_secrets_or_digests_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "secrets.bin").write_bytes(b"\xff\xfe not utf-8\n")
    (tmp_path / "digests.txt").write_text("sha256 zz 26 plain secret\n")
    assert main([str(tmp_path), "--secrets-file", str(tmp_path / "secrets.bin")]) == 2
    assert main([str(tmp_path), "--digests-file", str(tmp_path / "digests.txt")]) == 2
    assert "not UTF-8" in capsys.readouterr().err
