// Benchmark setup for Gatehouse (bench/run.sh). Not part of the test suite.
//
// Starts the upstream IdP (npm oidc-provider over https on 127.0.0.2, from tests/interop), sets up a
// tenant, an OIDC connection, a resource and an organisation grant through the gatehouse CLI,
// registers ONE public DCR client (authorization_code + refresh_token), then runs the real
// browser flow (authorize -> login -> upstream login -> consent -> code) WARM + CODES times,
// at most 500 per source address (127.0.N.1: the authorization endpoint's per-source limit is
// 600 a minute). Each address's first flow logs in upstream; the Gatehouse session cookie makes
// the later ones skip the upstream login. All codes are prepared first; WARM of them are
// exchanged at /oauth/token untimed (the node's connections prepare the statements), then the
// CODES others with CODE_CONCURRENCY requests in flight: only those exchanges are timed. The
// first CHAINS results become the token chains used by the introspection and refresh benchmarks.
//
// Env: GATEHOUSE_BIN, GATEHOUSE_BASE (issuer URL of the running node), PKI_DIR (ca.pem,
// server.pem, server.key), TOKENS_OUT (JSON file to write), LOG_DIR, CHAINS (64), CODES (3000), WARM (200),
// CODE_CONCURRENCY (32), PREP_CONCURRENCY (8); plus the node's env (DATABASE_URL,
// GATEHOUSE_MASTER_KEY, ...) for the CLI.
import http from 'node:http';
import { randomBytes, createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startIdp, ALICE } from '../tests/interop/idp.mjs';
import { cli } from '../tests/interop/gatehouse.mjs';
import { Browser } from '../tests/interop/browser.mjs';

const env = process.env;
const BASE = env.GATEHOUSE_BASE;
const CHAINS = +(env.CHAINS ?? 64);
const CODES = Math.max(+(env.CODES ?? 3000), CHAINS);
const WARM = +(env.WARM ?? 200); // code exchanges before the timed ones, not timed
const PER_ADDRESS = 500; // codes prepared per source address (the limit is 600 a minute)
const CODE_CONCURRENCY = +(env.CODE_CONCURRENCY ?? 32);
const CLIENTS = +(env.CLIENTS ?? 1); // diagnostic knob: spread the flows over this many DCR clients
const PREP_CONCURRENCY = +(env.PREP_CONCURRENCY ?? 8);
const RESOURCE = 'https://crm.bench.test/mcp';
const REDIRECT = 'http://127.0.0.1:9/callback'; // never contacted: the browser stops at the redirect
const SCOPE = 'crm:customers:read crm:customers:export';
const FILL = { email: ALICE.email, login: ALICE.sub, password: 'any-password' };

const pki = { caFile: join(env.PKI_DIR, 'ca.pem'), ca: readFileSync(join(env.PKI_DIR, 'ca.pem')), cert: readFileSync(join(env.PKI_DIR, 'server.pem')), key: readFileSync(join(env.PKI_DIR, 'server.key')) };
const gh = { bin: env.GATEHOUSE_BIN, env: { ...env }, logDir: env.LOG_DIR };
const b64url = (b) => b.toString('base64url');
const log = (...a) => console.error('[setup]', ...a);

const agent = new http.Agent({ keepAlive: true, maxSockets: CODE_CONCURRENCY });
function post(path, body, headers = {}) {
  const u = new URL(path, BASE);
  return new Promise((resolve, reject) => {
    const req = http.request(u, { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
async function pool(items, concurrency, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i], i); }
  }));
  return out;
}
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const idpSecret = b64url(randomBytes(24));
const idp = await startIdp({ ...pki, clientSecret: idpSecret });
try {
  await cli(gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
  const conn = await cli(gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', idp.issuer, '--client-id', 'gatehouse', '--client-secret-file', '-'], idpSecret);
  idp.setRedirectUris([conn.redirect_uri]);
  const toml = join(env.LOG_DIR, 'resource.toml');
  writeFileSync(toml, `uri = "${RESOURCE}"
display_name = "Bench CRM"
[[scopes]]
name = "crm:customers:read"
description = "Read customers"
tier = "routine"
[[scopes]]
name = "crm:customers:export"
description = "Export customers"
tier = "sensitive"
`);
  const res = await cli(gh, ['resource', 'register', '--file', toml]);
  await cli(gh, ['grant', 'add', '--tenant', 'acme', '--resource', res.resource, '--scopes', SCOPE]);
  // A service account for the client_credentials phase (client_secret_basic, issue 14 §3).
  const sa = await cli(gh, ['service-account', 'create', '--tenant', 'acme', '--name', 'bench-agent',
    '--grant', `${res.resource}=${SCOPE.split(' ').join(',')}`]);
  const clientCredentials = { client_id: sa.client_id, client_secret: sa.client_secret, resource: res.resource, scope: SCOPE };

  // One public client via Dynamic Client Registration (CLIENTS > 1 only for diagnosis).
  const clientIds = [];
  for (let i = 0; i < CLIENTS; i++) {
    const reg = await fetch(`${BASE}/oauth/register`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: `Bench Client ${i}`, redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }),
    });
    if (reg.status !== 201) throw new Error(`DCR: HTTP ${reg.status} ${await reg.text()}`);
    clientIds.push((await reg.json()).client_id);
  }
  let flows = 0;
  // Per-source limits (600 authorization requests a minute per address) bound what one address
  // prepares: each browser prepares at most PER_ADDRESS codes from a loopback address of its own.
  const browsers = [];
  const browserAt = (localAddress) => {
    const b = new Browser({ ca: pki.ca, fill: FILL, localAddress });
    // Shared by concurrent flows, the log would only grow: kept off (an error says so).
    b.log = { push() {}, join: () => '(the flow log is off in the benchmark)' };
    b.pages = { push() {} };
    browsers.push(b);
    return b;
  };
  async function authorizeOnce(browser) {
    const clientId = clientIds[flows++ % CLIENTS];
    const verifier = b64url(randomBytes(32));
    const challenge = b64url(createHash('sha256').update(verifier).digest());
    const state = b64url(randomBytes(12));
    const url = `${BASE}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: SCOPE, code_challenge: challenge, code_challenge_method: 'S256', state, resource: res.resource })}`;
    const cb = await browser.authorize(url, REDIRECT);
    if (cb.state !== state || !cb.code) throw new Error(`bad callback ${JSON.stringify(cb)}`);
    return { code: cb.code, verifier, clientId };
  }
  // Prepares n codes, each address's first flow logging in upstream and the rest reusing its
  // Gatehouse session.
  async function prepare(n, firstAddress) {
    const out = [];
    for (let a = 0; out.length < n; a++) {
      const browser = browserAt(`127.0.${firstAddress + a}.1`);
      const k = Math.min(PER_ADDRESS, n - out.length);
      out.push(await authorizeOnce(browser));
      out.push(...await pool(Array.from({ length: k - 1 }), PREP_CONCURRENCY, () => authorizeOnce(browser)));
    }
    return out;
  }
  const exchange = async ({ code, verifier, clientId }) => post('/oauth/token', new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: clientId, resource: res.resource }).toString());

  let t0 = performance.now();
  const warm = await prepare(WARM, 100);
  const codes = await prepare(CODES, 1);
  const prepSecs = (performance.now() - t0) / 1000;
  log(`prepared ${WARM} + ${codes.length} codes in ${prepSecs.toFixed(1)} s (browser flows, concurrency ${PREP_CONCURRENCY}, ${browsers.length} source addresses); code lifetime is 60 s`);

  // Warm-up, not timed: the node's pooled connections prepare and plan the exchange's
  // statements, as they have in a node that has been serving for a while.
  const warmed = await pool(warm, CODE_CONCURRENCY, async (c) => (await exchange(c)).status);
  const warmOk = warmed.filter((s) => s === 200).length;
  if (warmOk !== warm.length) throw new Error(`warm-up: ${warm.length - warmOk} of ${warm.length} code exchanges failed`);

  // Timed phase: only the authorization_code exchanges.
  const lat = [];
  let errors = 0;
  const statuses = {};
  t0 = performance.now();
  const results = await pool(codes, CODE_CONCURRENCY, async (c) => {
    const s = performance.now();
    const r = await exchange(c);
    lat.push(performance.now() - s);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status !== 200) { errors++; if (errors <= 3) log(`code exchange HTTP ${r.status}: ${r.body.slice(0, 300)}`); return null; }
    return { ...JSON.parse(r.body), client_id: c.clientId };
  });
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const codeExchange = {
    requests: codes.length, ok: codes.length - errors, errors, statuses, seconds: +secs.toFixed(3),
    rps: +((codes.length - errors) / secs).toFixed(1), p50_ms: +pct(lat, 50).toFixed(2), p99_ms: +pct(lat, 99).toFixed(2),
    concurrency: CODE_CONCURRENCY, clients: CLIENTS, prep_seconds: +prepSecs.toFixed(1), warm_up: WARM,
  };
  log('code exchange:', JSON.stringify(codeExchange));

  const good = results.filter((r) => r?.access_token && r?.refresh_token);
  if (good.length < CHAINS) throw new Error(`only ${good.length} token responses with a refresh_token; need ${CHAINS}`);
  const chains = good.slice(0, CHAINS).map((r) => ({ access_token: r.access_token, refresh_token: r.refresh_token, client_id: r.client_id }));
  writeFileSync(env.TOKENS_OUT, JSON.stringify({
    token_url: `${BASE}/oauth/token`, introspect_url: `${BASE}/oauth/introspect`, client_id: clientIds[0], clients: CLIENTS,
    introspection_client_id: res.introspection_client_id, introspection_client_secret: res.introspection_client_secret,
    code_exchange: codeExchange, client_credentials: clientCredentials, chains,
  }, null, 1));
  log(`wrote ${chains.length} chains to ${env.TOKENS_OUT}`);
} finally {
  agent.destroy();
  await idp.close();
}
