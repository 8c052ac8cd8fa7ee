"""The TLS proxy and its certificate cases, through the real reference implementation.

The proxy runs in machinery-test mode (a static upstream inside nginx), so no
Mattermost is needed: what is tested is that each listener really presents its
case's certificate, that the reference (protocol v1, as any implementation is
driven) connects exactly where it should, and that the access logs prove where a
token did and did not arrive. One test puts a real upstream container behind the
proxy to check the forwarded headers.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import threading
from collections.abc import Iterator

import docker
import httpx
import pytest
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from mm_conformance.infra.certificates import CertificateCases, make_cases
from mm_conformance.infra.containers import ContainerExited, suite_labels, suite_network
from mm_conformance.protocol.runner import Implementation, Observation, reference_command
from mm_conformance.protocol.wire import ApiRequest, Credential
from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.nginx import AccessLogs
from mm_conformance.infra.proxy import STATIC_USER, TLSProxyContainer

#: A fresh token per run; the reference registers it for redaction.
TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> CertificateCases:
    return make_cases(tmp_path_factory.mktemp("tls-cases"))


@pytest.fixture(scope="module")
def proxy(nginx_image: str, cases: CertificateCases) -> Iterator[TLSProxyContainer]:
    # Leaving the with block removes the container, also when a test failed.
    with TLSProxyContainer(cases, nginx_image).with_static_upstream() as started:
        yield started


@pytest.fixture(scope="module")
def reference() -> Iterator[Implementation]:
    # One adapter process for the module: connection reuse across calls is part of what is tested.
    with Implementation("reference", reference_command(), timeout_s=30) as implementation:
        yield implementation


def credential(proxy: TLSProxyContainer, case: str, *, ignore_ssl_issues: bool) -> Credential:
    return Credential(TOKEN, proxy.url(case), allow_unauthorized_certs=ignore_ssl_issues)


def result(observation: Observation) -> str:
    outcome = observation.outcome
    return "ok" if outcome.ok else outcome.error_kind.value  # type: ignore[union-attr]


def token_arrivals(proxy: TLSProxyContainer) -> dict[str, int]:
    return {name: proxy.credentials_passed(name) for name in proxy.case_names}


def test_strict_credential_connects_only_to_the_trusted_case(
        proxy: TLSProxyContainer, reference: Implementation, cases: CertificateCases) -> None:
    before = token_arrivals(proxy)
    observed = {name: reference.check(credential(proxy, name, ignore_ssl_issues=False), str(cases.ca_file))
                for name in proxy.case_names}
    after = token_arrivals(proxy)

    details = {name: o.describe() for name, o in observed.items()}
    assert {name: result(o) for name, o in observed.items()} == {
        case.name: "ok" if case.expect_strict_ok else "tls" for case in cases}, details
    # A refused certificate means the token never left the client: not a single request arrived.
    assert {name: after[name] - before[name] for name in after} == {
        case.name: 1 if case.expect_strict_ok else 0 for case in cases}


def test_ignoring_ssl_issues_connects_to_every_case(proxy: TLSProxyContainer, reference: Implementation) -> None:
    before = token_arrivals(proxy)
    observed = {name: reference.check(credential(proxy, name, ignore_ssl_issues=True))
                for name in proxy.case_names}
    after = token_arrivals(proxy)

    assert {name: (result(o), o.outcome.status) for name, o in observed.items()} == {
        name: ("ok", 200) for name in proxy.case_names}, {n: o.describe() for n, o in observed.items()}
    assert all(o.outcome.body == STATIC_USER for o in observed.values())
    assert all(after[name] > before[name] for name in proxy.case_names)


def test_an_insecure_call_does_not_make_a_later_strict_one_accept_a_bad_certificate(
        proxy: TLSProxyContainer, reference: Implementation, cases: CertificateCases) -> None:
    for case in (c for c in cases if not c.expect_strict_ok):
        insecure = reference.request(credential(proxy, case.name, ignore_ssl_issues=True),
                                     ApiRequest("GET", "users/me"))
        assert insecure.outcome.ok, insecure.describe()
        before = proxy.credentials_passed(case.name)
        strict = reference.check(credential(proxy, case.name, ignore_ssl_issues=False), str(cases.ca_file))
        assert result(strict) == "tls", f"{case.name}: {strict.describe()}"
        assert proxy.credentials_passed(case.name) == before, f"{case.name}: the strict call's token arrived"


def test_logs_say_whether_a_token_came_but_never_show_it(proxy: TLSProxyContainer, cases: CertificateCases) -> None:
    url = proxy.url("trusted") + "api/v4/users/me"
    before = proxy.access_log("trusted")
    with httpx.Client(verify=ssl.create_default_context(cafile=str(cases.ca_file)), trust_env=False) as client:
        client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        client.get(url, params={"access_token": TOKEN})
        client.get(url, headers={"Cookie": f"MMAUTHTOKEN={TOKEN}"})
        client.get(url)
        client.get(url, params={"per_page": "1", "page": "2", "term": "ü b+c"})
    new = proxy.access_log("trusted")[len(before):]
    assert [line.split()[4] for line in new] == ["credentials=present"] * 3 + ["credentials=absent"] * 2
    # The query string as it arrived, but never one that carried a token.
    assert [line.split()[-1] for line in new] == ["query=-", "query=withheld", "query=-", "query=-",
                                                  "query=per_page=1&page=2&term=%C3%BC+b%2Bc"]
    assert proxy.queries("trusted", "/api/v4/users/me")[-2:] == ["", "per_page=1&page=2&term=%C3%BC+b%2Bc"]

    everything = "\n".join(line for name in proxy.case_names for line in proxy.access_log(name))
    stdout, stderr = proxy.get_logs()
    assert TOKEN not in everything + stdout.decode() + stderr.decode()


def test_a_log_is_read_only_once_no_request_is_in_progress(proxy: TLSProxyContainer, cases: CertificateCases) -> None:
    """A request that reached a listener must be counted, even if its client has not finished it: the
    read waits until nginx has finished (and logged) it, and says so when it never does."""
    context = ssl.create_default_context(cafile=str(cases.ca_file))
    port = int(proxy.url("trusted").rsplit(":", 1)[1].rstrip("/"))
    before = proxy.credentials_passed("trusted")
    with socket.create_connection(("127.0.0.1", port)) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(f"GET /api/v4/users/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n".encode())
        patient = AccessLogs(proxy, "TLS proxy", settle_timeout_s=0.5)
        with pytest.raises(InfrastructureError, match=r"still serving 1 request\(s\)"):
            patient.lines("trusted")  # half a request: nginx is still reading it
        patient.close()
        finishing = threading.Timer(0.3, lambda: tls.sendall(b"Connection: close\r\n\r\n"))
        finishing.start()
        try:
            assert proxy.credentials_passed("trusted") == before + 1  # waited for it, then found its line
        finally:
            finishing.join()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_forwards_to_the_upstream_with_mattermost_s_proxy_headers(
        nginx_image: str, cases: CertificateCases, scheme: str) -> None:
    network = suite_network()
    try:
        with _echo_upstream(nginx_image, network, cases, tls=scheme == "https"), \
                TLSProxyContainer([cases["trusted"]], nginx_image).with_network(network) \
                .with_upstream(f"{scheme}://mattermost:8065") as proxy:
            verify = ssl.create_default_context(cafile=str(cases.ca_file))
            with httpx.Client(verify=verify, trust_env=False) as client:
                api = client.get(proxy.url("trusted") + "api/v4/users/me",
                                 headers={"Authorization": f"Bearer {TOKEN}"}).json()
                websocket = client.get(proxy.url("trusted") + "api/v4/websocket",
                                       headers={"Upgrade": "websocket", "Connection": "Upgrade"}).json()
            log = proxy.access_log("trusted")
            proxy_url = proxy.url("trusted")
    finally:
        network.remove()

    assert api["host"] == httpx.URL(proxy_url).netloc.decode()  # the Host the client sent, port included
    assert api["forwarded_proto"] == "https"
    assert api["forwarded_for"] and api["real_ip"]
    assert api["authorization"] == f"Bearer {TOKEN}"  # through a trusted listener, the token arrives
    assert api["connection"] == ""  # keep-alive to the upstream, as Mattermost's config does
    assert (websocket["upgrade"], websocket["connection"]) == ("websocket", "upgrade")
    fields = log[0].split()
    assert "credentials=present" in fields and fields[5].endswith(":8065"), log


def test_an_upstream_that_does_not_resolve_stops_the_start_at_once(
        nginx_image: str, cases: CertificateCases) -> None:
    proxy = TLSProxyContainer([cases["trusted"]], nginx_image).with_upstream("http://no-such-upstream:8065")
    with pytest.raises(ContainerExited) as error:
        with proxy:
            pass
    assert "host not found in upstream" in str(error.value)
    gone = docker.from_env().containers.list(all=True, filters={"id": proxy.get_wrapped_container().id})
    assert gone == []


def test_no_upstream_is_a_usage_error(cases: CertificateCases) -> None:
    with pytest.raises(ValueError, match="with_upstream"):
        TLSProxyContainer([cases["trusted"]]).nginx_conf()
    with pytest.raises(ValueError, match="is not http"):
        TLSProxyContainer([cases["trusted"]]).with_upstream("ftp://mattermost:8065")
    with pytest.raises(ValueError, match="is not http"):
        TLSProxyContainer([cases["trusted"]]).with_upstream("http://mattermost:8065/api/v4")


# --- a stand-in upstream that shows what it received ------------------------------------------

# Each field is the nginx variable of the request header the upstream received.
_ECHO_FIELDS = {"host": "$http_host", "forwarded_proto": "$http_x_forwarded_proto",
                "forwarded_for": "$http_x_forwarded_for", "real_ip": "$http_x_real_ip",
                "authorization": "$http_authorization", "upgrade": "$http_upgrade",
                "connection": "$http_connection"}
_ECHO_CONF = f"""\
error_log stderr notice;
events {{}}
http {{
    server {{
        listen 8065 @TLS@;
        default_type application/json;
        location / {{
            return 200 '{json.dumps(_ECHO_FIELDS)}';
        }}
    }}
}}
"""


def _echo_upstream(image: str, network: Network, cases: CertificateCases, *, tls: bool) -> DockerContainer:
    """An upstream on the alias "mattermost", port 8065, answering with the headers it got."""
    tls_directives = "ssl; ssl_certificate /etc/nginx/up.crt; ssl_certificate_key /etc/nginx/up.key" if tls else ""
    return (DockerContainer(image, labels=suite_labels("echo-upstream"))
            .with_network(network).with_network_aliases("mattermost")
            .with_copy_into_container(_ECHO_CONF.replace("@TLS@", tls_directives).encode(), "/etc/nginx/nginx.conf")
            .with_copy_into_container(cases["trusted"].chain_pem, "/etc/nginx/up.crt")
            .with_copy_into_container(cases["trusted"].key_pem, "/etc/nginx/up.key", mode=0o600)
            .waiting_for(LogMessageWaitStrategy("start worker process").with_startup_timeout(30)))
