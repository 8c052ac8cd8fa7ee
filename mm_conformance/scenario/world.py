"""One scenario's world: what a step calls to make things on the server and to use the credential.

Steps ask the world for users, tokens and credentials and hand credentials to the
implementation under test through it; they never build HTTP requests, certificates or
containers themselves. The world is three named parts:

- what the scenario made on the server (:class:`~mm_conformance.scenario.objects.ServerObjects`,
  the world's base: users, tokens, team, channels, sessions), put away when it ends;
- one :class:`~mm_conformance.scenario.tracks.Track` per implementation: what it was asked,
  what it answered, how it ended;
- the uses of the credential below, each observed on the implementation's track.

Every server-wide setting a scenario changes goes through
:class:`~mm_conformance.mattermost.settings.ServerSettings`, which puts it back.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mm_conformance.errors import InfrastructureError, NotApplicable, NothingObserved
from mm_conformance.infra.deployment import Deployment
from mm_conformance.infra.endpoints import SERVER_TERMINATED, Endpoints
from mm_conformance.infra.silent import nothing_listening
from mm_conformance.mattermost.background import run_steps
from mm_conformance.mattermost.settings import ServerSettings
from mm_conformance.protocol.runner import AdapterFailure, AdapterTimedOut, Observation
from mm_conformance.protocol.wire import ApiRequest, Credential
from mm_conformance.scenario.objects import WRITES_INTO, ServerObjects
from mm_conformance.scenario.tracks import EveryImplementationEnded, Track, focus, focused, tracked
from mm_conformance.scenario.upgrades import UpgradePath
from mm_conformance.scenario.verdicts import ConformanceFailure, TokenExposure

#: The paths a credential is used along, as the feature files name them (see ScenarioWorld.use).
PATHS = ("the credential test", "a node read", "a node write")


@dataclass(repr=False)
class ScenarioWorld(ServerObjects):
    """One scenario's world, shared by every implementation that runs it side by side.

    Users, tokens, settings and endpoints are made once; each implementation has a
    :class:`Track` of its own. Steps that use the implementation run once per
    implementation (:func:`each_implementation`), the world focused on its track, so
    each one makes the same call against the same server state and gets its own verdict.
    """

    deployment: Deployment
    #: The implementations under test (one, or several side by side).
    implementations: Any
    settings: ServerSettings
    #: How messages name the scenario (its test's name).
    name: str = "the scenario"
    #: The deployment's extra endpoints (TLS cases, redirects, a subpath server), started on first use.
    endpoints_of_deployment: Callable[[], Endpoints] | None = None
    #: The extras the scenario declares (``@needs:<extra>`` tags); None: not known (a world made by hand).
    declared_extras: frozenset[str] | None = None
    #: What is wrong with the deployment and every container of it (see MattermostDeployment.health).
    health_of_deployment: Callable[[], str | None] | None = None
    #: Told when the scenario reads no server-wide setting any more (it waits on a silent server):
    #: on a server other runs share, their scenarios may change settings meanwhile.
    settings_no_longer_read: Callable[[], None] | None = None
    #: The query parameters of the scenario's read with a query string (the same for every implementation).
    query: dict[str, str] = field(default_factory=dict)
    #: An upgrade scenario's own deployment, the servers it is upgraded to, and the steps taken.
    upgrade: UpgradePath | None = None
    tracks: list[Track] = field(init=False)
    _endpoints: Endpoints | None = field(init=False, default=None)

    def __repr__(self) -> str:
        # A traceback (console, JUnit) shows the world: users and tokens by their reprs, which hold no secret.
        return (f"ScenarioWorld(name={self.name!r}, deployment={self.deployment!r}, users={self.users!r}, "
                f"tokens={self.tokens!r}, tracks={self.tracks!r})")

    def __post_init__(self) -> None:
        ServerObjects.__init__(self)
        implementations = self.implementations if isinstance(self.implementations, list) else [self.implementations]
        self.tracks = [Track(implementation) for implementation in implementations]

    # -- the implementations, one track each ----------------------------------------------

    @property
    def track(self) -> Track:
        """The track of the implementation a step is running for (see :func:`each_implementation`)."""
        return focused()

    implementation = property(lambda world: world.track.implementation)
    observations = tracked("observations")
    errata = tracked("errata")
    warnings = tracked("warnings")
    credentials_passed = tracked("credentials_passed")
    writes_through = tracked("writes_through")
    queries_through = tracked("queries_through")
    redirects_answered = tracked("redirects_answered")
    judged_before_upgrade = tracked("judged_before_upgrade")
    upgrade_steps = tracked("upgrade_steps")

    def for_each_implementation(self, step: Callable[[], None], *, at_once: bool = False) -> None:
        """Run ``step`` for every implementation still in the scenario, each with the world focused on it.

        A failure or an adapter breakdown ends the scenario for that implementation
        only. With a single implementation the scenario behaves as it always did: the
        failure is raised. ``at_once`` runs them in threads of their own (for steps that
        mostly wait, such as a server that never answers).
        """
        active = [track for track in self.tracks if track.ended is None]

        def run(track: Track) -> None:
            focus.set(track)
            try:
                step()
            except (ConformanceFailure, AdapterFailure, NothingObserved) as ended:
                track.ended = ended

        if at_once and len(active) > 1:
            with concurrent.futures.ThreadPoolExecutor(len(active)) as pool:
                for done in [pool.submit(contextvars.copy_context().run, run, track) for track in active]:
                    done.result()  # anything else than a verdict ends the scenario for everyone
        else:
            for track in active:
                contextvars.copy_context().run(run, track)
        if len(self.tracks) == 1 and self.tracks[0].ended is not None:
            raise self.tracks[0].ended
        if all(track.ended is not None for track in self.tracks):
            raise EveryImplementationEnded()

    def health(self) -> str | None:
        """What is wrong with the scenario's deployment (a container stopped, the server silent), or None."""
        if self.upgrade is not None:  # the scenario's own deployment
            return self.upgrade.stack.health()
        if self.health_of_deployment is not None:
            return self.health_of_deployment()
        return None if self.deployment.alive() else f"Mattermost {self.deployment.name} stopped answering"

    def move_to(self, deployment: Deployment) -> None:
        """Go on on another deployment (an upgrade scenario's own server, or that server upgraded)."""
        self.deployment = deployment
        self.settings = ServerSettings(deployment.admin)

    def close(self) -> None:
        """Put server-wide settings back at once, then put away what the scenario made (see
        :meth:`ServerObjects.put_away`); an upgrade scenario's own server goes with everything on it."""
        if self.upgrade is not None:
            self.close_sessions()
            self.upgrade.stack.stop()
            return
        problems = run_steps([("restoring settings", self.settings.restore)])  # before the next scenario
        problems += self.put_away()
        if problems:
            raise InfrastructureError(f"cleaning up after the scenario failed: {'; '.join(problems)}")

    def warn(self, text: str) -> None:
        """A SHOULD-level concern: the scenario passes, and the report shows it as a warning."""
        self.warnings.append(text)

    def record_erratum(self, docs_ref: str, text: str) -> None:
        """The documentation says one thing and the real system does another; the report lists it."""
        self.errata.append((docs_ref, text))

    def credential(self, access_token: str, *, base_url: str | None = None,
                   ignore_ssl_issues: bool = False) -> Credential:
        return Credential(access_token, base_url if base_url is not None else self.deployment.base_url,
                          ignore_ssl_issues)

    # -- the implementation under test ---------------------------------------------------

    def check(self, credential: Credential, ca_file: str | None = None) -> Observation:
        """The implementation's own credential test (n8n's "Test" button)."""
        return self._observe(lambda: self.implementation.check(credential, ca_file))

    def use(self, path: str, credential: Credential, ca_file: str | None = None, *,
            timeout_s: float | None = None) -> Observation:
        """The credential used along ``path``, one of :data:`PATHS`: n8n's "Test" button (the
        implementation's own check), the Mattermost node reading (``GET users/me``), or writing
        (Message > Post: ``POST posts`` with a JSON body, into a channel of the token owner's
        team, made on first use). Clients break on one path and not another. ``timeout_s`` replaces
        the adapter timeout for this use (see Implementation.request)."""
        if path == "the credential test":
            return self._observe(lambda: self.implementation.check(credential, ca_file, timeout_s=timeout_s))
        if path == "a node read":
            return self.request(credential, "users/me", ca_file=ca_file, timeout_s=timeout_s)
        if path == "a node write":
            self.writes_channel(credential.access_token)
            return self.post(credential, WRITES_INTO, f"written through the credential ({self._suffix})",
                             ca_file=ca_file, timeout_s=timeout_s)
        raise ValueError(f"no path {path!r}: one of {', '.join(PATHS)}")

    def use_over_tls(self, case: str, token: str, *, ignore_ssl_issues: bool, path: str) -> Observation:
        """The credential used along ``path`` through the HTTPS endpoint of certificate ``case``,
        with the suite's CA as caFile.

        Counts, around this use alone, the requests carrying a credential that got through
        the endpoint (``credentials_passed``): whether this token reached Mattermost.
        """
        endpoints = self.endpoints(SERVER_TERMINATED if case == SERVER_TERMINATED else "tls-proxy")
        # As the browser shows it: the Base URL's spellings are base_url.feature's rule, not this one's.
        base_url = endpoints.url(case).rstrip("/")
        credential = self.credential(token, base_url=base_url, ignore_ssl_issues=ignore_ssl_issues)
        with endpoints.counting("tls-proxy", case):
            before = endpoints.credentials_passed(case)
            observation = self.use(path, credential, endpoints.ca_file)
            after = endpoints.credentials_passed(case)
        self.credentials_passed = None if before is None or after is None else after - before
        return observation

    def endpoints(self, extra: str | None) -> Endpoints:
        """The deployment's extra endpoints, for using ``extra`` (one of
        :data:`~mm_conformance.infra.endpoints.EXTRA_NAMES`; None: only the run's certificates)."""
        if extra is not None and self.declared_extras is not None and extra not in self.declared_extras:
            raise AssertionError(f"the scenario uses the {extra} extra without declaring it: "
                                 f"tag it @needs:{extra} in its feature file")
        if self.endpoints_of_deployment is None:
            raise NotApplicable("TLS endpoints need a deployment the suite started (not an external server)")
        self._endpoints = self.endpoints_of_deployment()
        return self._endpoints

    def subpath_site(self) -> str:
        """The site URL of a second server that serves Mattermost under a subpath."""
        return self.endpoints("subpath").subpath_site()

    def read_with_query_over_tls(self, case: str, token: str, endpoint: str, query: dict[str, str]) -> Observation:
        """A node read of ``endpoint`` with the query parameters ``query``, through the TLS proxy's
        listener ``case`` in front of the real server (strict, the suite's CA as caFile).

        ``queries_through``: the query string of each request to that endpoint that reached the
        server, as it arrived, around this read alone.
        """
        endpoints = self.endpoints("tls-proxy")
        credential = self.credential(token, base_url=endpoints.url(case).rstrip("/"))
        path = f"/api/v4/{endpoint}"
        with endpoints.counting("tls-proxy", case):
            before = len(endpoints.proxy.queries(case, path))
            observation = self._observe(lambda: self.implementation.request(
                credential, ApiRequest("GET", endpoint, query), endpoints.ca_file))
            self.queries_through = endpoints.proxy.queries(case, path)[before:]
        return observation

    def use_through_redirect(self, path: str, redirect: str, token: str) -> Observation:
        """The credential used along ``path`` (strict: Ignore SSL Issues off, the suite's CA as caFile)
        with a Base URL that answers with the redirect ``redirect`` (see redirects.REDIRECTS).

        Counts, as :meth:`use_over_tls` does, around this use alone: the requests carrying a
        credential that reached the redirect's target (``credentials_passed``), the writes that
        reached it (``writes_through``) and the requests the redirecting Base URL answered
        (``redirects_answered``), so a step can tell whether this use followed the redirect.
        """
        endpoints = self.endpoints("redirects")
        redirects = endpoints.redirects()
        credential = self.credential(token, base_url=redirects.url(redirect).rstrip("/"))
        with endpoints.counting("redirects", redirect):
            reached, wrote = redirects.credentials_passed(redirect), redirects.writes_at_target(redirect)
            asked = redirects.requests(redirect)
            observation = self.use(path, credential, endpoints.ca_file)
            self.credentials_passed = redirects.credentials_passed(redirect) - reached
            self.writes_through = redirects.writes_at_target(redirect) - wrote
            self.redirects_answered = redirects.requests(redirect) - asked
        return observation

    def request(self, credential: Credential, endpoint: str, method: str = "GET", *, body: object = None,
                ca_file: str | None = None, timeout_s: float | None = None) -> Observation:
        return self._observe(lambda: self.implementation.request(
            credential, ApiRequest(method, endpoint, body=body), ca_file, timeout_s=timeout_s))

    def post(self, credential: Credential, channel: str, message: str, *, ca_file: str | None = None,
             timeout_s: float | None = None) -> Observation:
        """Message > Post: ``POST posts`` with the channel and the text, as the Mattermost node sends it."""
        self.message = message
        body = {"channel_id": self.channels[channel]["id"], "message": message}
        return self.request(credential, "posts", "POST", body=body, ca_file=ca_file, timeout_s=timeout_s)

    def use_with_own_token(self, path: str, name: str, base_url: str) -> Observation:
        """The credential used along ``path`` with a token of ``name`` made for this implementation
        alone: whether the token reached Mattermost's API is then observable on the server
        (:meth:`own_token_reached_the_api`), whatever the path answers."""
        self.track.own_token = self.remember(f"{name} for {self.implementation.name}",
                                             self.admin.create_token(self.user(name), "never used before"))
        return self.use(path, self.credential(self.track.own_token.token, base_url=base_url))

    def own_token_reached_the_api(self) -> bool:
        token = self.track.own_token
        if token is None:
            raise AssertionError("no token was made for this implementation alone (use_with_own_token)")
        return self.admin.token_was_used(token)

    def use_where_nothing_listens(self, path: str, token: str) -> Observation:
        """The credential used along ``path`` with a Base URL where nothing listens: every
        connection is refused at once (see silent.nothing_listening)."""
        if path == "a node write":
            self.writes_channel(token)
        with nothing_listening() as base_url:
            return self.use(path, self.credential(token, base_url=base_url))

    def use_without_answer(self, path: str, case: str, token: str) -> Observation:
        """The credential used along ``path`` with a server that ``case`` (one of
        :data:`~mm_conformance.infra.silent.SILENCES`): never answers.

        The implementation has twice the adapter timeout to give up on its own; if it does
        not, that is a verdict (it did not give up within that time), not an adapter failure.
        """
        endpoints = self.endpoints(None)
        deadline = 2 * self.implementation.timeout_s
        credential = self.credential(token, base_url=endpoints.silent().url(case).rstrip("/"))
        if path == "a node write":
            self.writes_channel(token)  # made before the seconds of waiting
        if self.settings_no_longer_read is not None:
            self.settings_no_longer_read()  # seconds of waiting on a listener, whatever the server's settings
        try:
            return self.use(path, credential, endpoints.ca_file, timeout_s=deadline)
        except AdapterTimedOut:
            declared = self.implementation.declared_timeout
            raise ConformanceFailure(f"the credential did not give up within {deadline:.0f} s on a server that "
                                     f"{case} ({path})"
                                     + (f"; its declared timeout: {declared}" if declared else "")) from None

    @property
    def last(self) -> Observation:
        if not self.observations:
            raise AssertionError("the scenario has not asked the implementation anything yet")
        return self.observations[-1]

    def _observe(self, call: Any) -> Observation:
        observation = call()
        # A refusal from a server (or proxy) that has died is not a verdict on the implementation.
        if not observation.outcome.ok:
            problem = self.health()
            if problem:
                raise InfrastructureError(f"during the scenario: {problem}")
        self.observations.append(observation)
        self.expect_no_leaks(observation.leaks)
        return observation

    def expect_no_leaks(self, answered: tuple[str, ...] = ()) -> None:
        """The implementation put no token it was handed into its answers or its own log (stderr).

        Checked after every exchange and once more when the scenario ends (a log line
        may arrive just after the answer). The token itself is never in the message.
        """
        places = [*answered, *(f"its log (stderr, {form})" for form in dict.fromkeys(
            self.implementation.stderr_leaks()))]
        if places:
            raise TokenExposure(f"the credential leaked the access token into {' and '.join(places)}")






