// Helpers for the resilience tests (resilience-*.test.mjs): a private PostgreSQL cluster that a
// test may restart, haproxy in front of several nodes, a tenant with a service account and
// refresh-token chains from real sign-ins, HTTP calls with a deadline, load loops bounded in
// time, and the SQL checks that nothing was half-written.
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import { chownSync, closeSync, openSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cli, tail } from './gatehouse.mjs';
import { freePort, psql } from './presets-flow.mjs';
import { makePki } from './pki.mjs';
import { startIdp, ALICE } from './idp.mjs';
import { Browser } from './browser.mjs';

const run = promisify(execFile);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const RESOURCE = 'https://crm.resilience.test/mcp';
const SCOPE = 'crm:customers:read';
const REDIRECT = 'http://127.0.0.1:9/callback'; // never contacted: the browser stops at the redirect

/** The node environment of a load test: the per-node abuse ceilings (ADR 0008) raised. */
export function loadEnv(extra) {
  return {
    ...process.env,
    GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'),
    GATEHOUSE_RATE_GRANTS_PER_CLIENT_PER_MINUTE: '1000000000',
    GATEHOUSE_RATE_INTROSPECT_PER_RS_PER_MINUTE: '1000000000',
    RUST_LOG: process.env.RUST_LOG ?? 'info',
    ...extra,
  };
}

// --- a private PostgreSQL cluster ------------------------------------------------------------

function pgBin() {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const v = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!v) throw new Error('initdb not found under /usr/lib/postgresql/*/bin (Debian package postgresql)');
  return join(root, v, 'bin');
}

/**
 * initdb into a temporary folder and start it on a free loopback port (trust authentication;
 * as the `postgres` user when the test runs as root, which PostgreSQL refuses to run as).
 * Returns { url(db), port, restart({ downMs }), stop(), remove() }.
 */
export async function startPostgres(logDir) {
  const bin = pgBin();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  const root = process.getuid?.() === 0;
  if (root) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, +stdout.trim(), +gid.trim());
  }
  const as = (cmd, args) => (root ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args));
  const port = await freePort();
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const opts = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=300`;
  const start = () => as('pg_ctl', ['-D', data, '-l', log, '-o', opts, '-w', '-t', '60', 'start']);
  const stop = () => as('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  await start();
  let running = true;
  const base = `postgres://postgres@127.0.0.1:${port}`;
  return {
    port, dir,
    url: (db = 'postgres') => `${base}/${db}`,
    /** `pg_ctl stop -m fast` (every connection is cut), `downMs` down, then start again. */
    async restart({ downMs = 3000 } = {}) {
      await stop();
      running = false;
      await sleep(downMs);
      await start();
      running = true;
    },
    async stop() { if (running) { running = false; await stop().catch(() => {}); } },
    remove() {
      if (logDir && existsSync(log)) writeFileSync(join(logDir, 'postgres.log'), readFileSync(log));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- haproxy -----------------------------------------------------------------------------------

/**
 * Debian's haproxy in front of `backends` (host:port): round robin, a health check on /readyz
 * every 500 ms, and a request whose connection fails is sent to another node (`retry-on
 * conn-failure`, `option redispatch`). Nothing is retried once a node has read the request.
 */
export async function startHaproxy({ dir, backends, logFile, port }) {
  port ??= await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, [
    'global', '  maxconn 2000',
    'defaults', '  mode http', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s',
    '  retries 3', '  option redispatch 1', '  retry-on conn-failure',
    `frontend fe`, `  bind 127.0.0.1:${port}`, '  default_backend nodes',
    'backend nodes', '  balance roundrobin', '  option httpchk GET /readyz',
    ...backends.map((b, i) => `  server n${i} ${b} check inter 500ms fall 2 rise 2`),
    '',
  ].join('\n'));
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn('haproxy', ['-f', cfg, '-db'], { stdio: ['ignore', out, out] });
  if (logFile) closeSync(out);
  let exited = null;
  child.on('exit', (c, s) => { exited = c ?? s; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (!(await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false))) {
    if (exited !== null) throw new Error(`haproxy exited ${exited}\n${logFile ? tail(logFile) : ''}`);
    if (Date.now() > deadline) throw new Error('haproxy not ready after 20 s');
    await sleep(200);
  }
  return { url, stop: () => { if (exited === null) child.kill('SIGTERM'); } };
}

// --- HTTP calls with a deadline ------------------------------------------------------------------

// node:http, not fetch: gatehouse.mjs makes fetch send a request again when the connection
// closes before an answer (a keep-alive race elsewhere). Here that would hide exactly what is
// tested: a request cut by a killed node must reach the client as a failure, not be replayed
// (a replayed grant is a doubled grant, a replayed refresh a reuse).
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** Closes the kept-alive connections (at the end of a test file). */
export const closeHttp = () => agent.destroy();

/** POST a form; never throws: { status, retryAfter, json, text } or { status: 0, error } (no answer). */
export function post(url, form, headers = {}, timeoutMs = 15_000) {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve) => {
    const req = http.request(url, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => resolve({ status: 0, error: String(e.code ?? e) }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] ?? null, json, text });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    // `reused`: the connection was a kept-alive one (see `idleReset`).
    req.on('error', (e) => resolve({ status: 0, error: String(e.code ?? e.message ?? e), reused: req.reusedSocket }));
    req.end(body);
  });
}

/**
 * The keep-alive race of Node's documentation: a reused connection that the server had just
 * closed as idle is reset before any answer, so the server never read the request. Only a test
 * whose nodes all stay up may count it as that (where a node is killed, a reset is a cut).
 */
export const idleReset = (r) => r.status === 0 && r.error === 'ECONNRESET' && r.reused === true;

const basic = (id, secret) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });

export const ccGrant = (base, w) => post(`${base}/oauth/token`, { grant_type: 'client_credentials', resource: w.resource, scope: SCOPE }, basic(w.sa.client_id, w.sa.client_secret));
export const refresh = (base, w, refreshToken) => post(`${base}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: w.clientId, resource: w.resource });
/**
 * RFC 7662 introspection. Read-only, so a request that met the keep-alive race (the node closed
 * an idle connection as it was reused: ECONNRESET before any answer) is sent once more.
 */
export async function introspect(base, w, token) {
  const send = () => post(`${base}/oauth/introspect`, { token }, basic(w.rs.introspection_client_id, w.rs.introspection_client_secret));
  const r = await send();
  return r.status === 0 && /ECONNRESET|EPIPE/.test(r.error) ? send() : r;
}
/** RFC 7009 revocation by the public client the chains belong to (client_id in the body). */
export const revoke = (base, w, token) => post(`${base}/oauth/revoke`, { token, client_id: w.clientId });

// --- a tenant to load ------------------------------------------------------------------------------

/**
 * Migrates, creates tenant `acme` with a resource, an org grant and a service account, and when
 * `chains` > 0 an OIDC connection to npm oidc-provider, a public DCR client and `chains`
 * refresh-token chains from real browser sign-ins at `base` (with `pki` from
 * [`prepareIdpEnv`], whose env the nodes must have). Returns the world `w` the calls
 * above take; `w.close()` stops the IdP.
 */
export async function setupTenant(gh, { runDir, base, chains = 0, pki }) {
  await cli(gh, ['migrate']);
  await cli(gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
  const toml = join(runDir, 'resource.toml');
  writeFileSync(toml, `uri = "${RESOURCE}"\ndisplay_name = "Resilience CRM"\n[[scopes]]\nname = "${SCOPE}"\ndescription = "Read customers"\ntier = "routine"\n`);
  const rs = await cli(gh, ['resource', 'register', '--file', toml]);
  await cli(gh, ['grant', 'add', '--tenant', 'acme', '--resource', rs.resource, '--scopes', SCOPE]);
  const sa = await cli(gh, ['service-account', 'create', '--tenant', 'acme', '--name', 'load-agent', '--grant', `${rs.resource}=${SCOPE}`]);
  const w = { rs, sa, resource: rs.resource, close: async () => {} };
  if (chains > 0) Object.assign(w, await signIns(gh, { runDir, base, resource: rs.resource, chains, pki }));
  return w;
}

/** The PKI and the upstream IdP must exist before the nodes start: the env names the CA. */
export function prepareIdpEnv(dir) {
  const pki = makePki(dir);
  return { pki, env: { GATEHOUSE_FETCH_CA_FILE: pki.caFile, GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32' } };
}

async function signIns(gh, { runDir, base, resource, chains, pki }) {
  const idpSecret = randomBytes(24).toString('base64url');
  const idp = await startIdp({ ...pki, clientSecret: idpSecret });
  const conn = await cli(gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', idp.issuer, '--client-id', 'gatehouse', '--client-secret-file', '-'], idpSecret);
  idp.setRedirectUris([conn.redirect_uri]);
  const reg = await fetch(`${base}/oauth/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'Resilience Client', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }),
  });
  if (reg.status !== 201) throw new Error(`DCR: HTTP ${reg.status} ${await reg.text()}`);
  const clientId = (await reg.json()).client_id;
  // One browser: the first flow signs in upstream, the others reuse the Gatehouse session.
  const browser = new Browser({ ca: pki.ca, fill: { email: ALICE.email, login: ALICE.sub, password: 'any-password' } });
  const out = [];
  for (let i = 0; i < chains; i++) {
    browser.log = [];
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(12).toString('base64url');
    const url = `${base}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: SCOPE, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', state, resource })}`;
    const cb = await browser.authorize(url, REDIRECT);
    const t = await post(`${base}/oauth/token`, { grant_type: 'authorization_code', code: cb.code, redirect_uri: REDIRECT, code_verifier: verifier, client_id: clientId, resource });
    if (t.status !== 200 || !t.json?.refresh_token) throw new Error(`code exchange: HTTP ${t.status} ${t.text}`);
    out.push({ access: t.json.access_token, refresh: t.json.refresh_token });
  }
  writeFileSync(join(runDir, 'chains.txt'), `${out.length} chains\n`);
  return { clientId, chains: out, close: () => idp.close() };
}

// --- load ----------------------------------------------------------------------------------------

/** Runs `workers` copies of `step(i)` in a loop until `stop()` is true; resolves when all end. */
export async function loop(workers, stop, step) {
  await Promise.all(Array.from({ length: workers }, async (_, i) => {
    while (!stop()) await step(i);
  }));
}

/** Runs `fn(item)` for every item, `concurrency` at a time. */
export async function pool(items, concurrency, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i], i); }
  }));
  return out;
}

// --- afterwards: nothing half-written --------------------------------------------------------------

/**
 * SQL checks on the database of `url` after a fault:
 *  - every access token row has its audit record (token.issued / token.refreshed), per session:
 *    as many records as tokens, no more, no fewer;
 *  - no refresh-token family holds two live (unused, unrevoked, unexpired) refresh tokens.
 * Returns { tokensWithoutAudit, auditWithoutToken, doubleLive, accessTokens }.
 */
export function consistency(url) {
  const rows = psql(url, `
    with t as (select session_id, count(*) n from tokens where kind = 'access' group by session_id),
         a as (select session_id, count(*) n from audit_events
               where action in ('token.issued', 'token.refreshed') group by session_id)
    select coalesce(t.session_id, a.session_id), coalesce(t.n, 0), coalesce(a.n, 0)
    from t full outer join a on a.session_id = t.session_id
    where coalesce(t.n, 0) <> coalesce(a.n, 0)`);
  let tokensWithoutAudit = 0;
  let auditWithoutToken = 0;
  for (const line of rows.split('\n').filter(Boolean)) {
    const [, t, a] = line.split('|');
    if (+t > +a) tokensWithoutAudit += +t - +a; else auditWithoutToken += +a - +t;
  }
  const nowUs = `(extract(epoch from clock_timestamp()) * 1000000)::bigint`;
  const doubleLive = +psql(url, `select count(*) from (select family_id from tokens where kind = 'refresh'
    and revoked_at is null and used_at is null and expires_at > ${nowUs} group by family_id having count(*) > 1) d`);
  const accessTokens = +psql(url, `select count(*) from tokens where kind = 'access'`);
  return { tokensWithoutAudit, auditWithoutToken, doubleLive, accessTokens, mismatches: rows };
}

/** `gatehouse audit verify --tenant acme` once the sealer has caught up: { status, unsealed, ... }. */
export async function auditVerified(gh, tenant = 'acme', timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await cli(gh, ['audit', 'verify', '--tenant', tenant]);
    if (r.unsealed === '0' || Date.now() > deadline) return r;
    await sleep(500);
  }
}

export function runDirFor(here, name) {
  const dir = join(here, '.run', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * What every resilience file starts from: its run directory, a scratch directory, a private
 * PostgreSQL cluster with a `gatehouse` database (several nodes' pools would take most of the
 * shared server's connections while the rest of the suite runs beside the file), and the
 * upstream IdP's environment. Each piece's teardown goes onto `cleanups`.
 */
export async function privateWorld(here, name, cleanups) {
  const runDir = runDirFor(here, name);
  const tmp = mkdtempSync(join(tmpdir(), `gatehouse-${name}-`));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  const pg = await startPostgres(runDir);
  cleanups.push(() => pg.remove(), () => pg.stop());
  psql(pg.url('postgres'), 'CREATE DATABASE gatehouse');
  return { runDir, tmp, pg, dbUrl: pg.url('gatehouse'), idp: prepareIdpEnv(tmp) };
}
