"""Deliberately defective credential implementations: how the suite proves it can fail.

Each defect is a plausible bug of a real credential implementation, made by
bending the reference in one place. Run one as an adapter:

    python tests/defective/adapter.py DEFECT

``DEFECTS`` names each defect, the behaviour it breaks, and the scenarios that
must catch it (a pytest ``-k`` expression); tests/test_defective_corpus.py runs
the suite against every one and expects it to be rejected.
"""

from __future__ import annotations

import ssl
import sys
from urllib.parse import quote, urlsplit
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from mm_conformance.protocol import reference  # noqa: E402
from mm_conformance.protocol.wire import ErrorKind, Outcome  # noqa: E402


_real_call = reference.call
_real_verify = reference._verify
_real_site_url = reference.site_url
_real_check_token = reference.check_token
_first_token: list[str] = []
_shared_clients: dict[str, httpx.Client] = {}


def _ok_on_any_response(response: httpx.Response) -> Outcome:
    return Outcome.success(response.status_code, reference._json_body(response))


def _ok_on_web_page(response: httpx.Response) -> Outcome:
    """Any 2xx is success: the check most clients make, fooled by Mattermost's web app page."""
    if 200 <= response.status_code < 300:
        return Outcome.success(response.status_code, reference._json_body(response))
    return _real_classify(response)


def _auth_as_http(response: httpx.Response) -> Outcome:
    outcome = _real_classify(response)
    if outcome.error_kind is ErrorKind.AUTH:
        return Outcome.failure(ErrorKind.HTTP, outcome.error_message or "", status=outcome.status, body=outcome.body)
    return outcome


def _test_ignores_token(operation, credential, ca_file, request):
    if operation == "test":  # "the server answers" is taken as "the credential works"
        return _real_call("request", credential.__class__("", credential.base_url,
                                                          credential.allow_unauthorized_certs),
                          ca_file, reference.ApiRequest("GET", "system/ping"))
    return _real_call(operation, credential, ca_file, request)


def _keeps_first_token(token):
    """A client built once with the first credential's token and reused for every later one."""
    if not _first_token and token:
        _first_token.append(_real_check_token(token))
    return _first_token[0] if _first_token else _real_check_token(token)


def _strips_one_slash(base_url):
    if isinstance(base_url, str) and base_url.endswith("/"):
        base_url = base_url[:-1]
    if isinstance(base_url, str) and base_url.endswith("/"):
        return base_url  # the second slash stays, as in `replace(/\/$/, "")`
    return _real_site_url(base_url)


def _case_sensitive_host(base_url):
    """A base-URL check written as a lower-case pattern: ``HTTPS://Chat.Example.com`` is refused."""
    if isinstance(base_url, str) and any(c.isupper() for c in urlsplit(base_url).netloc):
        raise reference.ConfigError(f"baseUrl host must be lower case, not {base_url!r}")
    return _real_site_url(base_url)


def _unusable_url_as_network(operation, credential, ca_file, request):
    outcome = _real_call(operation, credential, ca_file, request)
    if outcome.error_kind is ErrorKind.CONFIG:
        return Outcome.failure(ErrorKind.NETWORK, "could not connect")
    return outcome


def _never_verifies(allow_unauthorized_certs, ca_file):
    return False


def _switch_ignored(allow_unauthorized_certs, ca_file):
    return _real_verify(False, ca_file)


def _always_get(operation, credential, ca_file, request):
    """Every API call sent as a GET: reads work, every write silently does something else."""
    if request is not None:
        request = reference.ApiRequest("GET", request.endpoint, request.query, request.body)
    return _real_call(operation, credential, ca_file, request)


def _drops_body(operation, credential, ca_file, request):
    """The method goes through, the JSON body does not."""
    if request is not None:
        request = reference.ApiRequest(request.method, request.endpoint, request.query, None)
    return _real_call(operation, credential, ca_file, request)


_remembered: dict[tuple, Outcome] = {}


def _replays_success(operation, credential, ca_file, request):
    """A success is remembered and replayed: the server is never asked again for the same call."""
    key = (operation, credential.access_token, credential.base_url, request.method if request else None,
           request.endpoint if request else None)
    if key in _remembered:
        return _remembered[key]
    outcome = _real_call(operation, credential, ca_file, request)
    if outcome.ok:
        _remembered[key] = outcome
    return outcome


def _logs_token(operation, credential, ca_file, request):
    """A debug line with the whole credential, as a careless log statement writes it."""
    print(f"debug: calling Mattermost with token {credential.access_token}", file=sys.stderr, flush=True)
    return _real_call(operation, credential, ca_file, request)


def _token_in_error_message(operation, credential, ca_file, request):
    """The refusal's message names the token that was refused."""
    outcome = _real_call(operation, credential, ca_file, request)
    if outcome.ok or outcome.error_kind is None:
        return outcome
    return Outcome.failure(outcome.error_kind, f"token {credential.access_token} refused: {outcome.error_message}",
                           status=outcome.status, body=outcome.body)


def _no_timeout() -> None:
    """httpx with timeout=None: waits for a silent server for ever."""
    return None


def _no_hostname_check(allow_unauthorized_certs, ca_file):
    context = _real_verify(allow_unauthorized_certs, ca_file)
    if isinstance(context, ssl.SSLContext):
        context.check_hostname = False
    return context


class _SharedClient:
    """One client per origin, created with the first credential's TLS setting."""

    def __init__(self, *, verify, **kwargs):
        self._verify, self._kwargs = verify, kwargs

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def request(self, method, url, **kwargs):
        origin = str(httpx.URL(url).copy_with(path="/", query=None))
        if origin not in _shared_clients:
            _shared_clients[origin] = _real_client(verify=self._verify, **self._kwargs)
        return _shared_clients[origin].request(method, url, **kwargs)


_real_classify = reference.classify
_real_client = httpx.Client


class _FollowsRedirects:
    """httpx's own redirect following: the token goes along to the same host, as it does in
    most HTTP clients' defaults, so a Base URL that is wrong but redirected appears to work;
    and a write redirected with 307 or 308 is re-sent, body and all, wherever it points."""

    def __init__(self, *, follow_redirects, **kwargs):
        self._client = _real_client(follow_redirects=True, **kwargs)

    def __enter__(self):
        return self._client

    def __exit__(self, *exc):
        self._client.close()
        return False


class _AuthenticatesEveryHop:
    """Follows redirects, and a request hook authenticates every request the client sends.

    The bug as it is usually written: "the redirected request came back 401, so put
    the token on every request". httpx drops ``Authorization`` on a cross-origin
    redirect by itself, but its ``request`` event hooks run for each hop of a
    redirect chain, after that stripping, so the hook hands the token to wherever
    the server pointed (Node's axios interceptors and requests' Session hooks invite
    the same mistake).
    """

    def __init__(self, *, verify, follow_redirects, **kwargs):
        self._authorization: str | None = None
        self._client = _real_client(verify=verify, follow_redirects=True,
                                    event_hooks={"request": [self._authenticate]}, **kwargs)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._client.close()
        return False

    def request(self, method, url, *, headers, **kwargs):
        self._authorization = headers.get("Authorization")
        return self._client.request(method, url, headers=headers, **kwargs)

    def _authenticate(self, request: httpx.Request) -> None:
        if self._authorization:
            request.headers["Authorization"] = self._authorization


class _AuthenticatesSameHostName(_AuthenticatesEveryHop):
    """Follows redirects and keeps the token where the host *name* is the same: the origin check
    written as ``new.host == old.host``, blind to another port or scheme (RFC 6454: another origin)."""

    _host: str | None = None

    def request(self, method, url, *, headers, **kwargs):
        self._host = httpx.URL(url).host
        return super().request(method, url, headers=headers, **kwargs)

    def _authenticate(self, request: httpx.Request) -> None:
        if request.url.host == self._host:
            super()._authenticate(request)


def _only_for_the_test(attribute: str, replacement: object):
    """A ``call`` whose credential test (declared apart, as n8n's is) runs with ``attribute`` of the
    reference replaced; the node's requests keep the reference's own."""
    def call(operation, credential, ca_file, request):
        if operation != "test":
            return _real_call(operation, credential, ca_file, request)
        real = getattr(reference, attribute)
        setattr(reference, attribute, replacement)
        try:
            return _real_call(operation, credential, ca_file, request)
        finally:
            setattr(reference, attribute, real)
    return call


def _drops_query(operation, credential, ca_file, request):
    """The query string is lost on the way: every "get many" gets Mattermost's first page."""
    if request is not None:
        request = reference.ApiRequest(request.method, request.endpoint, {}, request.body)
    return _real_call(operation, credential, ca_file, request)


class _QueryTwice:
    """Every query parameter sent twice (the URL's query built, then the parameters appended again);
    Mattermost reads the first of each, so the answer looks right."""

    def __init__(self, **kwargs):
        self._client = _real_client(**kwargs)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._client.close()
        return False

    def request(self, method, url, *, params=None, **kwargs):
        return self._client.request(method, url, params=list((params or {}).items()) * 2, **kwargs)


class _QueryEncodedTwice(_QueryTwice):
    """Each query value percent-encoded before the client encodes it again (``a,b`` arrives as
    ``a%2Cb``): plain letters and digits come through unchanged, so paging looks right."""

    def request(self, method, url, *, params=None, **kwargs):
        encoded = {name: quote(str(value), safe="") for name, value in (params or {}).items()}
        return self._client.request(method, url, params=encoded, **kwargs)


def _every_transport_error_is_tls(error):
    """Whatever kept the request from an answer, it is called a TLS failure (a refused connection too)."""
    return ssl.SSLError("TLS failed")


def _test_pings_without_the_token(operation, credential, ca_file, request):
    """A credential test that only checks the server is up: it tidies the Base URL, asks
    system/ping without the token and reports success; the token is never tried."""
    if operation != "test":
        return _real_call(operation, credential, ca_file, request)
    base = credential.base_url.strip() if isinstance(credential.base_url, str) else credential.base_url
    pinged = reference.Credential("", base, credential.allow_unauthorized_certs)
    return _real_call("request", pinged, ca_file, reference.ApiRequest("GET", "system/ping", {}, None))


def _patched_httpx(client_class):
    class PatchedHttpx:
        def __getattr__(self, name):
            return getattr(httpx, name)

    patched = PatchedHttpx()
    patched.Client = client_class
    return patched


@dataclass(frozen=True)
class Defect:
    behaviour: str  # what a conforming credential does, which this one does not
    caught_by: str  # pytest -k expression selecting the scenarios that catch it
    attribute: str  # the one thing of the reference it replaces ...
    replacement: object  # ... and with what


DEFECTS: dict[str, Defect] = {
    "ok-on-any-response": Defect(
        "a refused token MUST be reported as an auth error", "does_not_honour",
        "classify", _ok_on_any_response),
    "ok-on-web-page": Defect(
        "a web page answered instead of the API MUST NOT count as success", "path_the_server_does_not_serve",
        "classify", _ok_on_web_page),
    "auth-as-http": Defect(
        "401/403 MUST be reported as error kind auth", "does_not_honour",
        "classify", _auth_as_http),
    "test-ignores-token": Defect(
        "the credential test MUST prove the token (not just that the server answers)", "token_id_pasted",
        "call", _test_ignores_token),
    "keeps-first-token": Defect(
        "every request MUST carry the token of its own credential, acting as that token's owner",
        "owners_permissions", "check_token", _keeps_first_token),
    "strips-one-slash": Defect(
        "every trailing slash of the Base URL MUST be stripped", "accepted_however_it_ends",
        "site_url", _strips_one_slash),
    "case-sensitive-host": Defect(
        "the Base URL's host name MUST be accepted in any case", "accepted_however_it_ends and host",
        "site_url", _case_sensitive_host),
    "unusable-url-as-network": Defect(
        "an unusable Base URL MUST be a config error", "cannot_be_used",
        "call", _unusable_url_as_network),
    "never-verifies": Defect(
        "with Ignore SSL Issues off, certificates MUST be verified", "ignore_ssl_issues_off and node and read",
        "_verify", _never_verifies),
    "switch-ignored": Defect(
        "with Ignore SSL Issues on, a bad certificate MUST NOT stop the connection",
        "ignore_ssl_issues_on and node and read",
        "_verify", _switch_ignored),
    "no-hostname-check": Defect(
        "with Ignore SSL Issues off, the host name MUST match the certificate", "ignore_ssl_issues_off",
        "_verify", _no_hostname_check),
    "reuses-insecure-connection": Defect(
        "an insecure connection MUST NOT be reused by a strict credential", "insecure_credential_used_first",
        "httpx", _patched_httpx(_SharedClient)),
    "follows-redirects-with-token": Defect(
        "the token MUST NOT follow a redirect to another host or to plain http", "redirect_to_another_origin",
        "httpx", _patched_httpx(_AuthenticatesEveryHop)),
    "follows-same-host-redirects": Defect(
        "a Base URL without the subpath MUST NOT appear to work through a redirect", "site_root_of_a_subpath",
        "httpx", _patched_httpx(_FollowsRedirects)),
    "always-get": Defect(
        "a write MUST be sent with its own method (POST posts a message)", "posted_through_the_credential",
        "call", _always_get),
    "drops-body": Defect(
        "a write MUST be sent with its JSON body", "posted_through_the_credential",
        "call", _drops_body),
    "replays-success": Defect(
        "every use of the token MUST ask Mattermost again (a change after a success MUST show)",
        "revoked_after_it_has_worked", "call", _replays_success),
    "no-timeout": Defect(
        "the credential MUST give up on its own on a server that never answers",
        "never_answers and accepts and node and read", "_timeout_s", _no_timeout),
    "test-never-verifies": Defect(
        "with Ignore SSL Issues off, the credential test MUST verify certificates too",
        "ignore_ssl_issues_off and credential and test", "call", _only_for_the_test("_verify", _never_verifies)),
    "test-without-timeout": Defect(
        "the credential test MUST give up on its own on a server that never answers, as the node does",
        "never_answers and accepts and credential and test", "call", _only_for_the_test("_timeout_s", _no_timeout)),
    "redirect-check-by-host-name": Defect(
        "the token MUST NOT follow a redirect to another origin, also on the same host name",
        "redirect_to_another_origin and same and host", "httpx", _patched_httpx(_AuthenticatesSameHostName)),
    "resends-writes-across-origins": Defect(
        "a write MUST NOT be re-sent to another origin a redirect points to",
        "redirect and node and write", "httpx", _patched_httpx(_FollowsRedirects)),
    "drops-query": Defect(
        "a read MUST send its query parameters", "query_string", "call", _drops_query),
    "query-twice": Defect(
        "a read MUST send each query parameter once", "query_string", "httpx", _patched_httpx(_QueryTwice)),
    "query-encoded-twice": Defect(
        "a read MUST send each query value encoded once", "query_string and roles", "httpx",
        _patched_httpx(_QueryEncodedTwice)),
    "transport-errors-as-tls": Defect(
        "a connection that is refused MUST be reported as network, not as a TLS failure",
        "nothing_listens", "_ssl_error_in", _every_transport_error_is_tls),
    "test-pings-without-the-token": Defect(
        "a credential test that reports success MUST have reached the API with the token",
        "pasted and credential and test and space", "call", _test_pings_without_the_token),
    "logs-token": Defect(
        "the credential MUST NOT write the access token into its log", "authenticates_as_the_user_it_was_created",
        "call", _logs_token),
    "token-in-error-message": Defect(
        "the credential MUST NOT put the access token into its error messages", "does_not_honour and made",
        "call", _token_in_error_message),
}


def install(defect: str) -> None:
    """Bend the reference so it has ``defect``."""
    if defect not in DEFECTS:
        raise SystemExit(f"unknown defect {defect!r}; known: {', '.join(DEFECTS)}")
    setattr(reference, DEFECTS[defect].attribute, DEFECTS[defect].replacement)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: adapter.py DEFECT  (one of: {', '.join(DEFECTS)})")
    install(sys.argv[1])
    raise SystemExit(reference.main())
