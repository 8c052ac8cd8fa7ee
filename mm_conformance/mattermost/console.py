"""The admin's troubleshooting steps of the documentation, replayed on the REST API.

n8n's "Enable personal access tokens" section walks an admin through the System
Console. Each method here is one of those steps, named as the documentation
names it, and does what the System Console does behind that screen::

    console = SystemConsole.log_in(admin, settings)               # step 1
    page = console.integration_management()                       # step 2
    console.set_enable_personal_access_tokens(True)               # step 3
    console.users()                                               # step 4
    user = console.search_user("carol")                           # step 5
    roles = console.manage_roles(user)                            # step 6
    console.allow_personal_access_tokens(user, True)              # step 7
"""

from __future__ import annotations

from typing import Any

from mm_conformance.errors import ServerDeviation
from mm_conformance.mattermost.admin import ApiClient, User

#: The role behind "Allow this account to generate personal access tokens".
TOKEN_ROLE = "system_user_access_token"


class SystemConsole:
    """An admin's own session in the System Console."""

    def __init__(self, client: ApiClient, settings: Any) -> None:
        self._client = client
        self._settings = settings

    @classmethod
    def log_in(cls, admin: ApiClient, settings: Any) -> SystemConsole:
        """Step 1: log in to Mattermost as an admin (a new session, like a browser login).

        On an external server the suite knows the admin only by a token, so that is reused.
        """
        if not admin.user.password:
            return cls(admin.another_session(), settings)
        return cls(ApiClient.login(admin.base_url, admin.user.username, admin.user.password), settings)

    def close(self) -> None:
        self._client.close()

    # -- Integrations > Integration Management ------------------------------------------

    def integration_management(self) -> dict[str, Any]:
        """Step 2: the settings the Integration Management page shows."""
        return self._client.config()["ServiceSettings"]

    def enable_personal_access_tokens(self) -> bool:
        """Step 3, reading: is "Enable personal access tokens" set to true?"""
        return bool(self.integration_management()["EnableUserAccessTokens"])

    def set_enable_personal_access_tokens(self, enabled: bool) -> None:
        """Step 3, changing it (restored after the scenario)."""
        self._settings.change({"ServiceSettings": {"EnableUserAccessTokens": enabled}})

    # -- User Management > Users ---------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        """Step 4: the Users list."""
        return self._client.list_users()

    def search_user(self, username: str) -> User:
        """Step 5: search for the user account; exactly one must match."""
        found = [u for u in self._client.search_users(username) if u["username"] == username]
        if len(found) != 1:
            raise ServerDeviation(f"searching System Console > Users for {username!r} found {len(found)} accounts")
        return User(found[0]["id"], found[0]["username"], "", found[0].get("roles", ""))

    def manage_roles(self, user: User) -> set[str]:
        """Step 6: Actions > Manage roles shows the user's roles."""
        return set(self._client.get_user(user.id)["roles"].split())

    def allow_personal_access_tokens(self, user: User, allowed: bool) -> None:
        """Step 7: (un)check "Allow this account to generate personal access tokens" and Save."""
        roles = self.manage_roles(user) - {TOKEN_ROLE}
        if allowed:
            roles.add(TOKEN_ROLE)
        self._client.set_roles(user, " ".join(sorted(roles)))
