"""A minimal mm-conformance adapter (protocol v1, standard library only); see docs/protocol.md.
Run the suite against it: mm-conformance run --impl "python docs/example_adapter.py" """
import json, ssl, sys, urllib.error, urllib.parse, urllib.request
class NoRedirects(urllib.request.HTTPRedirectHandler):  # report a 3xx, never follow it: the token stays put
    redirect_request = lambda self, *args: None  # noqa: E731
def handle(req):  # -> (status, body, error kind or None, error message)
    if req.get("protocol") != 1:
        return None, None, "config", "unsupported protocol version"
    cred, call = req["credential"], req.get("request") or {"method": "GET", "endpoint": "users/me"}
    base = cred["baseUrl"] if isinstance(cred["baseUrl"], str) else ""
    if not base.lower().startswith(("https://", "http://")) or base != base.strip() or "/api/v4" in base:
        return None, None, "config", f"baseUrl must be a site URL like https://mattermost.example.com, not {base!r}"
    query = "?" + urllib.parse.urlencode(call["query"]) if call.get("query") else ""
    data = None if call.get("body") is None else json.dumps(call["body"]).encode()
    url = base.rstrip("/") + "/api/v4/" + call["endpoint"].lstrip("/") + query
    http = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=call["method"])
    if cred["accessToken"]:  # an empty token sends no header (the server answers 401)
        http.add_header("Authorization", f"Bearer {cred['accessToken']}")
    tls = ssl.create_default_context()  # system roots, host name checked
    if cred["allowUnauthorizedCerts"]:
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    elif req.get("caFile"):
        tls.load_verify_locations(req["caFile"])  # extra roots, on top of the system's
    handlers = NoRedirects, urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=tls)
    try:
        r = urllib.request.build_opener(*handlers).open(http, timeout=10)
    except urllib.error.HTTPError as e:  # a non-2xx status is still an HTTP answer
        r = e
    except OSError as e:  # no HTTP answer; URLError wraps the reason
        why = getattr(e, "reason", e)
        kind = "tls" if isinstance(why, ssl.SSLError) else "timeout" if isinstance(why, TimeoutError) else "network"
        return None, None, kind, str(why)
    body = json.loads(r.read()) if r.headers.get_content_type() == "application/json" else None
    ok = 200 <= r.status < 300 and r.headers.get_content_type() != "text/html"  # a web page: wrong base URL
    kind = None if ok else "auth" if r.status in (401, 403) else "http"
    message = body.get("message") if isinstance(body, dict) else None  # Mattermost's error message
    return r.status, body, kind, kind and (message or f"HTTP {r.status}")
for line in sys.stdin:
    try:
        req = json.loads(line)
    except ValueError:  # a line without a readable id: logged and skipped (protocol v1)
        print("skipped a line that is not JSON", file=sys.stderr); continue  # noqa: E702
    status, body, kind, message = handle(req)
    error = kind and {"kind": kind, "message": message}
    print(json.dumps({"id": req["id"], "ok": not kind, "status": status, "body": body, "error": error}), flush=True)
