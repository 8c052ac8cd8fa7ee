// What the Node.js adapters (n8n/adapter.js, mattermost_client/adapter.js) share: the
// protocol v1 plumbing (docs/protocol.md) and the mechanism that maps an error to an
// error kind. Nothing here decides how a credential is used; each adapter does that.
//
//   setUp(name)           stdout carries protocol lines only (a stray console.log or
//                         stdout write goes to stderr); `name` prefixes every log line.
//   log, oneLine, redact  stderr lines and error messages, never with a token in them.
//   modulesDir, configuredTimeoutMs
//                         where `mm-conformance adapters install` put the packages, and
//                         the timeout a user configured: each adapter's own variables.
//   parseRequest, success, failure, serve
//                         one request line in, one answer line out, until stdin closes.
//   errorClassifier(…)    the chain of errors a failure wraps and the kind its codes and
//                         words give, from each adapter's own tables of codes.
//
// One adapter runs per process, so the state here (the stdout writer, the log name, the
// tokens to redact) is the process's.

'use strict';

const path = require('node:path');
const readline = require('node:readline');

const PROTOCOL_VERSION = 1;

// --- output: protocol on stdout, everything else on stderr ------------------------

let protocolOut = null;
let logName = 'adapter';

function setUp(name) {
  logName = name;
  protocolOut = process.stdout.write.bind(process.stdout);
  // A stray console.log from any module the adapter loads must not corrupt the protocol stream.
  process.stdout.write = (chunk, encoding, callback) => process.stderr.write(chunk, encoding, callback);
  for (const level of ['log', 'info', 'debug']) console[level] = (...args) => console.error(...args);
}

const secrets = new Set();
function redact(text) {
  let out = String(text);
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out.replace(/(Bearer\s+)[^\s"',]+/gi, '$1[redacted]');
}
function log(message) {
  process.stderr.write(`${logName}: ${redact(message)}\n`);
}
function oneLine(text, limit = 400) {
  const flat = redact(String(text)).split(/\s+/).join(' ').trim();
  return flat.length <= limit ? flat : `${flat.slice(0, limit - 1)}…`;
}

// --- where the packages are installed, and the configured timeout ------------------------

// --modules DIR, else $<envName>, else ${MM_CONFORMANCE_CACHE:-/var/cache/mm-conformance}/<cacheName>.
function modulesDir(envName, cacheName) {
  const i = process.argv.indexOf('--modules');
  if (i !== -1 && process.argv[i + 1]) return path.resolve(process.argv[i + 1]);
  if (process.env[envName]) return path.resolve(process.env[envName]);
  const cache = process.env.MM_CONFORMANCE_CACHE || '/var/cache/mm-conformance';
  return path.join(cache, cacheName);
}

// The timeout a user configured ($<envName>, seconds) in ms, or null: the implementation's
// own, which `otherwise` names in the log line about a value that is not a timeout.
function configuredTimeoutMs(envName, otherwise) {
  const raw = process.env[envName];
  if (raw === undefined || raw.trim() === '') return null;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    log(`ignoring ${envName}=${JSON.stringify(raw)} (not a positive number of seconds): ${otherwise}`);
    return null;
  }
  return Math.max(1, Math.round(seconds * 1000));
}

// --- caFile ------------------------------------------------------------------------------

class ConfigError extends Error {}

function pemCertificates(pem, caFile) {
  const certs = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!certs) throw new ConfigError(`caFile ${caFile} contains no PEM certificate`);
  return certs;
}

// --- outcomes ------------------------------------------------------------------------------

function success(status, body) {
  return { ok: true, status, body, error: null };
}

function failure(kind, message, status = null, body = null) {
  return { ok: false, status, body, error: { kind, message: oneLine(message) } };
}

// The kind of an HTTP answer that is not a success.
function statusKind(status) {
  return status === 401 || status === 403 ? 'auth' : 'http';
}

// Mattermost's error body says what went wrong in `message`, and which error in `id`.
function serverMessage(body) {
  if (body && typeof body === 'object' && !Array.isArray(body) && typeof body.message === 'string' && body.message) {
    return typeof body.id === 'string' && body.id ? `${body.message} (${body.id})` : body.message;
  }
  return null;
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

// Loads the implementation, then answers the requests on stdin in order until stdin closes.
//   what            how the log lines name the implementation ("cannot load <what>: …")
//   load()          the loaded implementation (it logs what it loaded); when it fails, every
//                   well-formed request ends the process (exit 3): not a verdict on the
//                   credential, an adapter failure for the suite to record
//   handle(lib, r)  the outcome of one parsed request
//   testLabel       how the log line of a request names a "test"
async function answerRequests({ what, load, handle, testLabel }) {
  let lib = null;
  let loadError = null;
  try {
    lib = await load();
  } catch (error) {
    loadError = error;
    log(`cannot load ${what}: ${error.message}`);
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
      log(`request ${parsed.id}: ${what} is not loaded (${loadError && loadError.message})`);
      process.exit(3);
    }
    const { accessToken } = parsed.credential;
    if (typeof accessToken === 'string' && accessToken.length >= 4) secrets.add(accessToken);
    const outcome = await handle(lib, parsed);
    const request = parsed.operation === 'test' ? testLabel : `${parsed.request.method} ${parsed.request.endpoint}`;
    log(`request ${parsed.id}: ${request} -> ${outcome.status ?? '-'} ${outcome.ok ? 'ok' : `${outcome.error.kind}: ${outcome.error.message}`}`);
    answer(parsed.id, outcome);
  }
  process.exit(0); // the implementation may leave timers or sockets behind; stdin closed means we are done
}

function serve(options) {
  answerRequests(options).catch((error) => {
    log(`adapter crashed: ${error && error.stack ? error.stack : error}`);
    process.exit(1);
  });
}

// --- classification ----------------------------------------------------------------------

// Every OpenSSL X509 verify error Node names (src/crypto/crypto_common.cc,
// X509ErrorCode: X509_V_ERR_<CODE> -> "<CODE>"; any other verify error is
// "UNSPECIFIED", e.g. "key usage does not include certificate signing"), plus
// OpenSSL's names that other runtimes or later Node versions may pass through.
const X509_CODES = new Set([
  // what Node 20/22 name
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE', 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD', 'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'OUT_OF_MEM', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED',
  'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
  // OpenSSL's other X509_V_ERR_* names (Node reports these as UNSPECIFIED)
  'SUBJECT_ISSUER_MISMATCH', 'AKID_SKID_MISMATCH', 'AKID_ISSUER_SERIAL_MISMATCH', 'KEYUSAGE_NO_CERTSIGN',
  'KEYUSAGE_NO_CRL_SIGN', 'KEYUSAGE_NO_DIGITAL_SIGNATURE', 'UNHANDLED_CRITICAL_EXTENSION',
  'UNHANDLED_CRITICAL_CRL_EXTENSION', 'INVALID_NON_CA', 'PROXY_PATH_LENGTH_EXCEEDED', 'PROXY_CERTIFICATES_NOT_ALLOWED',
  'INVALID_EXTENSION', 'INVALID_POLICY_EXTENSION', 'NO_EXPLICIT_POLICY', 'DIFFERENT_CRL_SCOPE',
  'UNSUPPORTED_EXTENSION_FEATURE', 'UNNESTED_RESOURCE', 'PERMITTED_VIOLATION', 'EXCLUDED_VIOLATION',
  'SUBTREE_MINMAX', 'APPLICATION_VERIFICATION', 'UNSUPPORTED_CONSTRAINT_TYPE', 'UNSUPPORTED_CONSTRAINT_SYNTAX',
  'UNSUPPORTED_NAME_SYNTAX', 'CRL_PATH_VALIDATION_ERROR', 'PATH_LOOP', 'SUITE_B_INVALID_VERSION',
  'SUITE_B_INVALID_ALGORITHM', 'SUITE_B_INVALID_CURVE', 'SUITE_B_INVALID_SIGNATURE_ALGORITHM',
  'SUITE_B_LOS_NOT_ALLOWED', 'SUITE_B_CANNOT_SIGN_P_384_WITH_P_256', 'EMAIL_MISMATCH', 'IP_ADDRESS_MISMATCH',
  'DANE_NO_MATCH', 'EE_KEY_TOO_SMALL', 'CA_KEY_TOO_SMALL', 'CA_MD_TOO_WEAK', 'INVALID_CALL', 'STORE_LOOKUP',
  'NO_VALID_SCTS', 'PROXY_SUBJECT_NAME_VIOLATION', 'OCSP_VERIFY_NEEDED', 'OCSP_VERIFY_FAILED', 'OCSP_CERT_UNKNOWN',
  'UNSUPPORTED_SIGNATURE_ALGORITHM', 'SIGNATURE_ALGORITHM_MISMATCH', 'SIGNATURE_ALGORITHM_INCONSISTENCY',
  'INVALID_CA_BASIC_CONSTRAINTS', 'PATHLEN_INVALID_FOR_NON_CA', 'PATHLEN_WITHOUT_KU_KEY_CERT_SIGN',
  'KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA', 'ISSUER_NAME_EMPTY', 'SUBJECT_NAME_EMPTY', 'MISSING_AUTHORITY_KEY_IDENTIFIER',
  'MISSING_SUBJECT_KEY_IDENTIFIER', 'EMPTY_SUBJECT_ALT_NAME', 'EMPTY_SUBJECT_SAN_NOT_CRITICAL',
  'CA_BCONS_NOT_CRITICAL', 'AUTHORITY_KEY_IDENTIFIER_CRITICAL', 'SUBJECT_KEY_IDENTIFIER_CRITICAL',
  'CA_CERT_MISSING_KEY_USAGE', 'EXTENSIONS_REQUIRE_VERSION_3', 'EC_KEY_EXPLICIT_PARAMS', 'RPK_UNTRUSTED',
  // Node's own: checkServerIdentity, and a handshake that never finished
  'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_TLS_HANDSHAKE_TIMEOUT', 'ERR_TLS_CERT_ALTNAME_FORMAT',
]);
// Families of the same: X509_V_ERR_CERT_*, _UNABLE_TO_*, _CRL_*, _ERROR_IN_*, _KEYUSAGE_*;
// Node's ERR_SSL_* (OpenSSL's SSL library: ERR_SSL_WRONG_VERSION_NUMBER, alerts, …),
// ERR_TLS_* (Node's TLS layer) and ERR_OSSL_X509_* / ERR_OSSL_SSL_* (OpenSSL 3 library errors).
const TLS_CODE_PREFIXES = ['CERT_', 'UNABLE_TO_', 'CRL_', 'ERROR_IN_', 'KEYUSAGE_', 'X509_V_ERR_', 'ERR_SSL_', 'ERR_TLS_',
  'ERR_OSSL_X509', 'ERR_OSSL_SSL', 'ERR_OSSL_ASN1', 'ERR_OSSL_PEM'];
// What an error's message, OpenSSL `reason` or `library` says when it is a certificate/TLS problem.
const TLS_WORDS = /certificat|\bssl\b|\btls\b|x\.?509|handshake|openssl|altnames|self[- ]signed|issuer/i;
// Codes that are TLS when the error's words say so: Node's "UNSPECIFIED" for X509 verify
// errors it has no name for; EPROTO for some handshake failures; a reset, EOF or closed
// socket "before secure TLS connection was established".
const TLS_WHEN_SAID_CODES = ['UNSPECIFIED', 'EPROTO', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET'];

function isTlsCode(code) {
  return X509_CODES.has(code) || TLS_CODE_PREFIXES.some((prefix) => code.startsWith(prefix));
}

// The error kinds an adapter's errors give, from the adapter's own tables:
//   timeoutCodes, networkCodes, configCodes  the codes of its HTTP stack that say so;
//   wrapperKeys     the properties that hold the error an error wraps (besides an
//                   AggregateError's `errors`), followed outermost first;
//   textKeys        the properties whose words can say TLS;
//   notTlsPrefixes  code families whose words never make them TLS.
function errorClassifier({
  timeoutCodes, networkCodes, configCodes, wrapperKeys = ['cause'], textKeys = ['message', 'reason', 'library'], notTlsPrefixes = [],
}) {
  function saysTls(error) {
    return textKeys.some((key) => typeof error[key] === 'string' && TLS_WORDS.test(error[key]));
  }

  // The error and everything it wraps, outermost first.
  function errorChain(error) {
    const chain = [];
    const seen = new Set();
    const pending = [error];
    while (pending.length && chain.length < 20) {
      const current = pending.shift();
      if (!current || typeof current !== 'object' || seen.has(current)) continue;
      seen.add(current);
      chain.push(current);
      pending.push(...wrapperKeys.map((key) => current[key]));
      if (Array.isArray(current.errors)) pending.push(...current.errors);
    }
    return chain;
  }

  // One error's kind from its code (and, for codes that do not say, its words); null: no opinion.
  function kindOfError(error) {
    const code = typeof error.code === 'string' ? error.code : '';
    if (!code) return null;
    if (isTlsCode(code)) return 'tls';
    if (TLS_WHEN_SAID_CODES.includes(code) && saysTls(error)) return 'tls';
    if (timeoutCodes.has(code)) return 'timeout';
    if (networkCodes.has(code)) return 'network';
    if (configCodes.has(code)) return 'config';
    // A code nobody listed: TLS when its words say so, otherwise no opinion.
    if (saysTls(error) && !/^E[A-Z]+$/.test(code) && !notTlsPrefixes.some((prefix) => code.startsWith(prefix))) return 'tls';
    return null;
  }

  // The kind the innermost error with an opinion gives, or null.
  function kindOfChain(chain) {
    for (const e of chain.slice().reverse()) { // innermost first: the system error decides
      const kind = kindOfError(e);
      if (kind) return kind;
    }
    return null;
  }

  // kindOfChain's, else `tls` for an error of OpenSSL's (it has `library`/`reason`) or
  // Node's TLS layer that says so, else null.
  function kindOfFailure(chain) {
    const kind = kindOfChain(chain);
    if (kind) return kind;
    if (chain.some((e) => (typeof e.library === 'string' || typeof e.reason === 'string') && saysTls(e))) return 'tls';
    return null;
  }

  return { errorChain, kindOfError, kindOfChain, kindOfFailure };
}

module.exports = {
  setUp, log, oneLine, redact, modulesDir, configuredTimeoutMs, ConfigError, pemCertificates,
  success, failure, statusKind, serverMessage, parseRequest, serve, errorClassifier,
};
