"""Faults mid-run on a real Mattermost: reported as infrastructure (exit 2), never as a verdict.

Each fault names what failed by its role, ends the run within a bounded time,
leaves nothing behind, keeps the verdicts of the scenarios that ran before it,
and no artefact of the run (reports, adapter log, console output) holds a
token, session token or password. Skipped with the reason where no Mattermost
image is packaged (no server, no fault to inject).
"""

import pytest

from mm_conformance.infra.images import local_mattermost_images
from mm_conformance.mattermost.servers import version_key
from tests.faults import FAULTS, NAMED_AS, FaultRun

#: How long a run may take to end after its fault.
BOUND_S = {"mattermost-frozen": 60.0}
#: How soon the run reports the first scenario without a verdict: no admin call, nor the
#: implementation's request, waits on a broken server longer than its health check allows.
NAMED_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def server(docker_engine) -> str:
    images = local_mattermost_images()
    if not images:
        pytest.skip("infrastructure: no Mattermost image is packaged here (mm-conformance images build --from PATH)")
    return max(images, key=version_key)  # any real server will do: the newest


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_mid_run_is_infrastructure_named_bounded_and_leaves_nothing(fault, server, tmp_path):
    run = FaultRun(fault, tmp_path / "report").run("--mattermost", server, after_passes=2)
    results = run.results()
    verdicts = [r["verdict"] for r in results]
    assert run.returncode == 2, run.closing_line()
    assert "fail" not in verdicts, [r["reason"] for r in results if r["verdict"] == "fail"]
    assert verdicts.count("pass") >= 2, "the scenarios before the fault keep their verdicts"
    reasons = [r["reason"] for r in results if r["verdict"] == "error"]
    assert reasons and any(NAMED_AS[fault] in reason for reason in reasons), reasons
    assert run.named_after_s is not None and run.named_after_s < NAMED_WITHIN_S, \
        f"the first scenario without a verdict came {run.named_after_s} s after the fault"
    assert run.seconds_to_end < BOUND_S.get(fault, 60.0), f"{run.seconds_to_end:.0f} s to end after the fault"
    assert run.leftovers() == []
    assert run.leaks() == []
