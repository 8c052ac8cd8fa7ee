"""mm-conformance: a conformance suite for Mattermost API credentials.

It encodes n8n's "Mattermost credential" documentation (personal access token,
base URL, Ignore SSL Issues) as Gherkin scenarios that run against a real
Mattermost server, and checks any credential implementation through a small
JSON Lines protocol (see docs/protocol.md).
"""

#: The suite's version, and its one source: the build reads it (pyproject.toml declares the version dynamic),
#: results.json records it beside each run.
__version__ = "0.1.0"
