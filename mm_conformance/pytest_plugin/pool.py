"""The deployments of a run: each server started (or attached to) once, on first use, and stopped at the end."""

from __future__ import annotations

import os
import threading
from typing import IO

import pytest

from mm_conformance.errors import (
    InfrastructureError,
    NotApplicable,
    UsageError,
)
from mm_conformance.infra.deployment import (
    ADMIN_TOKEN_ENV,
    TOKENS_ON,
    Deployment,
    MattermostDeployment,
    external_deployment,
)
from mm_conformance.infra.endpoints import Endpoints, StartedOnce
from mm_conformance.infra.premade import UsersLedger
from mm_conformance.infra.refill import start_refill
from mm_conformance.infra.shared import SharedDeployments, attach
from mm_conformance.infra.support import POSTGRES, choose, fallback_line
from mm_conformance.infra.warm import ServerWideLock, WarmState
from mm_conformance.mattermost.admin import MattermostApiError
from mm_conformance.mattermost.background import CleanUp, UserPool
from mm_conformance.mattermost.servers import (
    MattermostServer,
)
from mm_conformance.mattermost.settings import ServerSettings
from mm_conformance.pytest_plugin.classify import skip_for_infrastructure
from mm_conformance.pytest_plugin.stash import EXTRAS
from mm_conformance.redact import register_secret


def _enable_tokens(deployment: Deployment, lock: ServerWideLock | None) -> None:
    """Set :data:`TOKENS_ON`, the world the documentation assumes. On a server other workers or
    runs share, as a scenario changes a setting (``ServerSettings``, kept, not restored): under the
    lock, and only if they are off, so that a scenario elsewhere that switched them off is not
    changed under it (the lock waits until it has put them back)."""
    if lock is None:
        deployment.admin.patch_config(TOKENS_ON)
        return
    lock.scenario_starts()
    try:
        ServerSettings(deployment.admin, before_change=lock.before_settings_change).change(TOKENS_ON)
    finally:
        lock.scenario_ends()


class DeploymentPool:
    """Starts each server's deployment once, on first use; remembers a failure too."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._running: dict[MattermostServer, MattermostDeployment] = {}  # the stacks this run started
        self._deployments: dict[MattermostServer, Deployment] = {}
        self._failed: dict[MattermostServer, str] = {}
        self._endpoints: StartedOnce[MattermostServer, Endpoints] = StartedOnce()  # the background may start them
        self._upgrades: list[MattermostDeployment] = []
        #: The state of each deployment this run attached to (one the CLI started for its workers, or a warm one).
        self._warm: dict[MattermostServer, WarmState] = {}
        self.versions: list[str] = []
        #: Extras starting ahead of the scenarios that need them, one thread per server.
        self._ahead: dict[MattermostServer, threading.Thread] = {}
        #: Held while this run uses a warm deployment (see WarmState.used_by_a_run).
        self._using: list[IO[str]] = []

    def get(self, server: MattermostServer) -> Deployment:
        if server in self._failed:
            skip_for_infrastructure(self._failed[server])
        if server not in self._deployments:
            try:
                deployment = self._start(server)
            except MattermostApiError as error:  # started, then refused the suite's first setting
                self._failed[server] = f"{server} refused the suite's set-up: {error}"
                skip_for_infrastructure(self._failed[server])
            except InfrastructureError as error:
                reason = str(error)
                self._failed[server] = reason if str(server) in reason else f"{server}: {reason}"
                skip_for_infrastructure(self._failed[server])
            except UsageError as error:  # bad input (an image name that is none): one line, as `run` says it
                raise pytest.fail.Exception(str(error), pytrace=False) from None
            self._deployments[server] = deployment
            warm = (" (warm: mm-conformance down removes it)"
                    if server in self._running and self._running[server].kept_after_run else "")
            source = server.url or server.image
            self.versions.append(f"{deployment.version} at {deployment.base_url} (from {source}){warm}")
            reporter = self._config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"\nrunning against {deployment.version} at {deployment.base_url}{warm}")
        return self._deployments[server]

    def start_extras_ahead(self, server: MattermostServer, scope: str) -> None:
        """Start the extras the scenarios of ``scope`` will ask for, in a thread, while the others run.

        Once per server, by the first scenario this process runs on it: a pytest-xdist worker
        runs the scenarios of one scope (see server_scope), and knows which only then.
        """
        wanted = self._config.stash.get(EXTRAS, {}).get(scope, set())
        if server not in self._running or server in self._ahead or not wanted:
            return

        def start() -> None:
            try:
                self._make_endpoints(server).start_ahead(wanted)
            except InfrastructureError:
                pass  # remembered: the first scenario that asks gets it

        self._ahead[server] = threading.Thread(target=start, name=f"extras of {server}", daemon=True)
        self._ahead[server].start()

    def _start(self, server: MattermostServer) -> Deployment:
        if server.url:
            token = self._config.getoption("--admin-token") or os.environ[ADMIN_TOKEN_ENV]
            register_secret(token)
            return external_deployment(server.url, token)
        nginx = self._config.getoption("--nginx-image")
        postgres = choose(POSTGRES, self._config.getoption("--postgres-image"))  # once per process
        said = fallback_line({POSTGRES: postgres})  # (`run` chooses for its workers, and says so itself)
        reporter = self._config.pluginmanager.get_plugin("terminalreporter")
        if said and reporter is not None and not self._running:  # said by the first deployment only
            reporter.write_line(f"\nmm-conformance: {said}")
        # The one the CLI started for this run's workers, else one mm-conformance up keeps between runs;
        # only on the same PostgreSQL image.
        warm = SharedDeployments.state_for(server.image) or WarmState.of(server.image, postgres_image=postgres.image)
        if warm is not None and warm.postgres_image != postgres.image:
            warm = None  # on another PostgreSQL image: this run starts its own
        if warm is not None:  # this run (this worker) adds only its extras
            stack = attach(server, warm, nginx_image=nginx)
            attached = stack.deployment
            if attached is None:
                raise InfrastructureError(f"{server}: the warm deployment could not be attached to")
            deployment = attached
        else:
            stack = MattermostDeployment(server, postgres_image=postgres.image, nginx_image=nginx)
            deployment = stack.start()
        self._running[server] = stack
        _enable_tokens(deployment, stack.server_wide_lock)
        if not deployment.external:  # an external server's users and tokens go as each scenario ends
            deployment.admin.only_writer_of_config()  # the only writer, or told when others wrote
            if stack.server_wide_lock is not None:  # a server other workers or runs share
                stack.server_wide_lock.when_others_change_settings(deployment.admin.forget_config)
            # Users made ahead in the database: each handed out once, across this run's workers (and the
            # runs of a warm deployment) through the ledger beside the deployment's state.
            ledger = warm.users_ledger if warm is not None else UsersLedger(deployment.premade_users)
            if warm is not None:
                self._warm[server] = warm
                if warm.kept:  # a refill of its users waits until this run is done with it
                    self._using.append(warm.used_by_a_run())
            deployment.user_pool = UserPool(deployment.admin.another_session(), premade=ledger.take)
            deployment.clean_up = CleanUp(deployment.admin.another_session())
        return deployment

    def upgradable(self, server: MattermostServer) -> MattermostDeployment:
        """A deployment of its own for an upgrade scenario: started fresh, removed with the run."""
        stack = MattermostDeployment(server, postgres_image=self._config.getoption("--postgres-image"))
        self._upgrades.append(stack)  # listed first: removed with the run even if it fails to start
        deployment = stack.start()  # InfrastructureError: the scenario errors with the reason
        deployment.admin.patch_config(TOKENS_ON)
        return stack

    def health(self, server: MattermostServer, *, settle_s: float | None = None) -> str | None:
        """What is wrong with ``server``'s deployment now (None: healthy, or not started);
        ``settle_s``: after a failure, how long the engine may take to report a container that stopped
        (see MattermostDeployment.health)."""
        if server in self._running:
            return self._running[server].health(settle_s=settle_s)
        if server in self._deployments and not self._deployments[server].alive():
            return f"{server} stopped answering"
        return None

    def mark_broken(self, server: MattermostServer, reason: str) -> None:
        """The server broke during a scenario: every later scenario on it is skipped with the reason at once."""
        self._failed.setdefault(server, reason)

    def require_working(self, server: MattermostServer) -> None:
        if server in self._failed:
            skip_for_infrastructure(self._failed[server])

    def server_wide_lock(self, server: MattermostServer) -> ServerWideLock | None:
        """The lock of a server other runs may use at the same time (a warm deployment), else None."""
        stack = self._running.get(server)
        return stack.server_wide_lock if stack is not None else None

    def allows_config_changes(self, deployment: Deployment) -> bool:
        return not deployment.external or self._config.getoption("--allow-config-changes")

    def endpoints(self, server: MattermostServer) -> Endpoints:
        """The server's extra endpoints (TLS cases, redirects, subpath server), started on first use."""
        if server not in self._running:
            raise NotApplicable("TLS endpoints need a deployment the suite started (not an external server)")
        try:
            return self._make_endpoints(server)
        except InfrastructureError as error:
            skip_for_infrastructure(str(error))

    def _make_endpoints(self, server: MattermostServer) -> Endpoints:
        return self._endpoints.get(server, lambda: Endpoints(self._running[server]))

    def close(self) -> None:
        """Stop everything this run started; raise if removing what a scenario made failed."""
        problems: list[str] = []
        for server, deployment in self._deployments.items():
            stack = self._running.get(server)
            healthy = stack is not None and stack.health() is None
            # First: a warm server keeps nothing a scenario made, nor an unused user, active.
            if deployment.clean_up is not None:
                problems += deployment.clean_up.close(wait=healthy)
            if deployment.user_pool is not None:
                deployment.user_pool.close(deactivate_unused=healthy and stack is not None and stack.kept_after_run)
            if healthy and server in self._warm:
                start_refill(self._warm[server])  # a warm deployment's users made ahead, for the next run
        for using in self._using:
            using.close()  # a refill may make users from now on
        self._using.clear()
        for stack in [*self._running.values(), *self._upgrades]:
            stack.stop()  # an extra still starting in the background is removed as it comes up
        for thread in self._ahead.values():
            thread.join(timeout=30)
        for endpoints in self._endpoints.started().values():
            endpoints.close()
        self._running.clear()
        self._upgrades.clear()
        for deployment in self._deployments.values():
            deployment.admin.close()
        self._deployments.clear()
        if problems:
            raise InfrastructureError("; ".join(problems))


