"""The admin's side of Mattermost's REST API: how the suite sets the world up.

Only this client talks to Mattermost to *prepare* a scenario (users, tokens, roles,
settings). The implementation under test is the only thing that talks to
Mattermost *as the credential*. Every token this client sees is registered for
redaction before it is returned.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import queue
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import certifi
import httpx

from mm_conformance.errors import InfrastructureError
from mm_conformance.redact import register_secret


class MattermostApiError(Exception):
    """Mattermost refused an admin call; ``status`` and ``error_id`` are what it answered."""

    def __init__(self, method: str, path: str, status: int, error_id: str, message: str) -> None:
        super().__init__(f"{method} {path} -> {status} {error_id}: {message}")
        self.status = status
        self.error_id = error_id
        self.message = message


@dataclass(frozen=True)
class User:
    id: str
    username: str
    password: str = field(repr=False)  # a traceback shows a user: never their password
    roles: str


@dataclass(frozen=True)
class AccessToken:
    """A personal access token. ``token`` is the secret; ``id`` is what the UI calls "Token ID"."""

    id: str
    token: str
    user_id: str
    description: str
    expires_at_ms: int | None = None

    def __repr__(self) -> str:
        return f"AccessToken(id={self.id!r}, user_id={self.user_id!r}, description={self.description!r})"


@dataclass(frozen=True)
class ServerVersion:
    version: str
    build_number: str
    build_hash: str

    def __str__(self) -> str:
        return f"Mattermost {self.version} (build {self.build_number}, {self.build_hash[:12]})"


def new_password() -> str:
    """A password that meets any policy Mattermost ships (length, upper, lower, digit, symbol), registered
    as a secret."""
    password = "Aa1!" + secrets.token_urlsafe(18)
    register_secret(password)  # as secret as a token: never in a log or a report
    return password


class ApiClient:
    """A logged-in Mattermost user on the REST API: the suite's system admin, or a user
    doing what the documentation has them do in the UI (e.g. create their own token).

    For example, against a fresh server (it needs one, so it is not a doctest)::

        admin = ApiClient.bootstrap("http://127.0.0.1:8065")   # first user becomes system admin
        alice = admin.create_user("alice")
        token = admin.create_token(alice, "n8n integration")
    """

    def __init__(self, base_url: str, session_token: str, user: User, *, timeout_s: float = 30.0) -> None:
        register_secret(session_token)
        self.base_url = base_url.rstrip("/")
        self.user = user
        self._session_token = session_token
        #: True when this client is a personal access token (external-server mode), not a login session.
        self.signed_in_with_token = False
        self._sole_writer = False  # see only_writer_of_config
        self._known_config: dict[str, Any] | None = None
        self._watchdog: Callable[[], str | None] | None = None
        self._http = _client(f"{self.base_url}/api/v4", timeout_s,
                             {"Authorization": f"Bearer {session_token}", "X-Requested-With": "XMLHttpRequest"})

    # -- getting an admin -----------------------------------------------------------

    @classmethod
    def bootstrap(cls, base_url: str, username: str = "sysadmin", password: str | None = None) -> ApiClient:
        """Create the server's first user (Mattermost makes it a system admin) and log in (with
        ``password``, else a new one: either is registered as a secret)."""
        if password is None:
            password = new_password()
        register_secret(password)
        with _client(f"{base_url.rstrip('/')}/api/v4") as anonymous:
            created = _checked(_send(anonymous, "POST", "/users", json={
                "username": username, "email": f"{username}@mm-conformance.test", "password": password}))
        return cls.login(base_url, created["username"], password)

    @classmethod
    def login(cls, base_url: str, username: str, password: str) -> ApiClient:
        with _client(f"{base_url.rstrip('/')}/api/v4") as anonymous:
            answer = _send(anonymous, "POST", "/users/login", json={"login_id": username, "password": password})
            me = _checked(answer)
        if "Token" not in answer.headers:
            raise InfrastructureError(f"Mattermost at {base_url} logged {username} in without a Token header")
        user = User(me["id"], me["username"], password, me.get("roles", ""))
        return cls(base_url, answer.headers["Token"], user)

    @classmethod
    def with_token(cls, base_url: str, token: str) -> ApiClient:
        """An admin reached through an existing token (external-server mode)."""
        client = cls(base_url, token, User("", "", "", ""))
        client.signed_in_with_token = True
        me = client._call("GET", "/users/me")
        client.user = User(me["id"], me["username"], "", me.get("roles", ""))
        return client

    def another_session(self) -> ApiClient:
        """The same user on a client of its own (closing one leaves the other open)."""
        other = ApiClient(self.base_url, self._session_token, self.user)
        other.signed_in_with_token = self.signed_in_with_token
        other._watchdog = self._watchdog
        return other

    def watched_by(self, health: Callable[[], str | None]) -> ApiClient:
        """A call that waits longer than :data:`WATCH_EVERY_S` asks ``health`` what is wrong with the
        server, and again every as long; a problem ends the call at once, named
        (InfrastructureError). A slow but healthy server still has the client's whole timeout:
        a frozen server is named in seconds, a loaded one is not mistaken for a broken one.
        ``health`` must not call this client (a server the suite started: the engine, a ping)."""
        self._watchdog = health
        return self

    def close(self) -> None:
        self._http.close()

    # -- the server ---------------------------------------------------------------

    def server_version(self) -> ServerVersion:
        client = self._call("GET", "/config/client", params={"format": "old"})
        return ServerVersion(client.get("Version", "?"), client.get("BuildNumber", "?"), client.get("BuildHash", "?"))

    def site_page(self, path: str) -> httpx.Response:
        """``GET <site URL><path>`` with no credentials, as a browser asks for a page of the site."""
        with _client(self.base_url) as anonymous:
            return _send(anonymous, "GET", path)

    def patch_config(self, patch: dict[str, Any]) -> dict[str, Any]:
        """``PUT /api/v4/config/patch``: change server-wide settings (System Console)."""
        return self._remember_config(self._call("PUT", "/config/patch", json=patch))  # the whole new config

    def config(self) -> dict[str, Any]:
        """``GET /api/v4/config``; after :meth:`only_writer_of_config`, the config as this client last saw it."""
        if self._known_config is not None:
            return copy.deepcopy(self._known_config)
        return self._remember_config(self._call("GET", "/config"))

    def only_writer_of_config(self) -> None:
        """Nobody else changes this server's settings, or says so with :meth:`forget_config` (a
        deployment this run started; a shared one, see ``ServerWideLock``): :meth:`config` may
        answer from what this client last read or wrote, without asking again."""
        self._sole_writer = True

    def forget_config(self) -> None:
        """Someone else changed the server's settings: :meth:`config` asks the server again."""
        self._known_config = None

    def _remember_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if self._sole_writer:
            self._known_config = copy.deepcopy(config)  # callers may change what they are given
        return config

    # -- users ----------------------------------------------------------------------

    def create_user(self, username: str) -> User:
        password = new_password()
        created = self._call("POST", "/users", json={
            "username": username, "email": f"{username}@mm-conformance.test", "password": password})
        return User(created["id"], created["username"], password, created.get("roles", ""))

    # -- bot accounts ------------------------------------------------------------------

    def create_bot(self, username: str) -> User:
        """``POST /bots``: Integrations > Bot Accounts > Add Bot Account (needs bot account creation on).
        The bot's own user, with no password: a bot never logs in."""
        created = self._call("POST", "/bots", json={"username": username, "display_name": username})
        return User(created["user_id"], created["username"], "", "system_user")

    def disable_bot(self, bot: User) -> None:
        """``POST /bots/{id}/disable``: Integrations > Bot Accounts > Disable; its tokens stop working."""
        self._call("POST", f"/bots/{bot.id}/disable")

    def set_roles(self, user: User, roles: str) -> None:
        """``PUT /users/{id}/roles``: System Console > Users > Manage roles."""
        self._call("PUT", f"/users/{user.id}/roles", json={"roles": roles})

    def deactivate_user(self, user: User) -> None:
        """``DELETE /users/{id}``: deactivates the account (the suite's clean-up on external servers)."""
        self._call("DELETE", f"/users/{user.id}")

    def set_active(self, user: User, active: bool) -> None:
        self._call("PUT", f"/users/{user.id}/active", json={"active": active})

    def get_user(self, user_id: str) -> dict[str, Any]:
        return self._call("GET", f"/users/{user_id}")

    def user_named(self, username: str) -> User:
        """``GET /users/username/{username}``: an existing user (its password is not known here)."""
        found = self._call("GET", f"/users/username/{username}")
        return User(found["id"], found["username"], "", found.get("roles", ""))

    def give_password(self, user: User) -> User:
        """``PUT /users/{id}/password``: a system admin sets a new password for ``user`` (one who never
        logged in, e.g. made ahead with a password nobody kept), so that they can log in; the same user
        with it."""
        password = new_password()
        self._call("PUT", f"/users/{user.id}/password", json={"new_password": password})
        return dataclasses.replace(user, password=password)

    def list_users(self, per_page: int = 60) -> list[dict[str, Any]]:
        return self._call("GET", "/users", params={"per_page": per_page})

    def list_users_where(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """``GET /users`` with these query parameters (``in_team``, ``page``, ``per_page``, …)."""
        return self._call("GET", "/users", params=query)

    def search_users(self, term: str) -> list[dict[str, Any]]:
        """``POST /users/search``: the search box of System Console > Users."""
        return self._call("POST", "/users/search", json={"term": term, "allow_inactive": True})

    # -- teams, channels and posts ------------------------------------------------------

    def create_team(self, name: str) -> dict[str, Any]:
        """``POST /teams``: an open team the scenario's users join."""
        return self._call("POST", "/teams", json={"name": name, "display_name": name, "type": "O"})

    def archive_team(self, team_id: str) -> None:
        """``DELETE /teams/{id}``: archives the team and its channels (the suite's clean-up)."""
        self._call("DELETE", f"/teams/{team_id}")

    def add_to_team(self, team_id: str, user: User) -> None:
        self._call("POST", f"/teams/{team_id}/members", json={"team_id": team_id, "user_id": user.id})

    def create_channel(self, team_id: str, name: str, *, private: bool = False) -> dict[str, Any]:
        return self._call("POST", "/channels", json={"team_id": team_id, "name": name, "display_name": name,
                                                     "type": "P" if private else "O"})

    def add_to_channel(self, channel_id: str, user: User) -> None:
        self._call("POST", f"/channels/{channel_id}/members", json={"user_id": user.id})

    def create_post(self, channel_id: str, message: str) -> dict[str, Any]:
        """``POST /posts`` as this client's user (a user posting in the web app)."""
        return self._call("POST", "/posts", json={"channel_id": channel_id, "message": message})

    def channel_posts(self, channel_id: str) -> list[dict[str, Any]]:
        """Every post of a channel, newest first (``GET /channels/{id}/posts``; deleted ones are left out)."""
        page = self._call("GET", f"/channels/{channel_id}/posts", params={"per_page": 200})
        return [page["posts"][post_id] for post_id in page.get("order", [])]

    def post_exists(self, post_id: str) -> bool:
        """False once the post is deleted (Mattermost answers 404 ``app.post.get.app_error``)."""
        try:
            post = self._call("GET", f"/posts/{post_id}")
        except MattermostApiError as error:
            if error.status == 404:
                return False
            raise
        return not post.get("delete_at")

    # -- personal access tokens -------------------------------------------------------

    def create_token(self, user: User, description: str, *, expires_at_ms: int | None = None) -> AccessToken:
        """``POST /users/{id}/tokens``: Profile > Security > Personal Access Tokens > Create Token.

        ``expires_at_ms`` asks for an expiry (Unix milliseconds) on servers that support it;
        ``AccessToken.expires_at_ms`` says what the server recorded (0: never, None: unsupported).
        """
        body: dict[str, Any] = {"description": description}
        if expires_at_ms is not None:
            body["expires_at"] = expires_at_ms
        try:
            made = self._call("POST", f"/users/{user.id}/tokens", json=body)
        except MattermostApiError as error:
            # A server with a maximum token lifetime (MaximumPersonalAccessTokenLifetimeDays)
            # refuses tokens without an expiry; a day is within any such limit.
            if expires_at_ms is not None or "expires_at_required" not in error.error_id:
                raise
            body["expires_at"] = int((time.time() + 86400) * 1000)
            made = self._call("POST", f"/users/{user.id}/tokens", json=body)
        register_secret(made["token"])
        return AccessToken(made["id"], made["token"], made["user_id"], made.get("description", ""),
                           made.get("expires_at"))

    def list_tokens(self, user: User) -> list[dict[str, Any]]:
        """``GET /users/{id}/tokens``: what Profile > Security lists (the secret is never shown again)."""
        return self._call("GET", f"/users/{user.id}/tokens")

    def token_was_used(self, token: AccessToken) -> bool:
        """Whether Mattermost has authenticated a request with ``token``: its first use on the API
        makes a session of type ``UserAccessToken`` for the token, which ``GET /users/{id}/sessions``
        lists (the token itself sanitised away). A request that never reached the API makes none."""
        sessions = self._call("GET", f"/users/{token.user_id}/sessions")
        return any((s.get("props") or {}).get("user_access_token_id") == token.id for s in sessions)

    def revoke_token(self, token: AccessToken) -> None:
        self._call("POST", "/users/tokens/revoke", json={"token_id": token.id})

    def disable_token(self, token: AccessToken) -> None:
        self._call("POST", "/users/tokens/disable", json={"token_id": token.id})

    def enable_token(self, token: AccessToken) -> None:
        self._call("POST", "/users/tokens/enable", json={"token_id": token.id})

    # -- plumbing -------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._watchdog is None:
            return _checked(_send(self._http, method, path, **kwargs))
        return _checked(_watched(self._watchdog, lambda: _send(self._http, method, path, **kwargs),
                                 f"{method} {path}"))


#: How long an admin call waits before it asks the server's health, and then between two askings.
WATCH_EVERY_S = 3.0


def _watched(health: Callable[[], str | None], send: Callable[[], httpx.Response], what: str) -> httpx.Response:
    """``send()`` in a thread of its own, while this one asks ``health`` every WATCH_EVERY_S.

    A call given up on is left to its own timeout in its (daemon) thread: its answer is dropped.
    """
    done: queue.Queue[tuple[httpx.Response | None, BaseException | None]] = queue.Queue(maxsize=1)

    def call() -> None:
        try:
            done.put((send(), None))
        except BaseException as error:  # handed over to the caller, raised there
            done.put((None, error))

    threading.Thread(target=call, name=f"admin {what}", daemon=True).start()
    while True:
        try:
            answer, error = done.get(timeout=WATCH_EVERY_S)
        except queue.Empty:
            problem = health()
            if problem:
                raise InfrastructureError(f"Mattermost did not answer {what} within {WATCH_EVERY_S:.0f} s: "
                                          f"{problem}") from None
            continue
        if error is not None:
            raise error
        assert answer is not None
        return answer


def _client(base_url: str, timeout_s: float = 30.0, headers: dict[str, str] | None = None) -> httpx.Client:
    # trust_env=False: a proxy from the environment must never see the admin's password or
    # session, nor stand between the suite and its own servers on 127.0.0.1.
    return httpx.Client(base_url=base_url, timeout=timeout_s, headers=headers, trust_env=False,
                        verify=_system_roots())


@functools.cache
def _system_roots() -> ssl.SSLContext:
    """httpx's default verification, made once: loading the roots costs ~30 ms a client, and a
    scenario makes several clients (a login, a page of the site)."""
    return ssl.create_default_context(cafile=certifi.where())


def _send(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return client.request(method, path, **kwargs)
    except httpx.TransportError as error:  # the server is gone: no scenario can go on
        raise InfrastructureError(f"Mattermost at {client.base_url} stopped answering ({method} {path}): "
                                  f"{error}") from None


def _checked(answer: httpx.Response) -> Any:
    """The JSON body of a 2xx answer; otherwise MattermostApiError with Mattermost's error id."""
    if answer.is_success:
        return answer.json() if answer.content else None
    try:
        body = answer.json()
    except ValueError:
        body = {}
    raise MattermostApiError(answer.request.method, answer.request.url.path, answer.status_code,
                             str(body.get("id", "")), str(body.get("message", answer.text[:200])))
