"""The suite accepts the reference and rejects every deliberately defective implementation.

This is how the suite proves it can fail. It runs the real scenarios against a
real Mattermost through the CLI, so it is skipped (with the reason) where no
Mattermost can be started.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mm_conformance.infra.images import local_mattermost_images
from mm_conformance.mattermost.servers import version_key
from tests.defective.adapter import DEFECTS

ROOT = Path(__file__).resolve().parent.parent
ADAPTER = ROOT / "tests" / "defective" / "adapter.py"


def run_suite(*args: str) -> subprocess.CompletedProcess[str]:
    """A run on the newest server packaged here: a defect is the implementation's, whatever the server
    (the scenarios of steps/ check the reference on every server)."""
    images = local_mattermost_images()
    newest = ["--mattermost", max(images, key=version_key)] if images else []
    return subprocess.run([sys.executable, "-m", "mm_conformance", "run", "-q", *newest, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800, env=os.environ.copy())


def closing_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stdout.strip() or result.stderr.strip()).splitlines()
    return lines[-1] if lines else f"exit {result.returncode}, no output"


@pytest.fixture(scope="module")
def reference_conforms() -> None:
    result = run_suite()
    if result.returncode == 2:
        pytest.skip(f"infrastructure: the suite gives no verdict here: {closing_line(result)}")
    assert result.returncode == 0, f"the reference must conform: {closing_line(result)}\n{result.stdout[-3000:]}"


def test_defects_are_distinct_and_documented():
    assert len(DEFECTS) >= 8
    for name, defect in DEFECTS.items():
        assert " MUST" in defect.behaviour, name
        assert defect.caught_by, name


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_suite_rejects_defect(defect, reference_conforms):
    result = run_suite("--impl", f"defective:{defect}={sys.executable} {ADAPTER} {defect}",
                       "-k", DEFECTS[defect].caught_by)
    assert result.returncode == 1, (f"{defect} ({DEFECTS[defect].behaviour}) was not rejected: "
                                    f"{closing_line(result)}")
    # Rejected by a verdict, not by an infrastructure error: failures and no errors.
    tally = re.search(r"\((\d+) pass, (\d+) warn, (\d+) fail, (\d+) skip, (\d+) error\)", closing_line(result))
    assert tally, f"no tally in the closing line: {closing_line(result)}"
    assert int(tally[3]) > 0 and int(tally[5]) == 0, f"{defect}: {closing_line(result)}"


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_names_scenarios_that_exist(defect):
    listed = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "steps", "--collect-only",
                             "-q", "-k", DEFECTS[defect].caught_by], cwd=ROOT, capture_output=True, text=True)
    assert "::test_" in listed.stdout, f"-k {DEFECTS[defect].caught_by!r} selects no scenario"
