"""The keys under which the plugin's parts keep what they share, in pytest's config and item stashes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # named in the keys' types only (the modules import this one)
    from mm_conformance.mattermost.servers import MattermostServer  # noqa: F401
    from mm_conformance.pytest_plugin.pool import DeploymentPool  # noqa: F401
    from mm_conformance.scenario.world import ScenarioWorld  # noqa: F401

SERVERS = pytest.StashKey["list[MattermostServer]"]()
IMPLEMENTATIONS = pytest.StashKey[list[str]]()  # the --impl values
PASSED_ENV = pytest.StashKey[Mapping[str, str]]()  # --impl-env: what the implementations get beyond the baseline
EXTRAS = pytest.StashKey[dict[str, set[str]]]()  # the extras each scope's scenarios need, by server_scope
POOL = pytest.StashKey["DeploymentPool"]()
WORLD = pytest.StashKey["ScenarioWorld"]()  # on an item: the world its scenario ran in
