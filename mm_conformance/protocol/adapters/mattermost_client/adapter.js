#!/usr/bin/env node
// mm-conformance protocol v1 adapter for Mattermost's official JavaScript client,
// @mattermost/client (npm, pinned 11.9.0 by package.json / package-lock.json and
// installed outside the repository by `mm-conformance adapters install`), run on Node's global fetch.
//
// Run: node adapter.js [--modules DIR]   (DIR: where `mm-conformance adapters install` put the
// packages; else $MM_CONFORMANCE_MATTERMOST_CLIENT_MODULES, else
// ${MM_CONFORMANCE_CACHE:-/var/cache/mm-conformance}/mattermost-client-adapter)
//
// How n8n's credential is put onto the client. The mapping is the adapter's;
// everything after it (URLs, headers, fetch, redirects, errors) is the client's:
//
//   n8n credential                   what the adapter does (as a Node user of Client4 would)
//   -------------------------------  ---------------------------------------------------------------
//   baseUrl                          client.setUrl(baseUrl), exactly as typed: no trimming, no check.
//                                    Client4 builds `${url}/api/v4/...` (getBaseRoute()), so a
//                                    trailing "/" doubles and a pasted "/api/v4" is kept.
//   accessToken                      client.setToken(accessToken). Client4 sends
//                                    `Authorization: BEARER <token>` (its spelling), and no
//                                    Authorization header at all when the token is empty.
//   allowUnauthorizedCerts true      Client4 has no TLS option: it calls the global fetch (undici,
//                                    bundled with Node 20). A Node user sets undici's global
//                                    dispatcher: setGlobalDispatcher(new Agent({connect:
//                                    {rejectUnauthorized: false}})). The adapter does exactly that,
//                                    with a new Agent for every protocol request (so no connection,
//                                    verified or not, outlives its request), with undici 6.24.1 from
//                                    npm, the version Node 20.20 bundles.
//   allowUnauthorizedCerts false     the same with {rejectUnauthorized: true}, and with caFile
//    + caFile                        {ca: [...tls.rootCertificates, ...caFile's certificates]}: Node's
//                                    roots plus the file, as NODE_EXTRA_CA_CERTS would give (which Node
//                                    reads once at start-up; the file changes per request here).
//                                    Without caFile: no `ca`, i.e. Node's default trust.
//   (none: timeouts)                 Client4 has no timeout: no option, no AbortSignal of its own
//                                    on getMe() (lib/client4.js never sets one). What bounds a
//                                    request is the dispatcher's, and the adapter's Agent is created
//                                    with no timeout option, so undici 6.24.1's defaults apply (as
//                                    for a Node user who sets a dispatcher only for TLS, and as with
//                                    Node's own global dispatcher): connect 10 s, TCP and TLS
//                                    handshake (undici/lib/core/connect.js: `timeout == null ?
//                                    10e3`), headersTimeout 300 s, waiting for the response headers,
//                                    bodyTimeout 300 s between body chunks (undici/lib/dispatcher/
//                                    client.js: `!= null ? … : 300e3`). UND_ERR_*_TIMEOUT -> `timeout`.
//                                    The adapter has no deadline of its own: when the suite's passes
//                                    first, the suite kills the adapter, and says the credential has
//                                    no timeout. MM_CONFORMANCE_CLIENT_TIMEOUT=<seconds> (unset by
//                                    default) gives the Agent connect.timeout, headersTimeout and
//                                    bodyTimeout of that many seconds: what a Node user who
//                                    configures a timeout on the dispatcher gets.
//
// What cannot be set: Client4 has no per-client or per-call TLS, CA or timeout setting.
// Its typed methods (getMe(), createPost(), …) take no fetch options; only doFetch /
// doFetchWithResponse pass their `options` through to fetch (getOptions spreads them), so
// `dispatcher` could be given per call there — not for getMe(). The adapter therefore uses
// the global dispatcher for both operations, the one mechanism that reaches every method.
//
// Operations:
//   "test"    -> client.getMe(): GET <url>/api/v4/users/me, the client's own way to ask who
//                the token belongs to (what the web app calls after login).
//   "request" -> client.doFetch(`${client.getBaseRoute()}/${endpoint}${buildQueryString(query)}`,
//                {method, body: JSON.stringify(body)}) — doFetch is the public method every
//                Client4 API method calls; buildQueryString is the client's own helper
//                (@mattermost/client/lib/helpers) its methods use for query strings. A null
//                body is left out (as Client4's GET methods do); the method goes as given.
//
// Observation only: globalThis.fetch is wrapped to remember the last Response of the current
// protocol request (and a clone of it, to read the body the server sent); it changes nothing.
// ok is true exactly when the client's call resolved. A 2xx web page: Client4 resolves with
// the page's text, so the answer is ok:true — a finding about the client, reported as is.
// Errors: a ClientError (Client4's: message, server_error_id, status_code from the body) or any
// other rejection after a response -> by the HTTP status received: 401/403 `auth`, else `http`;
// fetch's "TypeError: fetch failed" -> by its cause's code (X509/TLS -> `tls`, undici
// timeouts -> `timeout`, connection errors -> `network`, a non-http(s) URL -> `config`); a
// TypeError before any connection (URL that cannot be parsed, header value fetch refuses,
// body on GET) -> `config`. stdout carries protocol lines only; stderr gets one line per
// request and never the token. That plumbing (parsing requests, answering them, redaction)
// and the mechanism that turns an error into an error kind are ../node_protocol.js, shared
// with the other Node adapter; the tables of undici's and Node's codes are here.

'use strict';

const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');
const { createRequire } = require('node:module');
const { AsyncLocalStorage } = require('node:async_hooks');
const protocol = require(path.join(__dirname, '..', 'node_protocol.js'));

const { log, failure, success, statusKind, ConfigError } = protocol;

const TIMEOUT_ENV = 'MM_CONFORMANCE_CLIENT_TIMEOUT';

// stdout carries protocol lines only: a stray console.log goes to stderr.
protocol.setUp('mattermost-client-adapter');

// The timeout a user configured on the dispatcher (MM_CONFORMANCE_CLIENT_TIMEOUT, seconds),
// or null: undici's defaults.
function configuredTimeoutMs() {
  return protocol.configuredTimeoutMs(TIMEOUT_ENV, "undici's defaults apply");
}

function loadClient(dir) {
  const req = createRequire(path.join(dir, 'package.json'));
  let client;
  try {
    client = req('@mattermost/client');
  } catch (error) {
    throw new Error(`@mattermost/client is not installed in ${dir} (run: mm-conformance adapters install mattermost-client): ${error.message}`);
  }
  const { buildQueryString } = req('@mattermost/client/lib/helpers');
  const undici = req('undici');
  const version = JSON.parse(fs.readFileSync(req.resolve('@mattermost/client/package.json'), 'utf8')).version;
  return { Client4: client.Client4, ClientError: client.ClientError, buildQueryString, undici, version };
}

// --- observing fetch (changes nothing) ----------------------------------------------------

const observations = new AsyncLocalStorage();
const realFetch = globalThis.fetch;
globalThis.fetch = async function fetch(input, init) {
  const store = observations.getStore();
  if (store) store.fetched = true;
  const response = await realFetch(input, init);
  if (store) {
    store.response = response;
    try {
      store.copy = response.clone(); // read after the client has read its own
    } catch {
      store.copy = null;
    }
  }
  return response;
};

async function bodyOf(store) {
  const { response, copy } = store;
  if (!response || !copy) return null;
  if (!/json/i.test(response.headers.get('content-type') || '')) return null;
  try {
    const text = await copy.text();
    return JSON.parse(text);
  } catch {
    return null;
  }
}

// --- the credential onto the client and the dispatcher ---------------------------------

function caCertificates(caFile) {
  let pem;
  try {
    pem = fs.readFileSync(caFile, 'utf8');
  } catch (error) {
    throw new ConfigError(`caFile ${caFile} cannot be read: ${error.message}`);
  }
  return protocol.pemCertificates(pem, caFile);
}

function dispatcherFor(lib, credential, caFile, timeoutMs) {
  const insecure = credential.allowUnauthorizedCerts === true;
  const connect = { rejectUnauthorized: !insecure };
  if (!insecure && caFile !== null) connect.ca = [...tls.rootCertificates, ...caCertificates(caFile)];
  // No timeout options unless a user configured one: undici's defaults (see the top of the file).
  if (timeoutMs === null) return new lib.undici.Agent({ connect });
  return new lib.undici.Agent({ connect: { ...connect, timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
}

async function call(lib, operation, credential, request) {
  const client = new lib.Client4();
  client.setUrl(credential.baseUrl);
  client.setToken(credential.accessToken);
  if (operation === 'test') return client.getMe();
  const endpoint = request.endpoint.replace(/^\/+/, ''); // the protocol's endpoint is relative to <base>/api/v4/
  const url = `${client.getBaseRoute()}/${endpoint}${lib.buildQueryString(request.query || {})}`;
  const options = { method: request.method };
  if (request.body !== null && request.body !== undefined) options.body = JSON.stringify(request.body);
  return client.doFetch(url, options);
}

// --- classification ----------------------------------------------------------------------

// The codes of undici's and Node's errors, in the shared mechanism (../node_protocol.js:
// X509/TLS codes first, then these tables, then the words of codes nobody listed). The error
// and everything it wraps, outermost first: fetch's TypeError -> `cause`; an AggregateError's
// `errors` when several addresses were tried.
const { errorChain, kindOfChain, kindOfFailure } = protocol.errorClassifier({
  timeoutCodes: new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']),
  networkCodes: new Set([
    'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EADDRNOTAVAIL',
    'EPROTO', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_RESPONSE_STATUS_CODE', 'UND_ERR_CONTENT_LENGTH_MISMATCH',
    'HPE_INVALID_CONSTANT', 'HPE_INVALID_VERSION', 'HPE_INVALID_STATUS', 'HPE_INVALID_HEADER_TOKEN',
  ]),
  configCodes: new Set([
    'ERR_INVALID_URL', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN',
    'ERR_HTTP_INVALID_HEADER_VALUE', 'UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED',
  ]),
});

function describeError(error) {
  const texts = [];
  for (const e of errorChain(error)) {
    const text = [e.message, e.code && !String(e.message).includes(e.code) ? e.code : null].filter(Boolean).join(' ');
    if (text && !texts.includes(text)) texts.push(text);
  }
  return texts.join(': ') || String(error);
}

async function fromRejection(lib, error, store) {
  const response = store.response;
  if (response && response.status >= 200 && response.status < 300) {
    // A 2xx whose body never arrived (Client4: "Received invalid response from the server.",
    // caused by undici's UND_ERR_BODY_TIMEOUT or a closed socket) is no answer: the cause decides.
    const kind = kindOfChain(errorChain(error));
    if (kind === 'timeout' || kind === 'network' || kind === 'tls') {
      return failure(kind, `HTTP ${response.status} received, then: ${describeError(error)}`);
    }
  }
  if (response) {
    // An HTTP answer came back and the client rejected it.
    const status = response.status;
    const body = await bodyOf(store);
    let message;
    if (error instanceof lib.ClientError) {
      // Client4's message is the body's `message` ('' when the body has none).
      const what = error.message || `HTTP ${status} ${response.statusText || ''}`.trim();
      message = `Client4: ${what}${error.server_error_id ? ` (${error.server_error_id})` : ''}`;
    } else {
      message = `Client4 failed on the HTTP ${status} answer: ${describeError(error)}`;
    }
    if (status >= 300 && status < 400) message += `; redirect to ${response.headers.get('location') || 'nowhere'} not followed`;
    return failure(statusKind(status), message, status, body);
  }
  const chain = errorChain(error);
  let kind = kindOfFailure(chain);
  if (!kind && chain.some((e) => /URL scheme must be a HTTP\(S\) scheme|unknown scheme|Failed to parse URL|Invalid URL/i.test(e.message || ''))) kind = 'config';
  if (!kind && chain.some((e) => /redirect count exceeded/i.test(e.message || ''))) kind = 'http';
  if (!kind && error instanceof TypeError && error.message === 'fetch failed') kind = 'network';
  // Thrown before any connection (fetch's argument checks: header values, a body on GET, …).
  if (!kind) kind = error instanceof TypeError || !store.fetched ? 'config' : 'network';
  return failure(kind, describeError(error));
}

// --- one request ---------------------------------------------------------------------------

async function handle(lib, parsed) {
  const { operation, credential, caFile, request } = parsed;
  let dispatcher;
  try {
    dispatcher = dispatcherFor(lib, credential, credential.allowUnauthorizedCerts === true ? null : caFile, lib.timeoutMs);
  } catch (error) {
    if (error instanceof ConfigError) return failure('config', error.message);
    throw error;
  }
  lib.undici.setGlobalDispatcher(dispatcher);
  const store = { fetched: false, response: null, copy: null };
  // No deadline here: the answer is the client's, however long it takes (see the top of the file).
  try {
    return await observations.run(store, async () => {
      try {
        await call(lib, operation, credential, request);
      } catch (error) {
        return fromRejection(lib, error, store);
      }
      const response = store.response;
      if (!response) return failure('network', 'Client4 resolved without a response being observed');
      return success(response.status, await bodyOf(store));
    });
  } finally {
    dispatcher.close().catch(() => {}); // the request is over: close its sockets
  }
}

// --- the loop -------------------------------------------------------------------------------

const dir = protocol.modulesDir('MM_CONFORMANCE_MATTERMOST_CLIENT_MODULES', 'mattermost-client-adapter');
protocol.serve({
  what: 'the client',
  testLabel: 'test (getMe)',
  async load() {
    const lib = loadClient(dir);
    lib.timeoutMs = configuredTimeoutMs();
    const timeouts = lib.timeoutMs === null ? "undici's default timeouts" : `timeouts of ${lib.timeoutMs / 1000} s (${TIMEOUT_ENV})`;
    log(`loaded @mattermost/client ${lib.version} from ${dir} (Node ${process.version}, bundled undici ${process.versions.undici}); ${timeouts}`);
    return lib;
  },
  handle,
});
