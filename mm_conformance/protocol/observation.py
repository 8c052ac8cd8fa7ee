"""One exchange with an implementation under test, as the suite records it: what was asked, what came back.

:class:`~mm_conformance.protocol.runner.Implementation` makes them; verdicts, traces and reports read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from mm_conformance.protocol.wire import ApiRequest, Credential, Outcome
from mm_conformance.redact import one_line, redact


@dataclass
class Observation:
    """One exchange with the implementation, as the suite records it for reports."""

    operation: str
    credential: Credential
    request: ApiRequest | None
    ca_file: str | None
    outcome: Outcome
    elapsed_s: float
    #: Where the implementation's answer carried a token it was handed ("its error message").
    leaks: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line, tokens redacted: ``GET users/me -> 401 auth: Invalid or expired session``."""
        if self.request is None:
            what = self.operation
        else:
            what = f"{self.request.method} {self.request.endpoint}"
            if self.request.query:
                what += "?" + "&".join(f"{k}={v}" for k, v in self.request.query.items())
        outcome = self.outcome
        status = "no response" if outcome.status is None else str(outcome.status)
        if outcome.ok:
            result = f"{status} ok"
        else:
            assert outcome.error_kind is not None
            result = f"{status} {outcome.error_kind.value}: {one_line(outcome.error_message or '')}"
        return redact(f"{what} -> {result}")

    def summary(self) -> tuple[int | None, str | None, str | None]:
        """(status, error kind, Mattermost's error id): what a diff between two runs compares."""
        body = self.outcome.body
        server_error_id = body.get("id") if isinstance(body, dict) and not self.outcome.ok else None
        kind = self.outcome.error_kind.value if self.outcome.error_kind is not None else None
        return self.outcome.status, kind, server_error_id if isinstance(server_error_id, str) else None
