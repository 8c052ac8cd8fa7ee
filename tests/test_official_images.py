"""The official images, as far as the suite relies on them: each part of their contracts, and a run on them.

No registry answers on this project's machines, so the official ``postgres`` and ``nginx`` images cannot
be pulled here. This file builds images that keep exactly the parts of their contracts the suite relies
on (``mm_conformance/infra/database.py`` and ``infra/nginx.py`` list them) and differ from the suite's own
images everywhere else, as the official ones do, under names of its own (never an official tag):

``mm-conformance-test/postgres-contract:15``
    Debian's PostgreSQL (from ``mm-conformance/postgres:15``, its entrypoint removed) behind an entrypoint
    that does what the official one does: initdb's defaults (the socket trusted), the role and database
    made on a server that listens on its socket only (and says it is ready), a ``VOLUME`` over the default
    data directory, and a data directory that holds a cluster used as it is, its password unchanged.
``mm-conformance-test/nginx-contract:1``
    Debian's nginx (from ``mm-conformance/nginx:bookworm``) laid out as the official image: its own
    ``nginx.conf`` that includes ``conf.d/`` and names ``user nginx``, no ``www-data`` user, ``access.log``
    and ``error.log`` linked to the container's output, an entrypoint that runs ``/docker-entrypoint.d/``.

Then a run on the real local Mattermost that names them passes, and every container it started was
made from them (the Docker engine's events say so), never from the suite's own PostgreSQL or nginx.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from docker.errors import ImageNotFound
from testcontainers.core.network import Network

from mm_conformance.errors import InfrastructureError, UsageError
from mm_conformance.infra import support
from mm_conformance.infra.certificates import CertificateCases, make_cases
from mm_conformance.infra.containers import (
    RUN_ID_ENV,
    RUN_LABEL,
    SUITE_LABEL,
    remove_network,
    suite_labels,
    suite_network,
)
from mm_conformance.infra.database import READY_LINE, PostgresContainer
from mm_conformance.infra.engine import engine, pull
from mm_conformance.infra.images import (
    NGINX_IMAGE,
    POSTGRES_IMAGE,
    ImageBuildError,
    image_id,
    image_labels,
    local_mattermost_images,
)
from mm_conformance.infra.leftovers import leftovers
from mm_conformance.infra.proxy import STATIC_USER, TLSProxyContainer
from mm_conformance.infra.redirects import RedirectEndpoints
from mm_conformance.infra.snapshots import POSTGRES_IMAGE_LABEL, SNAPSHOT_PGDATA, migrate_and_snapshot, snapshot_name

pytestmark = pytest.mark.usefixtures("docker_engine")

POSTGRES_CONTRACT = "mm-conformance-test/postgres-contract:15"
NGINX_CONTRACT = "mm-conformance-test/nginx-contract:1"
#: A contract image is built again when what it is built from changed (these files, its base image).
DIGEST_LABEL = "io.github.mm-conformance.test.contract-digest"

POSTGRES_FILES = {
    "Dockerfile": """\
ARG BASE
FROM ${BASE}
# Nothing of the suite's own entrypoint stays: only what the official image does.
RUN rm /usr/local/bin/entrypoint.sh && mkdir -p /var/lib/postgresql/data /docker-entrypoint-initdb.d \\
 && chown postgres:postgres /var/lib/postgresql/data && chmod 1777 /var/lib/postgresql/data
ENV PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
COPY docker-entrypoint.sh /usr/local/bin/
VOLUME /var/lib/postgresql/data
HEALTHCHECK NONE
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
""",
    "docker-entrypoint.sh": """\
#!/bin/sh
# The official image's docker-entrypoint.sh, in what it does: as root, make PGDATA the server user's and
# run again as that user; on an empty data directory, initdb with its defaults (the socket and 127.0.0.1
# trusted) and POSTGRES_USER/PASSWORD, every other host asked for the password, the database made on a
# temporary server that listens on its socket only; on a data directory that holds a cluster, nothing.
set -eu
if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chmod 00700 "$PGDATA" || :
    find "$PGDATA" \\! -user postgres -exec chown postgres '{}' +
    chown postgres /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?Database is uninitialized and superuser password is not specified.}"
    user=${POSTGRES_USER:-postgres}
    db=${POSTGRES_DB:-$user}
    pwfile=$(mktemp)
    printf '%s\\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$user" --pwfile="$pwfile"
    rm -f "$pwfile"
    printf '\\nhost all all all scram-sha-256\\n' >> "$PGDATA/pg_hba.conf"
    printf "listen_addresses = '*'\\n" >> "$PGDATA/postgresql.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$db" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --username "$user" --no-password --dbname postgres -c "CREATE DATABASE \\"$db\\""
    fi
    pg_ctl -D "$PGDATA" -m fast -w stop
    echo 'PostgreSQL init process complete; ready for start up.'
elif [ "$1" = postgres ]; then
    echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
fi
exec "$@"
""",
}

NGINX_FILES = {
    "Dockerfile": """\
ARG BASE
FROM ${BASE}
RUN groupadd --system nginx \\
 && useradd --system --gid nginx --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nginx \\
 && userdel www-data \\
 && rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available /etc/nginx/modules-enabled /etc/nginx/snippets \\
 && mkdir -p /etc/nginx/conf.d /docker-entrypoint.d /usr/share/nginx/html \\
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx.conf /etc/nginx/nginx.conf
COPY default.conf /etc/nginx/conf.d/default.conf
COPY docker-entrypoint.sh /
COPY 10-listen-on-ipv6-by-default.sh /docker-entrypoint.d/
HEALTHCHECK NONE
ENTRYPOINT ["/docker-entrypoint.sh"]
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
""",
    "nginx.conf": """\
user  nginx;
worker_processes  auto;
error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;
events {
    worker_connections  1024;
}
http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;
    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" $status';
    access_log  /var/log/nginx/access.log  main;
    sendfile        on;
    keepalive_timeout  65;
    include /etc/nginx/conf.d/*.conf;
}
""",
    "default.conf": """\
server {
    listen       80;
    server_name  localhost;
    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }
}
""",
    "docker-entrypoint.sh": """\
#!/bin/sh
# The official image's entrypoint: for nginx, run the scripts of /docker-entrypoint.d/, then nginx.
set -e
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    for script in /docker-entrypoint.d/*.sh; do
        if [ -x "$script" ]; then "$script"; fi
    done
    echo "$0: Configuration complete; ready for start up"
fi
exec "$@"
""",
    "10-listen-on-ipv6-by-default.sh": """\
#!/bin/sh
# As the official script: it changes conf.d/default.conf, nothing else.
sed -i -E 's,listen       80;,listen       80;\\n    listen  [::]:80;,' /etc/nginx/conf.d/default.conf
""",
}


def _build(tag: str, base: str, files: dict[str, str]) -> str:
    """``tag`` built from ``files`` on ``base``, unless it already is (by its digest label)."""
    if image_labels(base) is None:
        pytest.skip(f"infrastructure: {base} is not built (mm-conformance images build)")
    digest = hashlib.sha256(json.dumps([image_id(base), files], sort_keys=True).encode()).hexdigest()
    if (image_labels(tag) or {}).get(DIGEST_LABEL) == digest:
        return tag
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        for name, text in files.items():
            entry = tarfile.TarInfo(name)
            entry.size, entry.mode = len(text.encode()), 0o755 if name.endswith(".sh") else 0o644
            archive.addfile(entry, io.BytesIO(text.encode()))
    context.seek(0)
    engine().images.build(fileobj=context, custom_context=True, tag=tag, buildargs={"BASE": base},
                          labels={DIGEST_LABEL: digest}, rm=True, forcerm=True, network_mode="none")
    return tag


@pytest.fixture(scope="module")
def postgres_contract() -> str:
    return _build(POSTGRES_CONTRACT, POSTGRES_IMAGE, POSTGRES_FILES)


@pytest.fixture(scope="module")
def nginx_contract() -> str:
    return _build(NGINX_CONTRACT, NGINX_IMAGE, NGINX_FILES)


@pytest.fixture
def network() -> Iterator[Network]:
    """A private network for a test's containers; nothing of the test is left once it is removed."""
    made = suite_network()
    try:
        yield made
    finally:
        remove_network(made)
    assert leftovers() == []


def _psql(image: str, network: Network, host: str, password: str, sql: str) -> tuple[int, str]:
    """``sql`` through psql in another container of ``image`` on ``network``: over TCP, with the password."""
    container = engine().containers.run(
        image, ["psql", "-h", host, "-U", "mmuser", "-d", "mattermost", "-tAc", sql], detach=True,
        environment={"PGPASSWORD": password}, network=network.name, labels=suite_labels("test-psql"))
    try:
        code = container.wait(timeout=60)["StatusCode"]
        return code, container.logs().decode(errors="replace").strip()
    finally:
        container.remove(force=True, v=True)  # and the anonymous volume of the image's VOLUME


def _log(database: PostgresContainer) -> str:
    return database.get_wrapped_container().logs().decode(errors="replace")


# -- PostgreSQL: each part of the contract (infra/database.py) -------------------------------------


def test_the_environment_makes_a_utf8_superuser_and_database_asked_for_their_password_on_5432_once_ready(
        postgres_contract: str, network: Network) -> None:
    """Parts 1, 3, 5, 6: the role, its password, the database; ready only once the server answers on TCP,
    after the temporary server a first start runs on its socket."""
    with PostgresContainer(postgres_contract).with_network(network) as database:
        # Right after start(): the first connection from another container works.
        code, said = _psql(postgres_contract, network, database.alias, database.password,
                           "select current_user, rolsuper, pg_encoding_to_char(encoding) from pg_roles, pg_database "
                           "where rolname = current_user and datname = current_database()")
        assert (code, said) == (0, "mmuser|t|UTF8")
        code, said = _psql(postgres_contract, network, database.alias, "not-its-password", "select 1")
        assert code != 0 and "password authentication failed" in said
        log = _log(database)
        assert log.count(READY_LINE) == 2 and "init process complete" in log, "not the official way of starting"


def test_a_snapshot_of_it_keeps_its_data_outside_the_volume_and_takes_each_container_s_password(
        postgres_contract: str, network: Network) -> None:
    """Parts 2, 4, 7: PGDATA honoured; a cluster found there used as it is (password unchanged: the
    suite sets it through psql on the socket); a clean stop, so the committed data needs no recovery."""
    snapshot = "mm-conformance-test/postgres-contract-snapshot:15"
    try:
        original = PostgresContainer(postgres_contract).with_network(network).with_env("PGDATA", SNAPSHOT_PGDATA)
        with original:
            assert _psql(postgres_contract, network, original.alias, original.password,
                         "create table migrated (version text)")[0] == 0
            original.snapshot(snapshot, {"io.github.mm-conformance.test": "snapshot"})
        environment = engine().images.get(snapshot).attrs["Config"]["Env"]
        assert f"PGDATA={SNAPSHOT_PGDATA}" in environment
        assert not any(original.password in variable for variable in environment)
        with PostgresContainer(snapshot, alias="restored").with_network(network) as restored:
            assert "Skipping initialization" in _log(restored)  # the image left the cluster as it was
            assert "not properly shut down" not in _log(restored)
            assert _psql(postgres_contract, network, "restored", restored.password,
                         "select count(*) from migrated") == (0, "0")
            code, said = _psql(postgres_contract, network, "restored", original.password, "select 1")
            assert code != 0 and "password authentication failed" in said
    finally:
        engine().images.remove(snapshot, force=True)


def test_an_image_with_a_volume_where_a_snapshot_keeps_its_data_is_refused_in_one_line(postgres_contract: str) -> None:
    covered = "mm-conformance-test/postgres-contract-covered:15"
    engine().images.build(fileobj=io.BytesIO(f"FROM {postgres_contract}\nVOLUME /var/lib/mm-conformance\n".encode()),
                          tag=covered, rm=True, forcerm=True, network_mode="none")
    try:
        with pytest.raises(ImageBuildError) as refused:
            migrate_and_snapshot("mm-conformance/mattermost:never-started", covered, "unused:tag", {})
        assert "declares a volume at /var/lib/mm-conformance" in str(refused.value)
        assert "\n" not in str(refused.value)
    finally:
        engine().images.remove(covered, force=True)
    assert leftovers() == []


# -- nginx: each part of the contract (infra/nginx.py) --------------------------------------------


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> CertificateCases:
    return make_cases(tmp_path_factory.mktemp("contract-cases"))


def test_the_tls_proxy_and_the_redirects_run_on_it(nginx_contract: str, cases: CertificateCases) -> None:
    """Parts 1–5: the suite's nginx.conf replaces the image's (no www-data here, conf.d never read), the
    image's entrypoint runs nginx, the listeners' logs are the suite's own files beside the image's links."""
    token = secrets.token_urlsafe(16)
    with TLSProxyContainer(cases, nginx_contract).with_static_upstream() as proxy, \
            RedirectEndpoints(cases["trusted"], image=nginx_contract) as redirects, \
            httpx.Client(verify=str(cases.ca_file), trust_env=False) as client:
        answer = client.get(f"{proxy.url('trusted')}api/v4/users/me", headers={"Authorization": f"Bearer {token}"})
        assert (answer.status_code, answer.json()) == (200, STATIC_USER)
        assert proxy.credentials_passed("trusted") == 1 and token not in "".join(proxy.access_log("trusted"))
        moved = client.get(f"{redirects.url('to-another-host')}api/v4/users/me")
        assert moved.status_code == 307
        assert moved.headers["location"].startswith(redirects.target_url("to-another-host"))
        container = proxy.get_wrapped_container()
        code, links = container.exec_run(["readlink", "/var/log/nginx/access.log", "/var/log/nginx/error.log"])
        assert links.decode().split() == ["/dev/stdout", "/dev/stderr"]  # the image's, untouched
        assert container.exec_run(["id", "www-data"])[0] != 0
        assert "Configuration complete" in container.logs().decode()  # the image's own entrypoint ran
    assert leftovers() == []


# -- choosing an image, and pulling one -----------------------------------------------------------


@pytest.fixture
def refused_registry() -> Iterator[str]:
    """``127.0.0.1:<port>`` where nothing listens: a registry that refuses at once (the port is held
    bound, never listening, so nothing else takes it meanwhile)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{held.getsockname()[1]}"


def test_a_pull_that_fails_is_fast_and_says_why_and_a_silent_registry_is_given_up_on(refused_registry: str) -> None:
    started = time.monotonic()
    said = pull(f"{refused_registry}/mm-conformance-test/official:1")
    assert said is not None and "connection refused" in said
    assert time.monotonic() - started < 2.0
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        started = time.monotonic()
        said = pull(f"127.0.0.1:{silent.getsockname()[1]}/mm-conformance-test/official:1", answer_within_s=1)
        assert said == "no registry answered within 1 s" and time.monotonic() - started < 3.0


@pytest.fixture
def stand_in(nginx_contract: str, refused_registry: str) -> Iterator[support.SupportImage]:
    """An official image that no registry serves, and the contract image as the suite's own."""
    support.forget_choices()
    yield support.SupportImage("nginx", f"{refused_registry}/mm-conformance-test/official:1", nginx_contract,
                               "--nginx-image")
    support.forget_choices()


def test_the_default_is_the_official_image_here_then_pulled_then_the_suite_s_own(
        stand_in: support.SupportImage, monkeypatch: pytest.MonkeyPatch) -> None:
    repository, tag = stand_in.official.rsplit(":", 1)
    engine().images.get(stand_in.own).tag(repository, tag)
    try:
        monkeypatch.setattr(support, "pull", lambda image: pytest.fail(f"pulled {image}, which is here"))
        assert support.choose(stand_in) == support.Choice(stand_in.official)
    finally:
        engine().images.remove(stand_in.official)
    support.forget_choices()
    monkeypatch.undo()
    choice = support.choose(stand_in)
    assert choice.image == stand_in.own and "connection refused" in (choice.official_not_pulled or "")
    line = support.fallback_line({stand_in: choice})
    assert line is not None and line.startswith(f"{stand_in.official} could not be pulled (")
    assert line.endswith(f"): using the suite's own {stand_in.own}") and "\n" not in line


def test_without_a_registry_nor_the_suite_s_own_image_the_error_names_the_command(
        stand_in: support.SupportImage) -> None:
    missing = support.SupportImage("nginx", stand_in.official, "mm-conformance-test/never-built:1", "--nginx-image")
    with pytest.raises(InfrastructureError) as error:
        support.choose(missing)
    assert "mm-conformance images build" in str(error.value) and "--nginx-image" in str(error.value)
    with pytest.raises(InfrastructureError, match="could not be pulled"):
        support.choose(support.NGINX, "mm-conformance-test/never-built:1")  # a named image: here or pulled
    with pytest.raises(UsageError, match=r"^'Not An Image' is not an image name: .*invalid reference format"):
        support.choose(support.POSTGRES, "Not An Image")


def test_a_run_says_in_one_line_that_it_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from argparse import Namespace

    from mm_conformance.cli import run as cli

    monkeypatch.setattr(cli, "choose", lambda image, named: support.Choice(image.own, "lookup registry: no such host"))
    args = Namespace(postgres_image=None, nginx_image=None)
    said = cli._images_for_the_run(args, [], packaged_here=True)
    assert (args.postgres_image, args.nginx_image) == (POSTGRES_IMAGE, NGINX_IMAGE)  # what the workers are told
    assert said == ("postgres:15 and nginx:1.28 could not be pulled (lookup registry: no such host): "
                    "using the suite's own mm-conformance/postgres:15 and mm-conformance/nginx:bookworm")


def test_a_machine_without_a_mattermost_image_is_told_what_to_do_at_once(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], refused_registry: str) -> None:
    from mm_conformance.cli import main
    from mm_conformance.cli import run as cli

    monkeypatch.setattr(cli, "local_mattermost_images", lambda: {})  # an image-less machine, no registry
    started = time.monotonic()
    code = main(["run", "--mattermost", f"{refused_registry}/mattermost-team-edition:11.0.3"])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert code == 2 and len(errors) == 1, errors
    assert "could not be pulled" in errors[0] and "mm-conformance images build --from" in errors[0]
    assert "(none is packaged here yet)" in errors[0]
    assert time.monotonic() - started < 10.0
    assert leftovers() == []


# -- a run on a real Mattermost, with the contract images only ------------------------------------

#: TLS proxy, redirects, the TLS-terminating and subpath servers, tokens: each on the credential test.
SELECTION = ("(credential and (redirect_to_another_origin or subpath or validates_connects or "
             "(fails_validation and expired))) or personal_access_token_authenticates or token_id_pasted")
NGINX_ROLES = {"tls-proxy", "redirects", "redirect-target"}


@pytest.fixture
def mattermost_11() -> str:
    image = local_mattermost_images().get("11.0.3")
    if image is None:
        pytest.skip("infrastructure: mm-conformance/mattermost:11.0.3 is not packaged here")
    return image


def test_a_run_on_the_contract_images_passes_without_the_suite_s_own(
        tmp_path: Path, mattermost_11: str, postgres_contract: str, nginx_contract: str) -> None:
    server_id, contract_id = image_id(mattermost_11), image_id(postgres_contract)
    assert server_id and contract_id
    snapshot = snapshot_name(server_id, contract_id)
    _remove_image(snapshot)  # made anew by this run: from the contract image
    run_id = f"contract-{secrets.token_hex(4)}"
    # Watched as they happen: the engine keeps only its last 256 events for a later question.
    watching = engine().events(decode=True, filters={"type": "container", "event": "create",
                                                     "label": f"{RUN_LABEL}={run_id}"})
    created: list[dict[str, str]] = []
    watcher = threading.Thread(target=lambda: created.extend(event["Actor"]["Attributes"] for event in watching))
    watcher.start()
    started = time.monotonic()
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "mm_conformance", "run", "-q", "--mattermost", "11.0.3",
             "--postgres-image", postgres_contract, "--nginx-image", nginx_contract, "-k", SELECTION,
             "--report", str(tmp_path / "report")],
            env={**os.environ, RUN_ID_ENV: run_id}, cwd=tmp_path, capture_output=True, text=True, timeout=900)
        took = time.monotonic() - started
        watching.close()
        watcher.join(10)
        assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
        scenarios = json.loads((tmp_path / "report" / "results.json").read_text())["scenarios"]
        verdicts = sorted(scenario["verdict"] for scenario in scenarios)
        print(f"\n{len(scenarios)} scenarios on the contract images in {took:.1f} s (snapshot made first): "
              f"{ {verdict: verdicts.count(verdict) for verdict in set(verdicts)} }")
        assert len(scenarios) == 13 and set(verdicts) <= {"pass", "warn"}

        images: dict[str, set[str]] = {}
        for attributes in created:
            images.setdefault(attributes[SUITE_LABEL], set()).add(attributes["image"])
        assert images["postgres"] == {postgres_contract, snapshot}, images  # the snapshot made, then used
        assert image_labels(snapshot)[POSTGRES_IMAGE_LABEL] == contract_id
        assert set().union(*(images[role] for role in NGINX_ROLES)) == {nginx_contract}, images
        suite_own = {POSTGRES_IMAGE, NGINX_IMAGE, snapshot_name(server_id, image_id(POSTGRES_IMAGE) or "")}
        assert not suite_own & set().union(*images.values()), images
        assert engine().containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}) == []
    finally:
        watching.close()
        _remove_image(snapshot)


def _remove_image(image: str) -> None:
    try:
        engine().images.remove(image, force=True)
    except ImageNotFound:
        pass
