"""Any Docker host: how the suite decides where its containers are, and a run that proves it off loopback.

The first tests check the decision (:mod:`mm_conformance.infra.docker_host`) and what asks it, with no
Docker. The last one builds a topology on this machine, as root, and runs the suite in it::

    this machine's network namespace (the engine)       namespace mmc-topo-<id> (the job)
    dockerd, /var/run/docker.sock                       lo 127.0.0.1: its own, not the engine's
      forwarder 10.X.0.1:<port> -> the socket           /etc/hosts (ip netns exec): docker = 10.X.0.1
        (answers 10.X.0.2 only)                         mm-conformance run, the reference adapter
      veth 10.X.0.1/30  <-------------------------->   veth 10.X.0.2/30, no default route
      ports published on 10.X.0.1 only                   DOCKER_HOST=tcp://docker:<port>

``ip netns exec`` runs the same Python and checkout in the namespace: 127.0.0.1 there is not where
the engine publishes, so anything still relying on it fails; with no default route, nothing the run
does leaves 10.X.0.0/30. It runs the TLS, redirect and Base URL scenarios (ssl.feature,
redirects.feature, base_url.feature) on a Mattermost image packaged here, with the reference: all
must pass, every container the run creates publishes on 10.X.0.1 alone, and every exchange went
there. The namespace (and the veth with it), its /etc/netns directory, the forwarder and anything
the run left in Docker are removed afterwards, also when it fails.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from docker.errors import NotFound

import docker
from mm_conformance.errors import InfrastructureError
from mm_conformance.infra import certificates, docker_host, redirects, silent
from mm_conformance.infra.containers import RUN_LABEL
from mm_conformance.infra.docker_host import DockerHost, decide
from mm_conformance.scenario import base_urls

CLI = [sys.executable, "-m", "mm_conformance"]
ROOT = Path(__file__).resolve().parent.parent
#: The Mattermost version the topology run uses where it is packaged here (else the newest packaged).
PREFERRED_VERSION = "11.0.3"
#: The scenarios of ssl.feature, redirects.feature and base_url.feature, by their names (pytest -k).
SCENARIOS = ("ignore_ssl_issues or insecure_credential or plain_http_base_url or redirect or site_url_is_accepted "
             "or base_url_that_cannot or base_url_with_a_path or pasted_with_extra_text or served_under_a_subpath "
             "or (site_root_of_a_subpath and not posts_nothing)")
#: What the topology's job calls the engine's host, as GitLab's docker:dind service is called.
ENGINE_NAME = "docker"
#: Settings of the test's own environment that would point the run elsewhere than the topology's engine.
_ENGINE_SETTINGS = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "TC_HOST",
                    "TESTCONTAINERS_HOST_OVERRIDE", "TESTCONTAINERS_CONNECTION_MODE", "MM_CONFORMANCE_RUN_ID")

REMOTE = DockerHost("172.17.0.3", "docker", "DOCKER_HOST=tcp://docker:2375")
BY_ADDRESS = DockerHost("10.0.0.5", None, "DOCKER_HOST=tcp://10.0.0.5:2375")


# --- how the Docker host is decided (no Docker) ---------------------------------------------------------


def test_a_local_engine_is_reached_on_loopback_as_before() -> None:
    for endpoint in (None, "unix:///var/run/docker.sock", "npipe:////./pipe/docker_engine"):
        local = decide({}, endpoint)
        assert (local.address, local.other_name) == ("127.0.0.1", "localhost")
        assert local.port_binding() == ("127.0.0.1", None)
        assert local.url("https", 8443) == "https://127.0.0.1:8443"
        assert local.certificate_names == ("127.0.0.1", "localhost")


def test_an_engine_over_the_network_is_reached_at_its_hosts_address_and_named_by_its_name() -> None:
    asked: list[str] = []
    remote = decide({}, "tcp://docker:2375", resolve=lambda name: asked.append(name) or "172.17.0.3")
    assert asked == ["docker"] and remote == REMOTE
    assert remote.port_binding() == ("172.17.0.3", None)  # that address only, never every interface
    assert remote.url("https", 1, by_other_name=True) == "https://docker:1"
    assert remote.certificate_names == ("172.17.0.3", "docker", "localhost", "127.0.0.1")
    assert decide({}, "ssh://ci@build-host", resolve=lambda name: "192.0.2.7").other_name == "build-host"


def test_an_engine_given_by_address_has_no_other_name_unless_it_is_loopback() -> None:
    assert decide({}, "tcp://10.0.0.5:2375") == BY_ADDRESS
    assert decide({}, "tcp://127.0.0.1:2375").other_name == "localhost"
    assert decide({}, "tcp://[fd00::5]:2375").url("https", 8443) == "https://[fd00::5]:8443"
    with pytest.raises(InfrastructureError) as error:
        BY_ADDRESS.another_name()
    assert "\n" not in str(error.value) and "name it in DOCKER_HOST" in str(error.value)


def test_testcontainers_host_override_wins_as_in_testcontainers() -> None:
    socket_mounted = decide({"TESTCONTAINERS_HOST_OVERRIDE": "172.17.0.1"}, "unix:///var/run/docker.sock")
    assert (socket_mounted.address, socket_mounted.other_name) == ("172.17.0.1", None)
    both = decide({"TC_HOST": "10.0.0.9", "TESTCONTAINERS_HOST_OVERRIDE": "10.0.0.8"}, "tcp://10.0.0.5:2375")
    assert (both.address, both.said_by) == ("10.0.0.9", "TC_HOST=10.0.0.9")


def test_a_name_that_does_not_resolve_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def nowhere(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nowhere)
    with pytest.raises(InfrastructureError, match=r"^the Docker host docker does not resolve: \[Errno -2\] Name or "
                                                  r"service not known$"):
        decide({}, "tcp://docker:2375")


def test_what_asks_the_docker_host_follows_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for module in (certificates, base_urls, silent):
        monkeypatch.setattr(module, "docker_host", lambda: REMOTE)
    cases = certificates.make_cases(tmp_path)
    assert cases["trusted"].host == "172.17.0.3"
    leaf = certificates.x509.load_pem_x509_certificates(cases["trusted"].chain_pem)[0]
    sans = leaf.extensions.get_extension_for_class(certificates.x509.SubjectAlternativeName).value
    assert {str(name.value) for name in sans} == {"172.17.0.3", "docker", "localhost", "127.0.0.1"}
    assert base_urls.spell("http://172.17.0.3:8065", "with an upper-case host name") == "http://DOCKER:8065"
    with silent.SilentEndpoints(upstream="http://172.17.0.3:8065", certificate=cases["trusted"]):
        pass  # forwarding to the Docker host is allowed; to anywhere else it is not (tests/test_silent.py)


def test_redirects_to_another_host_need_a_name_and_say_so_before_any_container_starts(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(redirects, "docker_host", lambda: BY_ADDRESS)
    trusted = certificates.make_cases(tmp_path)["trusted"]
    with pytest.raises(InfrastructureError, match="has no other name for the redirects to another host"):
        redirects.RedirectEndpoints(trusted).start()  # raises before the engine is asked anything


def test_a_docker_host_that_does_not_answer_is_a_one_line_error() -> None:
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))  # bound, never listening: every connection is refused
        endpoint = f"tcp://127.0.0.1:{refusing.getsockname()[1]}"
        result = subprocess.run([*CLI, "run"], capture_output=True, text=True, timeout=120,
                                env={**_without_engine_settings(os.environ), "DOCKER_HOST": endpoint})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (f"mm-conformance: error: the Docker engine is not reachable at {endpoint}: "
                                     "[Errno 111] Connection refused")


def test_the_docker_host_of_this_process_is_decided_once() -> None:
    assert docker_host.docker_host() is docker_host.docker_host()


# --- the topology ----------------------------------------------------------------------------------------


@dataclass
class Topology:
    namespace: str
    engine_address: str  #: the engine's end of the veth, in this machine's namespace
    job_address: str  #: the job's end, in the namespace
    engine_port: int  #: the forwarder's
    mattermost: str  #: the version of the Mattermost image packaged here that the run uses


def test_the_suite_passes_its_tls_redirect_and_base_url_scenarios_against_an_engine_off_its_loopback(
        topology: Topology, tmp_path: Path) -> None:
    client = docker.from_env()
    run_id = secrets.token_hex(6)
    report = tmp_path / "report"
    env = {**_without_engine_settings(os.environ), "MM_CONFORMANCE_RUN_ID": run_id,
           "DOCKER_HOST": f"tcp://{ENGINE_NAME}:{topology.engine_port}"}
    command = ["ip", "netns", "exec", topology.namespace, *CLI, "run", "--impl", "reference",
               "--mattermost", topology.mattermost, "-k", SCENARIOS, "-q", "--report", str(report)]
    try:
        with _bindings_of(run_id) as bindings:
            started = time.monotonic()
            returncode, stdout, stderr = _run(command, env)
            took = time.monotonic() - started
        closing = (stdout.strip().splitlines() or [""])[-1]
        print(f"\ntopology run: {took:.1f} s, {closing}; {len(bindings)} ports published, on "
              f"{', '.join(sorted(set(bindings.values())))}")  # the measure, shown with -s
        assert returncode == 0, stdout[-3000:] + stderr[-3000:]
        scenarios = json.loads((report / "results.json").read_text())["scenarios"]
        verdicts = {s["verdict"] for s in scenarios}
        assert verdicts <= {"pass", "warn"}, [(s["name"], s["reason"]) for s in scenarios if s["verdict"] not in
                                              ("pass", "warn")]
        titles = " ".join(s["title"] for s in scenarios).lower()
        assert all(words in titles for words in ("ignore ssl issues", "redirect", "base url", "subpath"))
        observed = " ".join(o for s in scenarios for o in s["observations"])
        assert topology.engine_address in observed or f"//{ENGINE_NAME}:" in observed
        assert "127.0.0.1" not in observed and "localhost" not in observed.lower()
        # Every container the run created published its ports on the engine's address of the topology alone.
        assert bindings and set(bindings.values()) == {topology.engine_address}, bindings
    finally:
        left = _remove_run(client, run_id)
        client.close()
    assert left == [], f"the run left {left} (removed now)"


def _run(command: list[str], env: dict[str, str], timeout_s: float = 1200) -> tuple[int, str, str]:
    """Run ``command``; past ``timeout_s``, SIGTERM it, as a CI timeout does: the suite then removes what it
    started, and the test fails."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.terminate()
        stdout, stderr = process.communicate(timeout=120)
        pytest.fail(f"the run in the topology took over {timeout_s:.0f} s: {stdout[-2000:]}{stderr[-2000:]}")
    return process.returncode, stdout, stderr


def _packaged_mattermost() -> str:
    with contextlib.closing(docker.from_env()) as client:
        tags = sorted(tag for image in client.images.list(name="mm-conformance/mattermost") for tag in image.tags)
    versions = [tag.split(":", 1)[1] for tag in tags]
    if not versions:
        pytest.skip("infrastructure: no Mattermost image is packaged here (mm-conformance images build --from …)")
    if PREFERRED_VERSION in versions:
        return PREFERRED_VERSION
    return max(versions, key=lambda v: tuple(int(p) for p in v.split(".") if p.isdigit()))


@contextlib.contextmanager
def _bindings_of(run_id: str) -> Iterator[dict[str, str]]:
    """Where each container of run ``run_id`` asks its ports to be published, by ``<id> <port>``: the
    engine's events, read while the run goes on (each container is looked at as it is created)."""
    found: dict[str, str] = {}
    client = docker.from_env()  # its own: read from another thread
    events = client.events(decode=True, filters={"type": "container", "event": "create",
                                                 "label": f"{RUN_LABEL}={run_id}"})

    def watch() -> None:
        with contextlib.suppress(Exception):  # the stream ends with an error when it is closed
            for event in events:
                with contextlib.suppress(NotFound):  # removed already: it was looked at by its creator
                    ports = client.api.inspect_container(event["id"])["HostConfig"].get("PortBindings") or {}
                    for port, binds in ports.items():
                        for bind in binds or []:
                            found[f"{event['id'][:12]} {port}"] = bind.get("HostIp", "")

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield found
    finally:
        events.close()
        watcher.join(timeout=10)
        client.close()


def _remove_run(client: Any, run_id: str) -> list[str]:
    """Remove whatever Docker still holds of run ``run_id``; what there was."""
    label = {"label": f"{RUN_LABEL}={run_id}"}
    left: list[str] = []
    for container in client.containers.list(all=True, filters=label):
        left.append(f"container {container.name}")
        with contextlib.suppress(Exception):
            container.remove(force=True, v=True)
    for kind, listed in (("network", client.networks.list(filters=label)),
                         ("volume", client.volumes.list(filters=label))):
        for thing in listed:
            left.append(f"{kind} {thing.name}")
            with contextlib.suppress(Exception):
                thing.remove()
    return left


def _without_engine_settings(environ: Any) -> dict[str, str]:
    return {key: value for key, value in environ.items() if key not in _ENGINE_SETTINGS}


@pytest.fixture
def topology(docker_engine: None) -> Iterator[Topology]:
    """A network namespace joined to this machine's by a veth pair, with the engine offered on this end."""
    if os.geteuid() != 0:
        pytest.skip("infrastructure: the topology test makes a network namespace: it needs root")
    if shutil.which("ip") is None:
        pytest.skip("infrastructure: the topology test needs iproute2's ip (apt-get install iproute2)")
    engine_socket = _local_engine_socket()
    if engine_socket is None:
        pytest.skip("infrastructure: the topology test offers a local engine's socket; DOCKER_HOST names another")
    mattermost = _packaged_mattermost()
    suffix = secrets.token_hex(3)
    namespace, ours, theirs = f"mmc-topo-{suffix}", f"mmc{suffix}a", f"mmc{suffix}b"
    subnet = _free_subnet()
    engine_address, job_address = (str(host) for host in subnet.hosts())
    etc = Path("/etc/netns") / namespace
    with contextlib.ExitStack() as undo:
        if _ip("netns", "add", namespace, check=False).returncode != 0:
            pytest.skip("infrastructure: ip netns add failed here (no CAP_SYS_ADMIN?)")
        undo.callback(_ip, "netns", "del", namespace, check=False)  # removes its end of the veth, and so both
        undo.callback(_ip, "link", "del", ours, check=False)  # in case the pair was made but not moved
        _ip("link", "add", ours, "type", "veth", "peer", "name", theirs)
        _ip("link", "set", theirs, "netns", namespace)
        _ip("addr", "add", f"{engine_address}/{subnet.prefixlen}", "dev", ours)
        _ip("link", "set", ours, "up")
        for command in (("addr", "add", f"{job_address}/{subnet.prefixlen}", "dev", theirs),
                        ("link", "set", theirs, "up"), ("link", "set", "lo", "up")):
            _ip("-n", namespace, *command)
        if not etc.parent.exists():  # made here: removed here too, once it is empty again
            undo.callback(lambda: etc.parent.rmdir() if not any(etc.parent.iterdir()) else None)
        undo.callback(shutil.rmtree, etc, ignore_errors=True)
        etc.mkdir(parents=True)
        # ip netns exec mounts these over /etc/hosts and /etc/resolv.conf: the engine has a name, and
        # no lookup goes anywhere (no name server; the namespace has no route to one either).
        (etc / "hosts").write_text(f"127.0.0.1 localhost\n::1 localhost\n{engine_address} {ENGINE_NAME}\n")
        (etc / "resolv.conf").write_text("# mm-conformance topology test: no name server\n")
        forwarder = undo.enter_context(EngineForwarder(engine_address, job_address, engine_socket))
        undo.callback(_kill_what_is_left_in, namespace)
        yield Topology(namespace, engine_address, job_address, forwarder.port, mattermost)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def _kill_what_is_left_in(namespace: str) -> None:
    """Processes still in the namespace (a run that timed out): this test started every one of them."""
    listed = _ip("netns", "pids", namespace, check=False).stdout.split()
    for pid in listed:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), 9)


def _local_engine_socket() -> str | None:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return host.removeprefix("unix://") if host.startswith("unix://") else None


def _free_subnet() -> ipaddress.IPv4Network:
    """A /30 of 10.200.0.0–10.254.255.255 that no address or route of this machine overlaps."""
    taken = []
    for command in (("-4", "-o", "addr", "show"), ("-4", "route", "show", "table", "all")):
        for line in _ip(*command).stdout.splitlines():
            for word in line.split():
                with contextlib.suppress(ValueError):
                    taken.append(ipaddress.ip_network(word, strict=False))
    for second in sorted(range(200, 255), key=lambda _: secrets.randbits(8)):
        candidate = ipaddress.ip_network(f"10.{second}.0.0/30")
        if not any(candidate.overlaps(network) for network in taken if network.version == 4 and
                   network.prefixlen > 0):
            return candidate
    pytest.skip("infrastructure: no free 10.200-254.0.0/30 for the topology's veth")


class EngineForwarder:
    """The engine's unix socket offered on ``address``:<a free port> to ``peer`` alone (what
    ``socat TCP-LISTEN,bind=…,range=…,fork UNIX-CONNECT:…`` does): a connection from anywhere else,
    such as another process of this machine, is closed at once, unanswered."""

    def __init__(self, address: str, peer: str, engine_socket: str) -> None:
        self._listener = socket.create_server((address, 0))
        self.port = self._listener.getsockname()[1]
        self._peer = peer
        self._engine_socket = engine_socket
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="engine forwarder").start()

    def _accept(self) -> None:
        while True:
            try:
                connection, (source, _) = self._listener.accept()
            except OSError:  # closed
                return
            if source != self._peer:
                connection.close()
                continue
            threading.Thread(target=self._forward, args=(connection,), daemon=True).start()

    def _forward(self, connection: socket.socket) -> None:
        engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with self._lock:
            self._open.update((connection, engine))
        try:
            engine.connect(self._engine_socket)
            back = threading.Thread(target=_pump, args=(engine, connection), daemon=True)
            back.start()
            _pump(connection, engine)
            back.join()
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.difference_update((connection, engine))
            connection.close()
            engine.close()

    def __enter__(self) -> EngineForwarder:
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copy until ``source`` ends, then end ``target``'s sending side (HTTP's half-closes pass through)."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)
