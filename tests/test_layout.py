"""The package's layout rules (README, "Layout"), checked so that they stay true.

Each role imports only the roles below it, and only the pytest plugin touches pytest:
import-linter's contracts in pyproject.toml. No module grows past what a reader takes in
at once.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: About a screenful of a module's outline; a module past it has more than one role in it.
MOST_LINES = 420


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is not installed (pip install -e '.[test]')")
def test_each_role_imports_only_the_roles_below_it():
    result = subprocess.run(["lint-imports", "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    broken = result.stdout.partition("Broken contracts")[2] or result.stdout[-2000:]  # past the banner
    assert result.returncode == 0, broken + result.stderr[-2000:]


def test_no_module_of_the_package_is_longer_than_a_reader_takes_in_at_once():
    long = {str(path.relative_to(ROOT)): lines for path in sorted((ROOT / "mm_conformance").rglob("*.py"))
            if (lines := len(path.read_text().splitlines())) > MOST_LINES}
    assert not long, f"modules over {MOST_LINES} lines: {long}"
