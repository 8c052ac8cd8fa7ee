"""Users made ahead are handed out once each: in one process, and across processes sharing a ledger file."""

import multiprocessing
from pathlib import Path

from mm_conformance.infra.premade import UsersLedger, premade_username


def test_each_user_once_then_none():
    ledger = UsersLedger(3)
    assert [ledger.take() for _ in range(4)] == ["premade-0000", "premade-0001", "premade-0002", None]
    ledger.made_one_more()  # a refill made premade-0003
    assert (ledger.take(), ledger.take(), ledger.counts()) == ("premade-0003", None, (4, 4))


def _take_all(path: str, out: "multiprocessing.Queue[list[str]]") -> None:
    ledger, taken = UsersLedger(200, Path(path)), []
    while (name := ledger.take()) is not None:
        taken.append(name)
    out.put(taken)


def test_processes_sharing_a_ledger_file_never_get_the_same_user(tmp_path):
    """Four processes (a run's workers) take from one ledger at once, as fast as they can."""
    path, out = tmp_path / "server.users", multiprocessing.get_context("fork").Queue()
    workers = [multiprocessing.get_context("fork").Process(target=_take_all, args=(str(path), out)) for _ in range(4)]
    for worker in workers:
        worker.start()
    taken = [name for _ in workers for name in out.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(taken) == [premade_username(i) for i in range(200)]  # each once, none lost
    handed = path.with_suffix(".handed").read_text().split("\n")[:-1]
    assert sorted(line.split()[0] for line in handed) == sorted(taken)  # each with the process that took it
    assert UsersLedger(999, path).counts() == (200, 200)  # the file, not the new object's count, is the truth


def test_a_refill_makes_users_only_while_no_run_uses_the_deployment(tmp_path):
    """Mattermost hashes each new user's password: a refill beside a run would slow the run down."""
    import threading

    from mm_conformance.infra.warm import WarmState

    state = WarmState("img", "sha256:" + "0" * 64, "http://127.0.0.1:1", "admin", "pw", "dsn", "net",
                      directory=str(tmp_path))
    run = state.used_by_a_run()
    other_run = state.used_by_a_run()  # runs use it side by side
    refilled = threading.Event()

    def refill() -> None:
        with state.between_runs():
            refilled.set()

    threading.Thread(target=refill, daemon=True).start()
    assert not refilled.wait(0.3), "not while a run uses it"
    run.close()
    assert not refilled.wait(0.3), "nor while another still does"
    other_run.close()
    assert refilled.wait(5), "once no run uses it"
