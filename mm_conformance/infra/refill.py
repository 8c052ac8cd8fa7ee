"""A warm deployment's users made ahead, refilled between runs, in a process of its own.

A run on a warm deployment (``mm-conformance up``) spends premade users
(:mod:`~mm_conformance.infra.premade`); as it ends, it starts this module as a detached
process::

    python -m mm_conformance.infra.refill <WARM_DIR>/<server image id>.users

which signs in as the deployment's admin and makes the next premade users until
:data:`~mm_conformance.infra.premade.PREMADE_USERS` are left, counting each in the ledger only
once it exists (a run starting meanwhile takes only users that exist). One refill at a time
per deployment (a lock file); it gives up quietly when the deployment goes away
(``mm-conformance down``) and writes what it did to ``refill.log`` beside the state.

Only between runs: Mattermost hashes each new user's password, and a refill at work beside a
run slowed that run down (measured on 2 cores: a warm run right after a refill began took
44.6 s against 40.1 s, Mattermost's CPU 34.7 core-seconds against 22.9). So a refill makes
each user while no run uses the deployment (:meth:`WarmState.between_runs`; every worker of a
run holds :meth:`WarmState.used_by_a_run`): a run that starts before the refill is done pauses
it, and takes made users where the premade ones run out.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

from mm_conformance.errors import InfrastructureError
from mm_conformance.infra.premade import PREMADE_USERS, premade_username
from mm_conformance.infra.warm import WarmState
from mm_conformance.mattermost.admin import MattermostApiError


def start_refill(state: WarmState) -> bool:
    """Start a refill of ``state``'s deployment when it needs one; whether one was started."""
    handed_out, made = state.users_ledger.counts()
    if not state.kept or not state.premade_users or made - handed_out >= PREMADE_USERS:
        return False  # none was handed out
    log = state.users_ledger_path.with_name("refill.log").open("a")
    with log:
        subprocess.Popen([sys.executable, "-m", "mm_conformance.infra.refill", str(state.users_ledger_path)],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    return True


def refill(state: WarmState) -> int:
    """Make premade users until :data:`PREMADE_USERS` are left unhanded; how many were made."""
    with state.users_ledger_path.with_suffix(".refill").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # another refill is at it
        ledger, made_now = state.users_ledger, 0
        admin = state.sign_in()
        try:
            while True:
                with state.between_runs():  # Mattermost hashes a password: never while a run goes on
                    handed_out, made = ledger.counts()
                    if made - handed_out >= PREMADE_USERS:
                        return made_now
                    admin.create_user(premade_username(made))
                    ledger.made_one_more()
                made_now += 1
        finally:
            admin.close()


def main(ledger_path: str) -> int:
    state_path = Path(ledger_path).with_suffix(".json")
    try:
        made = refill(WarmState.read(state_path))
    except (OSError, ValueError, InfrastructureError, MattermostApiError) as error:
        print(f"refill of {state_path.name} stopped: {' '.join(str(error).split())}")
        return 1
    print(f"refill of {state_path.name}: {made} user(s) made ahead")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
