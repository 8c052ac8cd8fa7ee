"""One scenario's world: the deployment it runs on, what it created, what it observed.

Steps ask the world for users, tokens and credentials and hand credentials to
the implementation under test through it; they never build HTTP requests,
certificates or containers themselves. Everything is named per scenario, so
scenarios never see each other's users or tokens, and every server-wide setting
a scenario changes goes through :class:`ServerSettings`, which puts it back.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import copy
import functools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mm_conformance.errors import InfrastructureError, NotApplicable, NothingObserved
from mm_conformance.infra.deployment import Deployment
from mm_conformance.infra.endpoints import Endpoints
from mm_conformance.infra.silent import nothing_listening
from mm_conformance.mattermost.admin import AccessToken, ApiClient, MattermostApiError, User
from mm_conformance.mattermost.background import Step, run_steps
from mm_conformance.mattermost.console import TOKEN_ROLE, SystemConsole
from mm_conformance.protocol.runner import AdapterFailure, AdapterTimedOut, Implementation, Observation
from mm_conformance.protocol.wire import ApiRequest, Credential
from mm_conformance.scenario.verdicts import ConformanceFailure, ServerDeviation, TokenExposure


class ServerSettings:
    """Changes server-wide settings (System Console) and restores them afterwards.

    With ``allow_changes`` false (a server the suite did not start), a change that
    would alter anything makes the scenario not applicable instead.
    """

    def __init__(self, admin: ApiClient, *, allow_changes: bool = True,
                 before_change: Callable[[], None] | None = None) -> None:
        self._admin = admin
        self._allow_changes = allow_changes
        #: Called before anything changes (a server other runs share: wait until this scenario is alone).
        self._before_change = before_change
        self._originals: list[dict[str, Any]] = []

    def change(self, patch: dict[str, Any]) -> None:
        current = self._admin.config()
        if self._before_change is not None and _pick(current, patch) != patch:
            self._before_change()
            current = self._admin.config()  # read again: another run may have changed it meanwhile
        original = _pick(current, patch)
        if original == patch:
            return  # already so: nothing to change, nothing to restore
        if not self._allow_changes:
            raise NotApplicable(f"the scenario would change server-wide settings ({patch}); "
                                "allow it with --allow-config-changes")
        if self._admin.signed_in_with_token and patch.get("ServiceSettings", {}).get("EnableUserAccessTokens") is False:
            # Mattermost would refuse the admin's own token from then on: nothing could switch them back.
            raise NotApplicable("switching personal access tokens off would lock out the suite's admin, "
                                "who signs in with a personal access token on this server")
        self._originals.append(original)
        self._admin.patch_config(patch)

    def restore(self) -> None:
        # Undo in reverse order so the first recorded value of each key wins.
        while self._originals:
            self._admin.patch_config(self._originals.pop())


def _pick(config: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The values in ``config`` of exactly the keys that ``patch`` touches."""
    picked: dict[str, Any] = {}
    for key, value in patch.items():
        if isinstance(value, dict):
            picked[key] = _pick(config.get(key, {}), value)
        else:
            picked[key] = copy.deepcopy(config.get(key))
    return picked


#: The paths a credential is used along, as the feature files name them (see ScenarioWorld.use).
PATHS = ("the credential test", "a node read", "a node write")
#: The channel a node write posts into (the token owner's, in a team of the scenario's own).
WRITES_INTO = "town-square"

#: Mattermost ids and tokens are 26 characters of this z-base-32 alphabet (model.NewId).
TOKEN_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"


def made_up_token() -> str:
    """Shaped exactly like a Mattermost token, issued by no server."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(26))


@dataclass
class Track:
    """One implementation's side of a shared scenario: what it was asked, what it answered, how it ended.

    ``ended`` is the failure (a :class:`ConformanceFailure`) or the adapter's
    breakdown (an :class:`AdapterFailure`) that ended the scenario for this
    implementation; the other implementations go on without it.
    """

    implementation: Implementation
    observations: list[Observation] = field(default_factory=list)
    errata: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: What this implementation's last request through an endpoint did there, counted around that
    #: request alone (other implementations' requests do not count): requests carrying a
    #: credential that got through a TLS endpoint or reached a redirect's target (None: not
    #: observable), writes (a method other than GET) that reached a redirect's target, and
    #: requests the redirecting Base URL answered.
    credentials_passed: int | None = None
    writes_through: int = 0
    redirects_answered: int = 0
    #: The query string of each request of its last read with a query that reached the server.
    queries_through: list[str] = field(default_factory=list)
    #: The token made for this implementation alone, never used before it (whether it reached the API).
    own_token: AccessToken | None = None
    #: It judged the upgrade scenario's tokens right before the upgrade.
    judged_before_upgrade: bool = False
    ended: BaseException | None = None


class EveryImplementationEnded(Exception):
    """Every implementation of a shared scenario failed or broke down: the steps left have nobody to judge."""


#: The steps of a shared scenario that use the implementation run once per implementation, each
#: with the world focused on that implementation's track (set per thread when they run at once).
_focus: contextvars.ContextVar[Track | None] = contextvars.ContextVar("focus", default=None)


def _tracked(name: str) -> property:
    """A per-implementation attribute of the world: that of the track in focus."""
    return property(lambda world: getattr(world.track, name),
                    lambda world, value: setattr(world.track, name, value))


@dataclass
class ScenarioWorld:
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
    #: What is wrong with the deployment and every container of it (see MattermostDeployment.health).
    health_of_deployment: Callable[[], str | None] | None = None
    #: Told when the scenario reads no server-wide setting any more (it waits on a silent server):
    #: on a server other runs share, their scenarios may change settings meanwhile.
    settings_no_longer_read: Callable[[], None] | None = None
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    refusal: MattermostApiError | None = None
    selected_user: User | None = None
    selected_roles: set[str] = field(default_factory=set)
    #: The scenario's team (made on first use) and its channels, by the scenario's names for them.
    team_id: str | None = None
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The text of the last message the scenario wrote, and the post a step refers to as "that post".
    message: str | None = None
    post_id: str | None = None
    #: The query parameters of the scenario's read with a query string (the same for every implementation).
    query: dict[str, str] = field(default_factory=dict)
    #: An upgrade scenario's own deployment and the server it is upgraded to.
    upgrade: tuple[Any, Any] | None = None
    tracks: list[Track] = field(init=False)
    _sessions: dict[str, ApiClient] = field(default_factory=dict)
    _console: SystemConsole | None = None
    _endpoints: Endpoints | None = None
    #: Every token the scenario made, also those a later one replaced in ``tokens``: all are revoked.
    _made_tokens: list[AccessToken] = field(default_factory=list)
    _unhonoured: dict[str, str] = field(default_factory=dict, repr=False)  # tokens: a traceback shows the world
    _suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    #: Implementations that wait side by side (on a silent server) may make the same channel at once.
    _making: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        implementations = self.implementations if isinstance(self.implementations, list) else [self.implementations]
        self.tracks = [Track(implementation) for implementation in implementations]

    # -- the implementations, one track each ----------------------------------------------

    @property
    def track(self) -> Track:
        """The track of the implementation a step is running for."""
        focused = _focus.get()
        if focused is not None:
            return focused
        if len(self.tracks) == 1:
            return self.tracks[0]
        raise AssertionError("a step that uses the implementation must run for each implementation "
                             "(decorate it with @each_implementation)")

    implementation = property(lambda world: world.track.implementation)
    observations = _tracked("observations")
    errata = _tracked("errata")
    warnings = _tracked("warnings")
    credentials_passed = _tracked("credentials_passed")
    writes_through = _tracked("writes_through")
    queries_through = _tracked("queries_through")
    redirects_answered = _tracked("redirects_answered")
    judged_before_upgrade = _tracked("judged_before_upgrade")

    def for_each_implementation(self, step: Callable[[], None], *, at_once: bool = False) -> None:
        """Run ``step`` for every implementation still in the scenario, each with the world focused on it.

        A failure or an adapter breakdown ends the scenario for that implementation
        only. With a single implementation the scenario behaves as it always did: the
        failure is raised. ``at_once`` runs them in threads of their own (for steps that
        mostly wait, such as a server that never answers).
        """
        active = [track for track in self.tracks if track.ended is None]

        def run(track: Track) -> None:
            _focus.set(track)
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
            return self.upgrade[0].health()
        if self.health_of_deployment is not None:
            return self.health_of_deployment()
        return None if self.deployment.alive() else f"Mattermost {self.deployment.name} stopped answering"

    @property
    def admin(self) -> ApiClient:
        return self.deployment.admin

    def move_to(self, deployment: Deployment) -> None:
        """Go on on another deployment (an upgrade scenario's own server, or that server upgraded)."""
        self.deployment = deployment
        self.settings = ServerSettings(deployment.admin)

    # -- things a scenario creates ----------------------------------------------------

    def user(self, name: str) -> User:
        """The scenario's user called ``name``, created on first use with a unique username
        (or taken from the deployment's pool of users made ahead: never handed out before)."""
        if name not in self.users:
            pool = self.deployment.user_pool
            self.users[name] = (pool.take() if pool is not None
                                else self.admin.create_user(f"{name[:12]}-{self._suffix}".lower()))
        return self.users[name]

    def token_for(self, name: str, description: str = "n8n integration", **options: Any) -> AccessToken:
        """An admin creates a personal access token for the user ``name``."""
        return self.remember(name, self.admin.create_token(self.user(name), description, **options))

    def remember(self, key: str, token: AccessToken) -> AccessToken:
        """Keep ``token`` under ``key``; it becomes :attr:`latest_token` even if ``key`` was used before."""
        self.tokens.pop(key, None)  # a dict keeps a reused key in its old place
        self.tokens[key] = token
        self._made_tokens.append(token)
        return token

    def allow_personal_access_tokens(self, name: str) -> User:
        """The user ``name``, with "Allow this account to generate personal access tokens" checked."""
        user = self.user(name)
        self.admin.set_roles(user, f"system_user {TOKEN_ROLE}")
        return user

    def token_for_admin(self) -> AccessToken:
        """A personal access token of the suite's system admin (the same one for every implementation)."""
        if "admin" not in self.tokens:
            self.remember("admin", self.admin.create_token(self.admin.user, "mm-conformance admin"))
        return self.tokens["admin"]

    def unhonoured_token(self, kind: str) -> str:
        """A token Mattermost will not honour: ``made-up``, ``empty``, ``revoked`` or ``disabled``.

        Made once per scenario: every implementation is handed the same one.
        """
        if kind not in self._unhonoured:
            self._unhonoured[kind] = self._make_unhonoured_token(kind)
        return self._unhonoured[kind]

    def _make_unhonoured_token(self, kind: str) -> str:
        if kind == "made-up":
            return made_up_token()
        if kind == "empty":
            return ""
        token = self.token_for(f"{kind}-owner")
        if kind == "revoked":
            self.admin.revoke_token(token)
        elif kind == "disabled":
            self.admin.disable_token(token)
        else:
            raise ValueError(f"unknown kind of unhonoured token: {kind!r}")
        return token.token

    def require_web_app_outside_the_api(self, path: str = "/chat/api/v4/users/me") -> None:
        """The premise of the wrong-path scenario: Mattermost serves its web app page off its API."""
        answer = self.admin.site_page(path)
        kind = answer.headers.get("content-type", "(none)")
        if answer.status_code != 200 or not kind.lower().startswith("text/html"):
            raise ServerDeviation(f"Mattermost answered GET {path} with {answer.status_code} {kind}, "
                                  "not its web app page (200 text/html)")

    def wait_until_expired(self, token: AccessToken, *, margin_s: float = 1.0, limit_s: float = 30.0) -> None:
        """Let the wall clock pass the token's expiry time (bounded: a scenario never waits long)."""
        if not token.expires_at_ms:
            raise AssertionError("the token has no expiry time")
        remaining = token.expires_at_ms / 1000 + margin_s - time.time()
        if remaining > limit_s:
            raise AssertionError(f"the token expires in {remaining:.0f} s, more than a scenario may wait")
        time.sleep(max(0.0, remaining))  # waiting for a clock, not for readiness

    def session_of(self, name: str) -> ApiClient:
        """The user ``name`` logged in to Mattermost, as in a browser."""
        if name not in self._sessions:
            user = self.user(name)
            self._sessions[name] = ApiClient.login(self.deployment.base_url, user.username, user.password)
        return self._sessions[name]

    def create_own_token(self, name: str, description: str = "n8n integration") -> AccessToken | None:
        """The user ``name`` creates a token in Profile > Security; a refusal is kept in ``refusal``."""
        session = self.session_of(name)  # a failed login is not a refused token
        token = self._attempt(lambda: session.create_token(self.user(name), description))
        return self.remember(name, token) if token is not None else None

    def admin_creates_token(self, name: str) -> AccessToken | None:
        """Like :meth:`token_for`, but a refusal is kept in ``refusal`` instead of raised."""
        return self._attempt(lambda: self.token_for(name))

    def _attempt(self, create: Callable[[], AccessToken]) -> AccessToken | None:
        self.refusal = None
        try:
            return create()
        except MattermostApiError as refused:
            self.refusal = refused
            return None

    def channel(self, name: str, *, members: tuple[str, ...] = (), private: bool = False) -> dict[str, Any]:
        """The scenario's channel ``name`` in its own team, made on first use; ``members`` join both."""
        with self._making:
            return self._channel(name, members=members, private=private)

    def team(self, members: tuple[str, ...]) -> str:
        """The scenario's own team (made on first use) with ``members`` in it: its id."""
        with self._making:
            team = self._team()
            for member in members:
                self.admin.add_to_team(team, self.user(member))
            return team

    def _team(self) -> str:
        if self.team_id is None:
            self.team_id = self.admin.create_team(f"team-{self._suffix}")["id"]
        return self.team_id

    def _channel(self, name: str, *, members: tuple[str, ...], private: bool) -> dict[str, Any]:
        team = self._team()
        if name not in self.channels:
            self.channels[name] = self.admin.create_channel(team, f"{name[:40]}-{self._suffix}", private=private)
        for member in members:
            self.admin.add_to_team(team, self.user(member))
            self.admin.add_to_channel(self.channels[name]["id"], self.user(member))
        return self.channels[name]

    def posts_with_text(self, channel: str, text: str) -> list[dict[str, Any]]:
        """The channel's posts whose message is exactly ``text``, as the admin sees them."""
        return [post for post in self.admin.channel_posts(self.channels[channel]["id"]) if post["message"] == text]

    def console(self) -> SystemConsole:
        """The admin's System Console session (documentation: "Log in to Mattermost as an admin")."""
        if self._console is None:
            self._console = SystemConsole.log_in(self.admin, self.settings)
        return self._console

    def warn(self, text: str) -> None:
        """A SHOULD-level concern: the scenario passes, and the report shows it as a warning."""
        self.warnings.append(text)

    def record_erratum(self, docs_ref: str, text: str) -> None:
        """The documentation says one thing and the real system does another; the report lists it."""
        self.errata.append((docs_ref, text))

    def close(self) -> None:
        """Put server-wide settings back, revoke every token and deactivate every user the
        scenario made (each step on its own: one failure does not stop the others), and
        close the scenario's sessions. Raises one error naming everything that failed.

        Settings are put back at once. The rest is left to the deployment's
        :class:`~mm_conformance.mattermost.background.CleanUp` when it has one (a deployment the
        suite started): done behind the next scenarios, its failures reported when the
        run ends.

        Removing is not only for servers the suite did not start: unlicensed Mattermost
        caps active users, and a run with several implementations shares one server.
        """
        if self.upgrade is not None:  # the scenario's own server: removing it removes everything
            self._close_sessions()
            self.upgrade[0].stop()
            return
        problems = run_steps([("restoring settings", self.settings.restore)])  # before the next scenario
        clean_up = self.deployment.clean_up
        admin = clean_up.admin if clean_up is not None else self.admin
        steps: list[Step] = []
        if self.team_id is not None:  # its channels and posts go with it
            steps.append((f"archiving team {self.team_id}", lambda team=self.team_id: admin.archive_team(team)))
        # The admin's own tokens first: on a server the suite did not start they are what matters most.
        admin_first = sorted(self._made_tokens, key=lambda token: token.user_id != self.admin.user.id)
        steps += [(f"revoking token {token.id}", lambda token=token: _revoke(admin, token)) for token in admin_first]
        steps += [(f"deactivating {user.username}", lambda user=user: admin.deactivate_user(user))
                  for user in self.users.values()]
        self._close_sessions()
        if clean_up is not None:  # done behind the next scenarios; a failure is reported when the run ends
            clean_up.after(self.name, steps)
        else:
            problems += run_steps(steps)
        if problems:
            raise InfrastructureError(f"cleaning up after the scenario failed: {'; '.join(problems)}")

    def _close_sessions(self) -> None:
        for session in self._sessions.values():
            session.close()
        if self._console is not None:
            self._console.close()

    @property
    def latest_token(self) -> AccessToken:
        if not self.tokens:
            raise AssertionError("the scenario has not created a token yet")
        return list(self.tokens.values())[-1]

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

    def writes_channel(self, token: str) -> dict[str, Any]:
        """The channel a node write posts into, made once with the token's owner in it."""
        with self._making:
            if WRITES_INTO not in self.channels:
                self._channel(WRITES_INTO, members=(self.owner_of(token),), private=False)
            return self.channels[WRITES_INTO]

    def owner_of(self, token: str) -> str:
        """The name of the scenario's user who owns ``token``."""
        made = next(t for t in self.tokens.values() if t.token == token)
        return next(name for name, user in self.users.items() if user.id == made.user_id)

    def use_over_tls(self, case: str, token: str, *, ignore_ssl_issues: bool, path: str) -> Observation:
        """The credential used along ``path`` through the HTTPS endpoint of certificate ``case``,
        with the suite's CA as caFile.

        Counts, around this use alone, the requests carrying a credential that got through
        the endpoint (``credentials_passed``): whether this token reached Mattermost.
        """
        endpoints = self.endpoints()
        # As the browser shows it: the Base URL's spellings are base_url.feature's rule, not this one's.
        base_url = endpoints.url(case).rstrip("/")
        credential = self.credential(token, base_url=base_url, ignore_ssl_issues=ignore_ssl_issues)
        before = endpoints.credentials_passed(case)
        observation = self.use(path, credential, endpoints.ca_file)
        after = endpoints.credentials_passed(case)
        self.credentials_passed = None if before is None or after is None else after - before
        return observation

    def endpoints(self) -> Endpoints:
        if self.endpoints_of_deployment is None:
            raise NotApplicable("TLS endpoints need a deployment the suite started (not an external server)")
        self._endpoints = self.endpoints_of_deployment()
        return self._endpoints

    def read_with_query_over_tls(self, case: str, token: str, endpoint: str, query: dict[str, str]) -> Observation:
        """A node read of ``endpoint`` with the query parameters ``query``, through the TLS proxy's
        listener ``case`` in front of the real server (strict, the suite's CA as caFile).

        ``queries_through``: the query string of each request to that endpoint that reached the
        server, as it arrived, around this read alone.
        """
        endpoints = self.endpoints()
        credential = self.credential(token, base_url=endpoints.url(case).rstrip("/"))
        path = f"/api/v4/{endpoint}"
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
        endpoints = self.endpoints()
        redirects = endpoints.redirects()
        credential = self.credential(token, base_url=redirects.url(redirect).rstrip("/"))
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
        return self.request(credential, "posts", "POST", body={"channel_id": self.channels[channel]["id"],
                                                                 "message": message}, ca_file=ca_file, timeout_s=timeout_s)

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
        endpoints = self.endpoints()
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



def _revoke(admin: ApiClient, token: AccessToken) -> None:
    try:
        admin.revoke_token(token)
    except MattermostApiError as error:
        if error.status not in (400, 404):  # already revoked by the scenario
            raise


def each_implementation(step: Callable[..., None] | None = None, *, at_once: bool = False) -> Any:
    """Decorate a step that uses the implementation: it runs once per implementation of the scenario.

    >>> @then(parsers.parse("the request succeeds with status {status:d}"))
    ... @each_implementation
    ... def request_succeeds(world, status): ...
    """
    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def for_each(world: ScenarioWorld, *arguments: Any, **named: Any) -> None:
            world.for_each_implementation(lambda: function(world, *arguments, **named), at_once=at_once)
        return for_each
    return decorate(step) if step is not None else decorate
