"""Shared helpers for the suite's own tests (no Mattermost needed here)."""

import http.server
import subprocess
import threading
from collections.abc import Iterator

import pytest

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.images import NGINX_IMAGE, ImageBuilder


def _docker_reachable() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Skip a test that needs Docker when no engine answers (CI always starts one)."""
    if not _docker_reachable():
        pytest.skip("infrastructure: no Docker engine answers")


@pytest.fixture(scope="session")
def nginx_image(docker_engine: None) -> str:
    """The nginx image (TLS proxy, redirects), built here when missing (about 20 s the first time)."""
    try:
        ImageBuilder().ensure_nginx()
    except (InfrastructureError, OSError) as error:
        pytest.skip(f"infrastructure: {NGINX_IMAGE} is not built and cannot be built: {error}")
    return NGINX_IMAGE


class _WebPage(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        page = b"<!DOCTYPE html><title>Mattermost</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_page_site() -> Iterator[str]:
    """A site on 127.0.0.1 that answers every path with a web page, 200 (as Mattermost does off its API)."""
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WebPage) as site:
        threading.Thread(target=site.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{site.server_address[1]}/chat"
        finally:
            site.shutdown()
