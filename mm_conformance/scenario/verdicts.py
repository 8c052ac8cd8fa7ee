"""What a scenario expects of an observation, as checks with messages a person reads.

A failed check raises :class:`ConformanceFailure` naming the behaviour that was
broken and what the implementation did instead (tokens redacted), so a report
says *why* an implementation does not conform.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import ClassVar

from mm_conformance.errors import NothingObserved, ServerDeviation  # noqa: F401 (steps raise it through verdicts)
from mm_conformance.mattermost.admin import MattermostApiError
from mm_conformance.outcome import Outcome, Severity
from mm_conformance.protocol.runner import Observation
from mm_conformance.protocol.wire import ErrorKind


class ConformanceFailure(AssertionError):
    """The implementation under test did something the specification does not allow.

    ``severity`` orders findings in reports: a token reaching a place it must not
    first (:class:`TokenExposure`), then success reported where the API never
    answered for the token's owner (:class:`FalseSuccess`), then every other broken
    MUST (this class).
    """

    outcome: ClassVar[Outcome] = Outcome.FAIL
    severity: ClassVar[Severity] = Severity.BROKEN


class TokenExposure(ConformanceFailure):
    """The token went where it must not: through a bad certificate, along a redirect, into output."""

    severity: ClassVar[Severity] = Severity.SECURITY


class FalseSuccess(ConformanceFailure):
    """The implementation reported success where the API never answered for the token's owner."""

    severity: ClassVar[Severity] = Severity.FALSE_SUCCESS


def expect_success(observation: Observation, status: int = 200) -> None:
    outcome = observation.outcome
    if not outcome.ok or outcome.status != status:
        raise ConformanceFailure(
            f"expected success with status {status}, but the implementation answered: {observation.describe()}")


def expect_success_as(observation: Observation, user_id: str, *, not_user_id: str) -> None:
    """Success on whichever path the observation took, acting as ``user_id`` where the answer names a user:
    a node read answers 200 with the user, a node write (a post) 201 with its author; the credential
    test's answer is the implementation's own choice of endpoint, so only its success is judged."""
    request = observation.request
    expect_success(observation, 201 if request is not None and request.method == "POST" else 200)
    if request is not None and request.method == "POST":
        body = observation.outcome.body
        author = body.get("user_id") if isinstance(body, dict) else None
        if author != user_id:
            who = "the admin who created the token" if author == not_user_id else f"user {author}"
            raise ConformanceFailure(f"expected the post to be written by user {user_id}, but its author is {who}")
    elif request is not None:
        expect_acting_user(observation, user_id, not_user_id=not_user_id)


def expect_refusal(observation: Observation, kind: str, status: int | None = None) -> None:
    outcome = observation.outcome
    wanted = f"{kind}" + (f" with status {status}" if status is not None else "")
    if outcome.ok:
        raise FalseSuccess(f"expected a refusal ({wanted}), but the request succeeded: {observation.describe()}")
    if outcome.error_kind != ErrorKind(kind) or (status is not None and outcome.status != status):
        raise ConformanceFailure(f"expected a refusal ({wanted}), but the implementation answered: "
                                 f"{observation.describe()}")


def expect_acting_user(observation: Observation, user_id: str, *, not_user_id: str | None = None) -> None:
    body = observation.outcome.body
    actual = body.get("id") if isinstance(body, dict) else None
    if actual is None:
        raise FalseSuccess(f"the implementation reported success, but its answer names no user: it is not "
                                 f"the API's answer for the token's owner ({observation.describe()})")
    if actual != user_id:
        who = "the admin who created the token" if actual == not_user_id else f"user {actual}"
        raise ConformanceFailure(f"expected the request to act as user {user_id}, but it acted as {who}")


def expect_server_refusal(refusal: MattermostApiError | None, status: int, error_id: str) -> None:
    """Mattermost refused a set-up call exactly as the suite pins it."""
    if refusal is None:
        raise ServerDeviation(f"expected Mattermost to refuse with {status} {error_id}, but it accepted")
    if (refusal.status, refusal.error_id) != (status, error_id):
        raise ServerDeviation(f"expected Mattermost to refuse with {status} {error_id}, "
                              f"but it answered {refusal.status} {refusal.error_id}")


def expect_no_credential_through(case: str, *, arrived: int | None) -> None:
    """No request carrying a credential got through the TLS endpoint of ``case`` (counted around the request)."""
    if arrived is None:
        raise AssertionError(f"the {case!r} endpoint cannot tell whether a token got through")
    if arrived:
        raise TokenExposure(f"the token reached Mattermost through the {case!r} endpoint "
                            f"({arrived} request(s) carrying a credential) although TLS validation failed")


def expect_no_credential_at_redirect_target(redirect: str, *, asked: int, arrived: int, writes: int = 0) -> None:
    """No request carrying a credential, and no write, reached where the Base URL ``redirect`` points.

    ``asked`` is how many requests the redirecting Base URL answered meanwhile: when
    it is 0 the implementation never saw the redirect, so nothing was observed and
    there is no verdict (whether it follows a redirect is its own choice; only the
    token, or a write's method and body, arriving at the target is a failure).
    """
    if asked < 1:
        raise NothingObserved(f"the implementation never asked the Base URL that redirects {redirect}: "
                             "the scenario observed nothing")
    where = redirect.replace("-", " ")
    if arrived:
        raise TokenExposure(f"the token followed the redirect {where} "
                            f"({arrived} request(s) carrying a credential reached its target)")
    if writes:
        raise ConformanceFailure(f"the write followed the redirect {where}: {writes} request(s) with its method "
                                 "(and body) reached another origin, which the user never chose")


def expect_query_received(sent: dict[str, str], received: list[str]) -> None:
    """The read reached the server once, with exactly the query parameters it was given (in any
    order, in any valid encoding): none dropped, added, repeated, or encoded twice."""
    wanted = urllib.parse.urlencode(sent)
    if not received:
        raise ConformanceFailure(f"no request of the read reached Mattermost (its query was {wanted})")
    if len(received) > 1:
        raise ConformanceFailure(f"the read reached Mattermost {len(received)} times: {', '.join(received)}")
    if sorted(urllib.parse.parse_qsl(received[0], keep_blank_values=True)) != sorted(sent.items()):
        raise ConformanceFailure(f"Mattermost received the query {received[0] or '(none)'!r}, not {wanted!r}")


def expect_listed(observation: Observation, user_ids: list[str]) -> None:
    """The answer lists exactly these users, in this order (what the admin sees for the same query)."""
    expect_success(observation)
    body = observation.outcome.body
    listed = [user.get("id") for user in body] if isinstance(body, list) and all(isinstance(u, dict) for u in body) \
        else None
    if listed is None:
        raise FalseSuccess(f"the answer is not a list of users: {observation.describe()}")
    if listed != user_ids:
        raise ConformanceFailure(f"the answer lists {len(listed)} user(s) {listed}, but Mattermost lists "
                                 f"{len(user_ids)} {user_ids} for that query")


def expect_server(condition: bool, what: str) -> None:
    """A premise about Mattermost itself (not the implementation) holds; else ServerDeviation."""
    if not condition:
        raise ServerDeviation(what)


def concern_unless_config_or_success(observation: Observation, *, acting_user_id: str,
                                     reached_the_api: Callable[[], bool] | None = None) -> str | None:
    """A doubtful Base URL is best refused as ``config``; using it correctly is fine too.

    Success MUST be the API's answer as the token's owner (``acting_user_id``): the user
    read, or the post written by them; for the credential test, whose answer is the
    implementation's own, the server's word that the token reached its API
    (``reached_the_api``). A web page or any other answer taken for success is a failure.
    Anything else that is not ``config`` (e.g. the request sent to a wrong URL and the
    server's 404 reported) is a SHOULD-level concern: the warning for the report is
    returned, else None.
    """
    outcome = observation.outcome
    if outcome.ok:
        if observation.request is None:
            if reached_the_api is None or not reached_the_api():
                raise FalseSuccess(f"the credential test reported success, but the token never reached "
                                   f"Mattermost's API (the server made no session for it): {observation.describe()}")
        else:
            expect_success_as(observation, acting_user_id, not_user_id="")
        return None
    if outcome.error_kind is ErrorKind.CONFIG:
        return None
    return (f"the Base URL SHOULD be refused as a config error (or used correctly); instead: "
            f"{observation.describe()}")


def expect_no_success(observation: Observation, why: str) -> None:
    """The request MUST NOT appear to work (any refusal is fine)."""
    if observation.outcome.ok:
        raise FalseSuccess(f"the request appeared to work although {why}: {observation.describe()}")


def expect_server_error_id(observation: Observation, error_id: str) -> str | None:
    """Mattermost's error body, as the implementation passed it on, carries ``error_id``.

    A different id means the server changed its answer (no verdict); no body at all
    is a SHOULD-level concern (protocol v1: ``body`` is the parsed answer), returned
    as the warning for the report.
    """
    body = observation.outcome.body
    if not isinstance(body, dict) or "id" not in body:
        return (f"the implementation did not pass on Mattermost's error body (protocol v1: body), so the "
                f"error id {error_id!r} could not be checked: {observation.describe()}")
    if body["id"] != error_id:
        raise ServerDeviation(f"Mattermost answered with error {body['id']!r}, not {error_id!r} as the suite pins")
    return None


def expect_gave_up(observation: Observation) -> None:
    """The credential gave up on a server that never answered, and said so."""
    outcome = observation.outcome
    if outcome.ok or outcome.error_kind not in (ErrorKind.TIMEOUT, ErrorKind.NETWORK):
        raise ConformanceFailure(f"expected the credential to give up with a timeout or network error, "
                                 f"but it answered: {observation.describe()}")


def expect_posted(posts: list[dict], *, author_id: str, message: str, others: list[str]) -> None:
    """Exactly one post with exactly ``message`` exists, written by ``author_id`` (as the admin sees the channel)."""
    mine = [post for post in posts if post.get("user_id") == author_id]
    if len(mine) == 1:
        return
    if mine:
        raise ConformanceFailure(f"the message was posted {len(mine)} times, not once")
    if posts:
        raise ConformanceFailure("the message is in the channel, but not written by the token's owner")
    seen = "; ".join(repr(text) for text in others[:3]) or "no post at all"
    raise ConformanceFailure(f"the channel has no post with exactly the text sent ({message!r}); it has: {seen}")


def expect_not_posted(posts: list[dict], channel: str) -> None:
    if posts:
        raise FalseSuccess(f"the message was posted into {channel!r} although the write must not have worked")


def expect_deleted(still_there: bool) -> None:
    if still_there:
        raise ConformanceFailure("the post is still there: the delete did not reach Mattermost as a DELETE")
