"""mm-conformance: a conformance suite for Mattermost API credentials.

It encodes n8n's "Mattermost credential" documentation (personal access token,
base URL, Ignore SSL Issues) as Gherkin scenarios that run against a real
Mattermost server, and checks any credential implementation through a small
JSON Lines protocol (see docs/protocol.md).
"""

import os

__version__ = "0.1.0"

# testcontainers reads its settings once, at import. For a local Docker engine these
# defaults fit a machine without a registry: Ryuk (its reaper) would have to be
# pulled, and the suite removes everything it starts itself; a local engine publishes
# ports on loopback, while /.dockerenv would make testcontainers use the bridge gateway.
if os.environ.get("DOCKER_HOST", "unix://").startswith("unix://"):
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    os.environ.setdefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
