#!/usr/bin/env node
// mm-conformance protocol v1 adapter for n8n's own Mattermost credential.
//
// Everything that decides how the credential is used is n8n's code, loaded from
// the packages pinned in package.json (installed outside the repository by
// `mm-conformance adapters install`; see README.md for what is loaded, what is not and why):
//
//   "test"    -> n8n CLI's CredentialsTester.testCredentials('mattermostApi', …):
//                the credential's declarative `test` request, run by n8n-core's
//                RoutingNode, authenticated by the CLI's CredentialsHelper, sent
//                by @n8n/backend-network (axios).
//   "request" -> n8n-nodes-base's Mattermost transport `apiRequest`, called with
//                an n8n-core ExecuteContext for a Mattermost node, i.e.
//                helpers.httpRequestWithAuthentication('mattermostApi', …).
//
// The adapter only observes: it reads what the server answered (an axios
// response interceptor and the error n8n reports), and maps it to protocol v1.
// stdout carries protocol lines only; stderr gets one line per request and never
// the token. That plumbing (parsing requests, answering them, redaction) and the
// mechanism that turns an error into an error kind are ../node_protocol.js, shared
// with the other Node adapter; the tables of axios's and Node's codes are here.
//
// Timeouts: n8n's own, and no deadline of the adapter's. Both operations end in
// @n8n/backend-network's httpRequest -> axios, with n8n's timeout of 300 s:
//   "test"    RoutingNode.runNode sets `options.timeout = 300_000` unless the node's
//             "requestOptions.timeout" parameter says otherwise (the credential
//             test's temporary node has none): n8n-core/dist/execution-engine/routing-node.js;
//   "request" the Mattermost transport passes no `timeout`, so axios's default applies,
//             which n8n sets to 300 000 ms when n8n-core's request helpers load
//             (configureGlobalAxiosDefaults, @n8n/backend-network/dist/http/axios/config.js;
//             axios's own default is 0, no timeout).
// axios applies it as a socket-inactivity timeout (ClientRequest#setTimeout; a
// wall-clock timer while redirects are followed), ECONNABORTED -> `timeout`. Neither
// the Mattermost node nor its credential lets a user change it. If the server says
// nothing for longer than the suite waits, the suite kills this process (its own
// process group): that is its verdict "no timeout" to report, not the adapter's.
// MM_CONFORMANCE_N8N_TIMEOUT=<seconds> (unset by default) sets that same `timeout`
// option on every request n8n hands to axios (an axios request interceptor): what
// an n8n user who configures a timeout gets (e.g. Request Options -> Timeout of a
// declarative node, which RoutingNode passes on the same way).

'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const { createRequire } = require('node:module');
const { AsyncLocalStorage } = require('node:async_hooks');
const protocol = require(path.join(__dirname, '..', 'node_protocol.js'));

const { log, failure, success, statusKind, serverMessage } = protocol;

const CREDENTIAL_TYPE = 'mattermostApi';
const NODE_TYPE = 'n8n-nodes-base.mattermost';
const TIMEOUT_ENV = 'MM_CONFORMANCE_N8N_TIMEOUT';

// stdout carries protocol lines only: a stray console.log from any n8n module goes to stderr.
protocol.setUp('n8n-adapter');

// The timeout a user configured (MM_CONFORMANCE_N8N_TIMEOUT, seconds), or null: n8n's own.
function configuredTimeoutMs() {
  return protocol.configuredTimeoutMs(TIMEOUT_ENV, "n8n's own timeout applies");
}

// --- caFile: what NODE_EXTRA_CA_CERTS does, per request ---------------------------------
//
// n8n has no per-credential CA option; an operator adds a private CA with
// NODE_EXTRA_CA_CERTS, which Node reads once at start-up and adds to its bundled
// roots for every TLS context created without an explicit `ca`. The file changes
// between requests here, so the adapter does the same thing at run time: contexts
// created without `ca` get Node's bundled roots plus the current caFile. n8n never
// sets `ca` itself (it only sets rejectUnauthorized=false for "Ignore SSL Issues").

let extraCa = null;
const originalCreateSecureContext = tls.createSecureContext;
tls.createSecureContext = function createSecureContext(options) {
  if (extraCa !== null && (options === undefined || options.ca === undefined)) {
    options = { ...(options || {}), ca: [...tls.rootCertificates, ...extraCa] };
  }
  return originalCreateSecureContext.call(this, options);
};

function useCaFile(caFile) {
  if (caFile === null || caFile === undefined) {
    extraCa = null;
    return;
  }
  const pem = fs.readFileSync(caFile, 'utf8'); // an unreadable file is a config error (caught by the caller)
  extraCa = protocol.pemCertificates(pem, caFile);
}

// --- loading n8n ---------------------------------------------------------------------

const silentLogger = {
  error() {}, warn() {}, info() {}, debug() {},
  scoped() { return this; },
};

// Per-request observations, kept apart per protocol request.
const observations = new AsyncLocalStorage();

function unavailable(what) {
  // Services of the n8n server (database, licence, AI gateway, …) that these code
  // paths must not reach: touching one is a bug in the adapter, and says so.
  return new Proxy({}, {
    get(_target, prop) {
      if (prop === 'then') return undefined;
      if (what === 'licenseState' && prop === 'isExternalSecretsLicensed') return () => false;
      throw new Error(`n8n adapter: ${what}.${String(prop)} is not available outside an n8n server`);
    },
  });
}

// n8n keeps instance settings (an encryption key, …) in N8N_USER_FOLDER, ~/.n8n by
// default, and creates them (with a log line) on first use. The adapter gets a
// private one, removed at exit, so it never touches a real n8n installation.
// Its name carries the adapter's pid: an adapter killed with SIGKILL (the suite's way
// to end one whose request never finishes) cannot remove its folder, so each adapter
// removes, at start, the folders of adapters that are no longer running.
const USER_FOLDER_PREFIX = 'mm-conformance-n8n-';
function removeFoldersOfDeadAdapters() {
  let names = [];
  try {
    names = fs.readdirSync(os.tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const match = name.startsWith(USER_FOLDER_PREFIX) && /^(\d+)-/.exec(name.slice(USER_FOLDER_PREFIX.length));
    if (!match || Number(match[1]) === process.pid) continue;
    try {
      process.kill(Number(match[1]), 0);
      continue; // still running (or not ours to signal: EPERM)
    } catch (error) {
      if (error.code !== 'ESRCH') continue;
    }
    try {
      fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
    } catch {
      // another user's, or already gone
    }
  }
}
removeFoldersOfDeadAdapters();
const userFolder = fs.mkdtempSync(path.join(os.tmpdir(), `${USER_FOLDER_PREFIX}${process.pid}-`));
process.env.N8N_USER_FOLDER = userFolder;
process.env.N8N_ENCRYPTION_KEY = require('node:crypto').randomBytes(24).toString('hex'); // nothing is encrypted
process.on('exit', () => fs.rmSync(userFolder, { recursive: true, force: true }));

async function loadN8n(dir) {
  const req = createRequire(path.join(dir, 'package.json'));
  let workflow;
  try {
    workflow = req('n8n-workflow');
  } catch (error) {
    throw new Error(`n8n is not installed in ${dir} (run: mm-conformance adapters install n8n): ${error.message}`);
  }
  const { Container } = req('@n8n/di');
  const { GlobalConfig } = req('@n8n/config');
  const core = req('n8n-core');
  const { LoadNodesAndCredentials } = req('n8n/dist/load-nodes-and-credentials');
  const { CredentialTypes } = req('n8n/dist/credential-types');
  const { NodeTypes } = req('n8n/dist/node-types');
  const { CredentialsOverwrites } = req('n8n/dist/credentials-overwrites');
  const { CredentialsHelper } = req('n8n/dist/credentials-helper');
  const { CredentialsTester } = req('n8n/dist/services/credentials-tester.service');
  const additionalDataModule = req('n8n/dist/workflow-execute-additional-data');
  const { apiRequest } = req('n8n-nodes-base/dist/nodes/Mattermost/v1/transport');
  // The axios instance n8n's HTTP client uses (@n8n/backend-network has its own copy).
  const axios = createRequire(req.resolve('@n8n/backend-network'))('axios');

  const globalConfig = Container.get(GlobalConfig);
  const errorReporter = {
    error(error) {
      const store = observations.getStore();
      if (store) store.reported.push(error);
    },
    warn() {}, info() {},
  };

  // What `n8n start` does for its built-in nodes (LoadNodesAndCredentials.init),
  // limited to n8n-nodes-base: the lazy package loader, then the post-processing
  // that prefixes supported nodes and injects the domain-restriction fields.
  const loader = new LoadNodesAndCredentials(
    silentLogger, errorReporter, unavailable('instanceSettings'), globalConfig,
    { nodeLoaders: [] }, { getHookForTriggerType: () => [] },
  );
  await loader.runDirectoryLoader(core.LazyPackageDirectoryLoader, path.dirname(req.resolve('n8n-nodes-base/package.json')));
  await loader.postProcessLoaders();

  const credentialTypes = new CredentialTypes(loader);
  const nodeTypes = new NodeTypes(silentLogger, loader);
  const credentialsOverwrites = new CredentialsOverwrites(
    globalConfig, credentialTypes, silentLogger, unavailable('settingsRepository'), unavailable('cipher'),
  );
  await credentialsOverwrites.init(); // N8N_CREDENTIALS_OVERWRITE_DATA, as n8n reads it
  const credentialsHelper = new CredentialsHelper(
    credentialTypes, credentialsOverwrites, unavailable('credentialsRepository'),
    unavailable('dynamicCredentialsProxy'), unavailable('secretsProviderConnectionRepository'),
    unavailable('licenseState'), unavailable('externalSecretsConfig'), unavailable('aiGatewayService'),
    unavailable('policyEnforcementService'),
  );
  const tester = new CredentialsTester(silentLogger, errorReporter, credentialTypes, nodeTypes, credentialsHelper);

  // WorkflowExecuteAdditionalData.getBase reads the instance's URLs and the
  // project's variables from the database; this is the same object without them.
  const getBase = async ({ userId, workflowId, projectId, currentNodeParameters } = {}) => ({
    currentNodeExecutionIndex: 0,
    credentialsHelper,
    restApiUrl: 'http://localhost:5678/rest',
    instanceBaseUrl: 'http://localhost:5678/',
    formWaitingBaseUrl: 'http://localhost:5678/form-waiting',
    webhookBaseUrl: 'http://localhost:5678/webhook',
    webhookWaitingBaseUrl: 'http://localhost:5678/webhook-waiting',
    webhookTestBaseUrl: 'http://localhost:5678/webhook-test',
    currentNodeParameters,
    userId,
    workflowId,
    projectId,
    variables: {},
    executeWorkflow: async () => { throw new Error('not available'); },
    setExecutionStatus: () => {},
    logAiEvent: () => {},
  });
  additionalDataModule.getBase = getBase; // CredentialsTester calls it through this module object

  // Note that a request was handed to the HTTP client (so a failure without a
  // response is a network problem, not a credential that could not be used)…
  // With MM_CONFORMANCE_N8N_TIMEOUT set, this is also where the request gets the
  // timeout a user configured, in place of n8n's 300 s; unset, nothing changes.
  const timeoutMs = configuredTimeoutMs();
  axios.interceptors.request.use((config) => {
    const store = observations.getStore();
    if (store) store.requested = true;
    if (timeoutMs !== null) config.timeout = timeoutMs;
    return config;
  });
  // …and observe every response it receives (status, headers, body).
  axios.interceptors.response.use(
    (response) => {
      const store = observations.getStore();
      if (store) store.response = response;
      return response;
    },
    (error) => {
      const store = observations.getStore();
      if (store && error && error.response) store.response = error.response;
      return Promise.reject(error);
    },
  );

  return { workflow, core, tester, credentialsHelper, nodeTypes, getBase, apiRequest, Container, timeoutMs };
}

// --- the two operations ----------------------------------------------------------------

function credentialData(credential) {
  // The credential as n8n stores it: the three fields, as typed. Missing ones are
  // left out so that n8n applies its own defaults (applyDefaultsAndOverwrites).
  const data = {};
  for (const key of ['accessToken', 'baseUrl', 'allowUnauthorizedCerts']) {
    if (Object.prototype.hasOwnProperty.call(credential, key)) data[key] = credential[key];
  }
  return data;
}

async function runTest(n8n, credential) {
  const decrypted = {
    id: 'mm-conformance',
    name: 'Mattermost account',
    type: CREDENTIAL_TYPE,
    data: credentialData(credential),
  };
  const verdict = await n8n.tester.testCredentials('mm-conformance-user', CREDENTIAL_TYPE, decrypted);
  return { verdict };
}

async function runRequest(n8n, credential, request) {
  const { Workflow, createEmptyRunExecutionData } = n8n.workflow;
  const node = {
    id: 'mm-conformance-node',
    name: 'Mattermost',
    type: NODE_TYPE,
    typeVersion: 1,
    position: [0, 0],
    parameters: {},
    credentials: { [CREDENTIAL_TYPE]: { id: 'mm-conformance', name: 'Mattermost account' } },
  };
  const workflow = new Workflow({
    id: 'mm-conformance', nodes: [node], connections: {}, active: false, nodeTypes: n8n.nodeTypes,
  });
  const additionalData = await n8n.getBase({ userId: 'mm-conformance-user', workflowId: workflow.id });
  const helper = n8n.credentialsHelper;
  const stored = credentialData(credential);
  // CredentialsHelper.getDecrypted loads the credential from the database and then
  // calls applyDefaultsAndOverwrites; only the database part is replaced here.
  additionalData.credentialsHelper = new Proxy(helper, {
    get(target, prop) {
      if (prop === 'getDecrypted') {
        return async (ad, _nodeCredentials, type, mode, executeData, raw, expressionResolveValues) =>
          raw ? { ...stored } : await target.applyDefaultsAndOverwrites(ad, { ...stored }, type, mode, executeData, expressionResolveValues);
      }
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const inputData = { main: [[{ json: {} }]] };
  const executeData = { node, data: inputData, source: null };
  const context = new n8n.core.ExecuteContext(
    workflow, node, additionalData, 'manual', createEmptyRunExecutionData(), 0, [{ json: {} }], inputData, executeData, [],
  );
  const endpoint = request.endpoint.replace(/^\/+/, ''); // the protocol's endpoint is relative to <base>/api/v4/
  const body = request.body === null || request.body === undefined ? undefined : request.body;
  const query = request.query || {};
  await n8n.apiRequest.call(context, request.method.toUpperCase(), endpoint, body, query);
  return {};
}

// --- classification ----------------------------------------------------------------------

// The codes of Node's and axios's errors, in the shared mechanism (../node_protocol.js:
// X509/TLS codes first, then these tables, then the words of codes nobody listed).
const { errorChain, kindOfFailure } = protocol.errorClassifier({
  timeoutCodes: new Set(['ETIMEDOUT', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'ERR_CANCELED']),
  networkCodes: new Set([
    'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
    'EADDRNOTAVAIL', 'ERR_SOCKET_CLOSED', 'ERR_STREAM_PREMATURE_CLOSE', 'HPE_INVALID_CONSTANT', 'EPROTO',
  ]),
  // Without a response, axios's ERR_BAD_REQUEST means it refused to send ("Unsupported protocol ftp:").
  configCodes: new Set([
    'ERR_BAD_REQUEST', 'ERR_BAD_OPTION', 'ERR_BAD_OPTION_VALUE', 'ERR_NOT_SUPPORT', 'ERR_INVALID_URL', 'ERR_INVALID_PROTOCOL', 'ERR_UNESCAPED_CHARACTERS', 'ERR_INVALID_CHAR',
    'ERR_INVALID_HTTP_TOKEN', 'ERR_HTTP_INVALID_HEADER_VALUE', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE',
  ]),
  // The error and everything it wraps, outermost first: n8n's NodeApiError -> `cause`
  // (the axios error; AxiosError.from keeps the system error as `cause` and copies
  // its `code`) -> the system/TLS error; also AggregateError's `errors` (a connection
  // tried on several addresses) and undici's `error.error`.
  wrapperKeys: ['cause', 'error'],
  textKeys: ['message', 'reason', 'library', 'description'], // n8n's errors describe themselves in `description`
  notTlsPrefixes: ['ERR_BAD_'], // axios's: a response or a request it refused, whatever its words
});

function jsonBody(response) {
  if (!response) return null;
  const type = String((response.headers && (response.headers['content-type'] || response.headers['Content-Type'])) || '');
  if (!/json/i.test(type)) return null;
  let data = response.data;
  if (Buffer.isBuffer(data)) data = data.toString('utf8');
  if (typeof data === 'string') {
    try { return JSON.parse(data); } catch { return null; }
  }
  return data === undefined ? null : data;
}

function fromResponse(response, prefix) {
  const status = response.status;
  const body = jsonBody(response);
  if (status >= 200 && status < 300) return success(status, body);
  const parts = [prefix, serverMessage(body) || `HTTP ${status} ${response.statusText || ''}`.trim()];
  if (status >= 300 && status < 400 && response.headers && response.headers.location) {
    parts.push(`redirect to ${response.headers.location}`);
  }
  return failure(statusKind(status), parts.filter(Boolean).join(': '), status, body);
}

function describeError(error) {
  const chain = errorChain(error);
  const texts = [];
  for (const e of chain) {
    const text = [e.message, e.description].filter((t) => typeof t === 'string' && t).join(' — ');
    if (text && !texts.includes(text)) texts.push(text);
  }
  const codes = chain.map((e) => e.code).filter((c) => typeof c === 'string');
  if (codes.length && !texts.some((t) => t.includes(codes[codes.length - 1]))) texts.push(codes[codes.length - 1]);
  return texts.join(': ') || String(error);
}

function fromError(error, store, prefix) {
  const chain = errorChain(error);
  const response = chain.map((e) => e.response).find((r) => r && typeof r.status === 'number') || store.response;
  const is2xx = response && response.status >= 200 && response.status < 300;
  if (response && !is2xx) return fromResponse(response, prefix);
  // No answer; or a 2xx and yet n8n failed: its body never arrived (axios "stream has been
  // aborted" when the socket closes or times out mid-body), or n8n failed on it. The error decides.
  // The innermost error with a code that says decides; else an OpenSSL/TLS error that says so.
  let kind = kindOfFailure(chain);
  if (!kind && chain.some((e) => e instanceof TypeError && /Invalid URL/i.test(e.message))) kind = 'config';
  if (!kind && chain.some((e) => e.isAxiosError || e.name === 'AxiosError')) kind = 'network';
  const received = response ? `HTTP ${response.status} received, then` : null;
  if (!kind && response) {
    // n8n failed on a 2xx answer it received in full: not a success, and not a transport failure.
    const message = [prefix, `${received}: ${describeError(error)}`].filter(Boolean).join(': ');
    return failure('http', message, response.status, jsonBody(response));
  }
  // No HTTP request was attempted (n8n failed while building it from the credential).
  if (!kind) kind = store.requested ? 'network' : 'config';
  const message = [prefix, received, describeError(error)].filter(Boolean).join(': ');
  return failure(kind, message);
}

function testOutcome(result, store) {
  const { verdict } = result;
  const reported = store.reported[store.reported.length - 1];
  if (verdict && verdict.status === 'OK') {
    if (store.response) return fromResponse(store.response, null);
    return failure('network', 'n8n reported success but no response was observed');
  }
  const prefix = `n8n credential test: ${verdict ? verdict.message : 'no verdict'}`;
  if (reported) return fromError(reported, store, prefix);
  if (store.response) return fromResponse(store.response, prefix);
  // Failed before any request (e.g. the credential could not be prepared).
  return failure(store.requested ? 'network' : 'config', prefix);
}

// --- one request ------------------------------------------------------------------------------

async function handle(n8n, parsed) {
  const { operation, credential, caFile, request } = parsed;
  try {
    useCaFile(credential.allowUnauthorizedCerts === true ? null : caFile);
  } catch (error) {
    return failure('config', `caFile ${caFile} cannot be used: ${error.message}`);
  }
  const store = { reported: [], response: null, requested: false };
  // No deadline here: the answer is n8n's, however long n8n takes (see the top of the file).
  return observations.run(store, async () => {
    try {
      const result = operation === 'test' ? await runTest(n8n, credential) : await runRequest(n8n, credential, request);
      if (operation === 'test') return testOutcome(result, store);
      if (store.response) return fromResponse(store.response, null);
      return failure('network', 'n8n returned without a response being observed');
    } catch (error) {
      return fromError(error, store, null);
    }
  });
}

// --- the loop -------------------------------------------------------------------------------

const dir = protocol.modulesDir('MM_CONFORMANCE_N8N_MODULES', 'n8n-adapter');
protocol.serve({
  what: 'n8n',
  testLabel: 'test',
  async load() {
    const started = Date.now();
    const n8n = await loadN8n(dir);
    const timeouts = n8n.timeoutMs === null ? "n8n's own timeouts (300 s)" : `a timeout of ${n8n.timeoutMs / 1000} s (${TIMEOUT_ENV})`;
    log(`loaded n8n from ${dir} in ${Date.now() - started} ms; ${timeouts}`);
    return n8n;
  },
  handle,
});
