"""Binds every feature file under features/ to pytest: one test per scenario.

Every scenario runs in a world on a real Mattermost: the ``world`` fixture (and so
``deployment`` and its ``mattermost_line`` parameter) is part of each one.
"""

import pytest
from pytest_bdd import scenarios

pytestmark = pytest.mark.usefixtures("world")

scenarios(".")
