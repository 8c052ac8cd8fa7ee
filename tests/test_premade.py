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
