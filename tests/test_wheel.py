"""The wheel works anywhere: installed (not editable) into a fresh virtualenv, run from another directory.

It builds the project's wheel, installs it with its dependencies into a new
virtualenv (from the package index, as a user's `pip install` / `pipx install`
does), and runs commands that need no Mattermost from an unrelated directory.
"""

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin/`` of a fresh virtualenv holding the project's wheel."""
    work = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"),
                            str(ROOT)], cwd=work, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((work / "dist").glob("mm_conformance-*.whl"))
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    installed = subprocess.run([str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                               capture_output=True, text=True, timeout=900)
    if installed.returncode != 0 and "No matching distribution" in installed.stderr + installed.stdout:
        pytest.skip(f"infrastructure: the package index is not reachable: {installed.stderr.strip()[-300:]}")
    assert installed.returncode == 0, installed.stderr[-2000:]
    return bin_dir


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "mm-conformance"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_the_installed_command_answers_from_any_directory(installed: Path, tmp_path: Path) -> None:
    help_text = run(installed, "--help", cwd=tmp_path)
    assert help_text.returncode == 0 and "run" in help_text.stdout
    listed = run(installed, "adapters", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert f"reference: {installed}/python" in listed.stdout  # its own interpreter, not the checkout's
    assert "Traceback" not in help_text.stderr + listed.stderr


def test_the_installed_command_checks_an_adapter_against_the_published_schema(installed: Path, tmp_path: Path) -> None:
    """adapters check needs no server and no checkout: the schema and the loopback endpoints come with the wheel."""
    checked = run(installed, "adapters", "check", "reference", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "it speaks protocol v1: 6 of 6 checks pass" in checked.stdout
    schema = Path(run(installed, "adapters", "schema", cwd=tmp_path).stdout.strip())
    assert schema.name == "protocol-v1.schema.json" and schema.is_file()
    assert str(schema).startswith(str(installed.parent))  # the installed copy, not the checkout's
    assert schema.read_bytes() == (ROOT / "mm_conformance" / "protocol" / "protocol-v1.schema.json").read_bytes()


def test_the_version_has_one_source(installed: Path, tmp_path: Path) -> None:
    """The distribution's version is the package's __version__, which the build read (pyproject: dynamic)."""
    versions = subprocess.run([str(installed / "python"), "-c", (
        "import importlib.metadata, mm_conformance; "
        "print(importlib.metadata.version('mm-conformance'), mm_conformance.__version__)")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    distribution, package = versions.stdout.split()
    assert distribution == package
    assert f'__version__ = "{package}"' in (ROOT / "mm_conformance" / "__init__.py").read_text()


def test_the_wheel_carries_the_scenarios_and_their_documentation_trace(installed: Path, tmp_path: Path) -> None:
    traced = run(installed, "trace", cwd=tmp_path)
    assert traced.returncode == 0, traced.stdout + traced.stderr
    assert "trace OK" in traced.stdout
    where = subprocess.run([str(installed / "python"), "-c",
                            "from mm_conformance.paths import SUITE_ROOT; print(SUITE_ROOT)"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60).stdout.strip()
    suite = Path(where)
    assert suite.name == "_suite" and str(suite).startswith(str(installed.parent))
    for part in ("features/token_auth.feature", "steps/test_scenarios.py", "fixtures/plugin.py",
                 "docker/mattermost/Dockerfile", "docker/mattermost/client/root.html", "pyproject.toml"):
        assert (suite / part).is_file(), part
    adapters = suite.parent / "protocol" / "adapters"  # the Node.js adapters and the module they share
    for part in ("n8n/adapter.js", "n8n/package-lock.json", "mattermost_client/adapter.js", "node_protocol.js"):
        assert (adapters / part).is_file(), part


def test_the_installed_suite_collects_every_scenario(installed: Path, tmp_path: Path) -> None:
    """The same scenarios as the checkout, found through the installed copy of the suite's files."""
    def collected(python: str, cwd: Path) -> int:
        listing = subprocess.run([python, "-c", (
            "import sys, pytest; from mm_conformance.paths import SUITE_ROOT as r; "
            "sys.exit(pytest.main([str(r / 'steps'), f'--rootdir={r}', '-c', str(r / 'pyproject.toml'), "
            "'-p', 'no:cacheprovider', '--collect-only', '-q', '--mattermost=mm-conformance/mattermost:0.0.9']))")],
            cwd=cwd, capture_output=True, text=True, timeout=120)
        assert listing.returncode == 0, listing.stdout[-2000:] + listing.stderr[-2000:]
        return sum(1 for line in listing.stdout.splitlines() if "::test_" in line)

    assert collected(str(installed / "python"), tmp_path) == collected(sys.executable, ROOT) > 50
