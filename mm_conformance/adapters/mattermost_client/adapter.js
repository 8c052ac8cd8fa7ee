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
// request and never the token.

'use strict';

const fs = require('node:fs');
const path = require('node:path');
const tls = require('node:tls');
const readline = require('node:readline');
const { createRequire } = require('node:module');
const { AsyncLocalStorage } = require('node:async_hooks');

const PROTOCOL_VERSION = 1;
const TIMEOUT_ENV = 'MM_CONFORMANCE_CLIENT_TIMEOUT';

// --- output: protocol on stdout, everything else on stderr ------------------------

const protocolOut = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, encoding, callback) => process.stderr.write(chunk, encoding, callback);
for (const level of ['log', 'info', 'debug']) console[level] = (...args) => console.error(...args);

const secrets = new Set();
function redact(text) {
  let out = String(text);
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out.replace(/(Bearer\s+)[^\s"',]+/gi, '$1[redacted]');
}
function log(message) {
  process.stderr.write(`mattermost-client-adapter: ${redact(message)}\n`);
}
function oneLine(text, limit = 400) {
  const flat = redact(String(text)).split(/\s+/).join(' ').trim();
  return flat.length <= limit ? flat : `${flat.slice(0, limit - 1)}…`;
}

// --- where the client is installed ---------------------------------------------------

function modulesDir() {
  const i = process.argv.indexOf('--modules');
  if (i !== -1 && process.argv[i + 1]) return path.resolve(process.argv[i + 1]);
  if (process.env.MM_CONFORMANCE_MATTERMOST_CLIENT_MODULES) return path.resolve(process.env.MM_CONFORMANCE_MATTERMOST_CLIENT_MODULES);
  const cache = process.env.MM_CONFORMANCE_CACHE || '/var/cache/mm-conformance';
  return path.join(cache, 'mattermost-client-adapter');
}

// The timeout a user configured on the dispatcher (MM_CONFORMANCE_CLIENT_TIMEOUT, seconds),
// or null: undici's defaults.
function configuredTimeoutMs() {
  const raw = process.env[TIMEOUT_ENV];
  if (raw === undefined || raw.trim() === '') return null;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    log(`ignoring ${TIMEOUT_ENV}=${JSON.stringify(raw)} (not a positive number of seconds): undici's defaults apply`);
    return null;
  }
  return Math.max(1, Math.round(seconds * 1000));
}

function load(dir) {
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

class ConfigError extends Error {}

function caCertificates(caFile) {
  let pem;
  try {
    pem = fs.readFileSync(caFile, 'utf8');
  } catch (error) {
    throw new ConfigError(`caFile ${caFile} cannot be read: ${error.message}`);
  }
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!certs) throw new ConfigError(`caFile ${caFile} contains no PEM certificate`);
  return certs;
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

// Every OpenSSL X509 verify error Node names (X509ErrorCode in Node's crypto_common.cc;
// any other is "UNSPECIFIED"), and OpenSSL's other X509_V_ERR_* names.
const X509_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE', 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD', 'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'OUT_OF_MEM', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED',
  'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
  'SUBJECT_ISSUER_MISMATCH', 'AKID_SKID_MISMATCH', 'AKID_ISSUER_SERIAL_MISMATCH', 'KEYUSAGE_NO_CERTSIGN',
  'KEYUSAGE_NO_CRL_SIGN', 'KEYUSAGE_NO_DIGITAL_SIGNATURE', 'UNHANDLED_CRITICAL_EXTENSION', 'INVALID_NON_CA',
  'PROXY_PATH_LENGTH_EXCEEDED', 'INVALID_EXTENSION', 'INVALID_POLICY_EXTENSION', 'NO_EXPLICIT_POLICY',
  'PERMITTED_VIOLATION', 'EXCLUDED_VIOLATION', 'EMAIL_MISMATCH', 'IP_ADDRESS_MISMATCH', 'EE_KEY_TOO_SMALL',
  'CA_KEY_TOO_SMALL', 'CA_MD_TOO_WEAK', 'PATH_LOOP', 'UNSUPPORTED_SIGNATURE_ALGORITHM', 'INVALID_CA_BASIC_CONSTRAINTS',
  'KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA', 'CA_CERT_MISSING_KEY_USAGE', 'EC_KEY_EXPLICIT_PARAMS',
  'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_TLS_HANDSHAKE_TIMEOUT', 'ERR_TLS_CERT_ALTNAME_FORMAT',
]);
const TLS_CODE_PREFIXES = ['CERT_', 'UNABLE_TO_', 'CRL_', 'ERROR_IN_', 'KEYUSAGE_', 'X509_V_ERR_', 'ERR_SSL_', 'ERR_TLS_',
  'ERR_OSSL_X509', 'ERR_OSSL_SSL', 'ERR_OSSL_ASN1', 'ERR_OSSL_PEM'];
const TLS_WORDS = /certificat|\bssl\b|\btls\b|x\.?509|handshake|openssl|altnames|self[- ]signed|issuer/i;
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EADDRNOTAVAIL',
  'EPROTO', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_RESPONSE_STATUS_CODE', 'UND_ERR_CONTENT_LENGTH_MISMATCH',
  'HPE_INVALID_CONSTANT', 'HPE_INVALID_VERSION', 'HPE_INVALID_STATUS', 'HPE_INVALID_HEADER_TOKEN',
]);
const CONFIG_CODES = new Set([
  'ERR_INVALID_URL', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN',
  'ERR_HTTP_INVALID_HEADER_VALUE', 'UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED',
]);

function saysTls(error) {
  return ['message', 'reason', 'library'].some((key) => typeof error[key] === 'string' && TLS_WORDS.test(error[key]));
}

// The error and everything it wraps, outermost first (fetch's TypeError -> `cause`; an
// AggregateError's `errors` when several addresses were tried).
function errorChain(error) {
  const chain = [];
  const seen = new Set();
  const pending = [error];
  while (pending.length && chain.length < 20) {
    const current = pending.shift();
    if (!current || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    chain.push(current);
    pending.push(current.cause);
    if (Array.isArray(current.errors)) pending.push(...current.errors);
  }
  return chain;
}

function kindOfError(error) {
  const code = typeof error.code === 'string' ? error.code : '';
  if (!code) return null;
  if (X509_CODES.has(code) || TLS_CODE_PREFIXES.some((prefix) => code.startsWith(prefix))) return 'tls';
  if (['UNSPECIFIED', 'EPROTO', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'].includes(code) && saysTls(error)) return 'tls';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (NETWORK_CODES.has(code)) return 'network';
  if (CONFIG_CODES.has(code)) return 'config';
  if (saysTls(error) && !/^E[A-Z]+$/.test(code)) return 'tls';
  return null;
}

function describeError(error) {
  const texts = [];
  for (const e of errorChain(error)) {
    const text = [e.message, e.code && !String(e.message).includes(e.code) ? e.code : null].filter(Boolean).join(' ');
    if (text && !texts.includes(text)) texts.push(text);
  }
  return texts.join(': ') || String(error);
}

function serverMessage(body) {
  if (body && typeof body === 'object' && !Array.isArray(body) && typeof body.message === 'string' && body.message) {
    return typeof body.id === 'string' && body.id ? `${body.message} (${body.id})` : body.message;
  }
  return null;
}

function failure(kind, message, status = null, body = null) {
  return { ok: false, status, body, error: { kind, message: oneLine(message) } };
}

// The kind the innermost error with an opinion gives, or null.
function kindOfChain(chain) {
  for (const e of chain.slice().reverse()) { // innermost first
    const kind = kindOfError(e);
    if (kind) return kind;
  }
  return null;
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
    const kind = status === 401 || status === 403 ? 'auth' : 'http';
    let message;
    if (error instanceof lib.ClientError) {
      // Client4's message is the body's `message` ('' when the body has none).
      const what = error.message || `HTTP ${status} ${response.statusText || ''}`.trim();
      message = `Client4: ${what}${error.server_error_id ? ` (${error.server_error_id})` : ''}`;
    } else {
      message = `Client4 failed on the HTTP ${status} answer: ${describeError(error)}`;
    }
    if (status >= 300 && status < 400) message += `; redirect to ${response.headers.get('location') || 'nowhere'} not followed`;
    return failure(kind, message, status, body);
  }
  const chain = errorChain(error);
  let kind = kindOfChain(chain);
  if (!kind && chain.some((e) => (typeof e.library === 'string' || typeof e.reason === 'string') && saysTls(e))) kind = 'tls';
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
  if (typeof credential.accessToken === 'string' && credential.accessToken.length >= 4) secrets.add(credential.accessToken);
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
      return { ok: true, status: response.status, body: await bodyOf(store), error: null };
    });
  } finally {
    dispatcher.close().catch(() => {}); // the request is over: close its sockets
  }
}

// --- the loop -------------------------------------------------------------------------------

function answer(id, outcome) {
  protocolOut(`${JSON.stringify({ id, ok: outcome.ok, status: outcome.status, body: outcome.body, error: outcome.error })}\n`);
}

function parseRequest(line) {
  let value;
  try {
    value = JSON.parse(line);
  } catch {
    return { id: null, problem: 'a line that is not JSON' };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { id: null, problem: 'a line that is not a JSON object' };
  const id = Number.isInteger(value.id) ? value.id : null;
  if (id === null) return { id: null, problem: 'a request without an integer "id"' };
  if (value.protocol !== PROTOCOL_VERSION) return { id, problem: 'unsupported protocol version' };
  if (value.operation !== 'test' && value.operation !== 'request') return { id, problem: `unknown operation ${JSON.stringify(value.operation)}` };
  const credential = value.credential;
  if (!credential || typeof credential !== 'object' || Array.isArray(credential)) return { id, problem: '"credential" is not a JSON object' };
  if (!('accessToken' in credential) || !('baseUrl' in credential)) return { id, problem: '"credential" needs "accessToken" and "baseUrl"' };
  const caFile = value.caFile === undefined ? null : value.caFile;
  if (caFile !== null && typeof caFile !== 'string') return { id, problem: '"caFile" is not a string or null' };
  let request = null;
  if (value.operation === 'request') {
    request = value.request;
    if (!request || typeof request !== 'object') return { id, problem: '"request" is not a JSON object' };
    if (typeof request.method !== 'string' || !request.method) return { id, problem: '"request.method" is not a non-empty string' };
    if (typeof request.endpoint !== 'string') return { id, problem: '"request.endpoint" is not a string' };
    if (request.query !== undefined && request.query !== null && (typeof request.query !== 'object' || Array.isArray(request.query))) {
      return { id, problem: '"request.query" is not a JSON object' };
    }
  }
  return { id, operation: value.operation, credential, caFile, request };
}

async function main() {
  const dir = modulesDir();
  let lib = null;
  let loadError = null;
  try {
    lib = load(dir);
    lib.timeoutMs = configuredTimeoutMs();
    const timeouts = lib.timeoutMs === null ? "undici's default timeouts" : `timeouts of ${lib.timeoutMs / 1000} s (${TIMEOUT_ENV})`;
    log(`loaded @mattermost/client ${lib.version} from ${dir} (Node ${process.version}, bundled undici ${process.versions.undici}); ${timeouts}`);
  } catch (error) {
    loadError = error;
    log(`cannot load the client: ${error.message}`);
  }
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const parsed = parseRequest(line);
    if (parsed.id === null) {
      log(`skipping ${parsed.problem}`);
      continue;
    }
    if (parsed.problem) {
      answer(parsed.id, failure('config', parsed.problem));
      continue;
    }
    if (!lib) {
      // Not a verdict on the credential: exit so the suite records an adapter failure.
      log(`request ${parsed.id}: the client is not loaded (${loadError && loadError.message})`);
      process.exit(3);
    }
    const outcome = await handle(lib, parsed);
    const what = parsed.operation === 'test' ? 'test (getMe)' : `${parsed.request.method} ${parsed.request.endpoint}`;
    log(`request ${parsed.id}: ${what} -> ${outcome.status ?? '-'} ${outcome.ok ? 'ok' : `${outcome.error.kind}: ${outcome.error.message}`}`);
    answer(parsed.id, outcome);
  }
  process.exit(0);
}

main().catch((error) => {
  log(`adapter crashed: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
});
