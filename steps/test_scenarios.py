"""Binds every feature file under features/ to pytest: one test per scenario.

Every scenario runs in a world on a real Mattermost: the ``world`` fixture (and so
``deployment`` and its ``mattermost_server`` parameter) is part of each one; the
upgrade scenario is also parametrized by the server it upgrades to. Several
implementations share each scenario's world (one test, a report each), except
where the credential changes the server (``@own-world``): one test per implementation.
"""

import pytest
from pytest_bdd import scenarios

pytestmark = pytest.mark.usefixtures("world", "upgrade_path", "implementation")

scenarios(".")
