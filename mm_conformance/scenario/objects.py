"""What a scenario made on the server — users, tokens, a team and channels, sessions — and puts away when it ends.

Everything is named per scenario (a random suffix, or a user of the deployment's pool never
handed out before), so scenarios never see each other's users or tokens.
"""

from __future__ import annotations

import functools
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mm_conformance.errors import ServerDeviation
from mm_conformance.mattermost.admin import AccessToken, ApiClient, MattermostApiError, User
from mm_conformance.mattermost.background import Step, run_steps
from mm_conformance.mattermost.console import TOKEN_ROLE, SystemConsole

if TYPE_CHECKING:
    from mm_conformance.infra.deployment import Deployment
    from mm_conformance.mattermost.settings import ServerSettings


#: The channel a node write posts into (the token owner's, in a team of the scenario's own).
WRITES_INTO = "town-square"

#: Mattermost ids and tokens are 26 characters of this z-base-32 alphabet (model.NewId).
TOKEN_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"


def made_up_token() -> str:
    """Shaped exactly like a Mattermost token, issued by no server."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(26))


class ServerObjects:
    """The things one scenario made on its server, by the scenario's own names for them.

    A base of :class:`~mm_conformance.scenario.world.ScenarioWorld`, which gives it the
    deployment, the settings and the scenario's name; steps call these through the world.
    Tokens are kept out of ``repr``: a traceback may show the world.
    """

    #: Given by the world.
    deployment: Deployment
    settings: ServerSettings
    name: str

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.refusal: MattermostApiError | None = None
        self.selected_user: User | None = None
        self.selected_roles: set[str] = set()
        #: The scenario's team (made on first use) and its channels, by the scenario's names for them.
        self.team_id: str | None = None
        self.channels: dict[str, dict[str, Any]] = {}
        #: The text of the last message the scenario wrote, and the post a step refers to as "that post".
        self.message: str | None = None
        self.post_id: str | None = None
        self._sessions: dict[str, ApiClient] = {}
        self._console: SystemConsole | None = None
        #: Every token the scenario made, also those a later one replaced in ``tokens``: all are revoked.
        self._made_tokens: list[AccessToken] = []
        self._unhonoured: dict[str, str] = {}
        self._suffix = secrets.token_hex(3)
        #: The names of the scenario's users that are bot accounts (put away by disabling them).
        self._bots: set[str] = set()
        #: Implementations that wait side by side (on a silent server) may make the same channel at once.
        self._making = threading.Lock()

    @property
    def admin(self) -> ApiClient:
        return self.deployment.admin

    # -- things a scenario creates ----------------------------------------------------

    def user(self, name: str) -> User:
        """The scenario's user called ``name``, created on first use with a unique username
        (or taken from the deployment's pool of users made ahead: never handed out before)."""
        if name not in self.users:
            pool = self.deployment.user_pool
            self.users[name] = (pool.take() if pool is not None
                                else self.admin.create_user(f"{name[:12]}-{self._suffix}".lower()))
        return self.users[name]

    def bot(self, name: str) -> User:
        """The scenario's bot account ``name``, made on first use (bot account creation switched on,
        put back when the scenario ends); a user of the scenario's like any other, by that name."""
        if name not in self.users:
            self.settings.change({"ServiceSettings": {"EnableBotAccountCreation": True}})
            self.users[name] = self.admin.create_bot(f"{name[:12]}-{self._suffix}".lower())
            self._bots.add(name)
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
            if not user.password:  # made ahead, its password not kept: the admin gives it one (a user who
                user = self.users[name] = self.admin.give_password(user)  # never logged in loses nothing)
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

    def put_away(self) -> list[str]:
        """Revoke every token and deactivate every user the scenario made (each step on its own:
        one failure does not stop the others), and close the scenario's sessions; the problems met.

        Left to the deployment's :class:`~mm_conformance.mattermost.background.CleanUp` when it has
        one (a deployment the suite started): done behind the next scenarios, its failures reported
        when the run ends. Removing is not only for servers the suite did not start: unlicensed
        Mattermost caps active users, and a run with several implementations shares one server.
        """
        clean_up = self.deployment.clean_up
        admin = clean_up.admin if clean_up is not None else self.admin
        steps: list[Step] = []
        if self.team_id is not None:  # its channels and posts go with it
            steps.append((f"archiving team {self.team_id}", functools.partial(admin.archive_team, self.team_id)))
        # The admin's own tokens first: on a server the suite did not start they are what matters most.
        admin_first = sorted(self._made_tokens, key=lambda token: token.user_id != self.admin.user.id)
        steps += [(f"revoking token {token.id}", functools.partial(_revoke, admin, token)) for token in admin_first]
        steps += [(f"disabling bot {user.username}", functools.partial(admin.disable_bot, user)) if name in self._bots
                  else (f"deactivating {user.username}", functools.partial(admin.deactivate_user, user))
                  for name, user in self.users.items()]
        self.close_sessions()
        if clean_up is not None:
            clean_up.after(self.name, steps)
            return []
        return run_steps(steps)

    def close_sessions(self) -> None:
        for session in self._sessions.values():
            session.close()
        if self._console is not None:
            self._console.close()

    @property
    def latest_token(self) -> AccessToken:
        if not self.tokens:
            raise AssertionError("the scenario has not created a token yet")
        return list(self.tokens.values())[-1]



def _revoke(admin: ApiClient, token: AccessToken) -> None:
    try:
        admin.revoke_token(token)
    except MattermostApiError as error:
        if error.status not in (400, 404):  # already revoked by the scenario
            raise
