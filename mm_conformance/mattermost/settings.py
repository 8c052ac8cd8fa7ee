"""Server-wide settings a scenario changes (System Console), each put back when the scenario ends."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from mm_conformance.errors import NotApplicable
from mm_conformance.mattermost.admin import ApiClient


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
