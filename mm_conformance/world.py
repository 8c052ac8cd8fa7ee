"""One scenario's world: the deployment it runs on, what it created, what it observed.

Steps ask the world for users, tokens and credentials and hand credentials to
the implementation under test through it; they never build HTTP requests,
certificates or containers themselves. Everything is named per scenario, so
scenarios never see each other's users or tokens, and every server-wide setting
a scenario changes goes through :class:`ServerSettings`, which puts it back.
"""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass, field
from typing import Any

from .admin import AccessToken, AdminClient, User
from .deployment import Deployment
from .errors import InfrastructureError
from .implementation import AdapterFailure, Implementation, Observation
from .protocol import ApiRequest, Credential


class ServerSettings:
    """Changes server-wide settings (System Console) and restores them afterwards."""

    def __init__(self, admin: AdminClient) -> None:
        self._admin = admin
        self._originals: list[dict[str, Any]] = []

    def change(self, patch: dict[str, Any]) -> None:
        current = self._admin.config()
        self._originals.append(_pick(current, patch))
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


@dataclass
class ScenarioWorld:
    deployment: Deployment
    implementation: Implementation
    settings: ServerSettings
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    observations: list[Observation] = field(default_factory=list)
    _suffix: str = field(default_factory=lambda: secrets.token_hex(3))

    @property
    def admin(self) -> AdminClient:
        return self.deployment.admin

    # -- things a scenario creates ----------------------------------------------------

    def user(self, name: str) -> User:
        """The scenario's user called ``name``, created on first use with a unique username."""
        if name not in self.users:
            self.users[name] = self.admin.create_user(f"{name[:12]}-{self._suffix}".lower())
        return self.users[name]

    def token_for(self, name: str, description: str = "n8n integration") -> AccessToken:
        """An admin creates a personal access token for the user ``name``."""
        token = self.admin.create_token(self.user(name), description)
        self.tokens[name] = token
        return token

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

    def request(self, credential: Credential, endpoint: str, method: str = "GET",
                ca_file: str | None = None) -> Observation:
        return self._observe(
            lambda: self.implementation.request(credential, ApiRequest(method, endpoint), ca_file))

    @property
    def last(self) -> Observation:
        if not self.observations:
            raise AssertionError("the scenario has not asked the implementation anything yet")
        return self.observations[-1]

    def _observe(self, call: Any) -> Observation:
        observation = call()
        # A refusal from a server that has died is not a verdict on the implementation.
        if not observation.outcome.ok and not self.deployment.alive():
            raise InfrastructureError(f"Mattermost {self.deployment.line} stopped answering during the scenario")
        self.observations.append(observation)
        return observation


__all__ = ["AdapterFailure", "ScenarioWorld", "ServerSettings"]
