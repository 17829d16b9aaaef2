// Upstream ID-token validation and step-up, against a crafted OpenID Provider (crafted-idp.mjs)
// whose ID tokens each scenario builds. Env: GATEHOUSE_BIN, DATABASE_URL (any database on the
// PostgreSQL server to use: this file creates and drops its own gh_interop_<hex> database there).
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from './pki.mjs';
import { keyPair } from './keys.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { startCraftedIdp, SUBJECT } from './crafted-idp.mjs';
import { registerClient, runFlow } from './oauth-flow-lite.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 120_000 };
const READ = 'crm:customers:read';
const CRITICAL = 'crm:billing:write';
const S = {};
const cleanups = [];
let failed = false;

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); }).on('error', reject);
});

// ---- the test's own database -------------------------------------------------------------------
const dbUrl = (base, name) => { const u = new URL(base); u.pathname = `/${name}`; return u.href; };
const psql = (url, sql) => execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
function adminPsql(sql) {
  // Any existing database of the server will do for CREATE/DROP DATABASE.
  const candidates = [process.env.DATABASE_URL, dbUrl(process.env.DATABASE_URL, 'postgres'), dbUrl(process.env.DATABASE_URL, 'test')];
  let last;
  for (const url of candidates) {
    try { return psql(url, sql); } catch (e) { last = e; if (!/does not exist/.test(String(e.stderr))) break; }
  }
  throw new Error(`psql failed: ${last?.stderr ?? last}`);
}
const sql = (q) => psql(S.dbUrl, q);
const lastAuditId = () => Number(sql('select coalesce(max(id), 0) from audit_events'));
const auditsSince = (id) => sql(`select action || ' ' || coalesce(details, '') from audit_events where id > ${id} and action in ('user.sign_in_failed', 'user.signed_in') order by id`)
  .split('\n').filter(Boolean).map((l) => { const i = l.indexOf(' '); return { action: l.slice(0, i), details: JSON.parse(l.slice(i + 1) || 'null') }; });

// ---- scenarios ---------------------------------------------------------------------------------
const guard = (name, fn) => async (t) => {
  try { await fn(t); } catch (e) { failed = true; S.lastFailure = `${name}\n${S.lastFlow?.log?.join('\n') ?? ''}\n${(S.lastFlow?.pages ?? []).map((p) => `--- page ${p.status} ${p.url}\n${p.text}\nform: ${JSON.stringify(p.form?.fields)}`).join('\n')}`; throw e; }
};
const step = (name, fn) => test(name, TIMEOUT, guard(name, fn));
const sub = (t, name, fn) => t.test(name, guard(name, fn));

/** One flow with a fresh browser; idToken builds the upstream ID token (null: the default one). */
async function flow({ scope = READ, idToken = null, tickScopes } = {}) {
  S.idp.idToken = idToken;
  const mark = lastAuditId();
  const authBefore = S.idp.authRequests.length;
  const r = await runFlow({ issuer: S.issuer, clientId: S.clientId, redirectUri: S.redirectUri, resource: S.resourceUri, scope, ca: S.pki.ca, email: SUBJECT.email, tickScopes });
  S.lastFlow = r;
  r.audits = auditsSince(mark);
  r.upstream = S.idp.authRequests.slice(authBefore);
  assert.equal(r.upstream.length, 1, `exactly one upstream authorization request (browser log:\n${r.log.join('\n')})`);
  return r;
}

function assertSuccess(r, scopeRe = /(^| )crm:customers:read( |$)/) {
  assert.ok(r.ok, `flow stopped at HTTP ${r.status} ${r.url}: ${r.title} — ${r.text}\naudits: ${JSON.stringify(r.audits)}`);
  assert.equal(r.token.status, 200, `token response: ${JSON.stringify(r.token.json)}`);
  assert.match(r.token.json.scope, scopeRe);
  assert.deepEqual(r.audits.map((a) => a.action), ['user.signed_in']);
}

function assertRefused(r, { status, title, reason }) {
  assert.ok(!r.ok, `the flow should have been refused, but the client got a code (token: ${JSON.stringify(r.token)})`);
  assert.equal(r.status, status, `HTTP status at ${r.url}: ${r.title} — ${r.text}`);
  assert.match(r.url, /\/federation\/oidc\/[^/]+\/callback/, 'refused at Gatehouse\'s upstream callback');
  assert.ok(r.title.includes(title) && r.h1 === title, `page title/h1: expected "${title}", got "${r.title}" / "${r.h1}" (${r.text})`);
  assert.deepEqual(r.audits.map((a) => a.action), ['user.sign_in_failed'], `audit rows: ${JSON.stringify(r.audits)}`);
  const why = r.audits[0].details?.reason ?? '';
  assert.match(why, reason, `audit reason: ${why}`);
  return why;
}
const BAD_TOKEN = { status: 502, title: 'Sign-in could not be verified' };
const STALE = { status: 403, title: 'A fresh sign-in is required' };

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin, 'GATEHOUSE_BIN must point at the gatehouse binary');
    assert.ok(DATABASE_URL, 'DATABASE_URL must name a database on the PostgreSQL server to use');
    S.runDir = join(HERE, '.run', `idtoken-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-idtoken-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);

    S.dbName = `gh_interop_${randomBytes(6).toString('hex')}`;
    adminPsql(`CREATE DATABASE ${S.dbName}`);
    S.dbUrl = dbUrl(DATABASE_URL, S.dbName);
    // Dropped last (after the node stopped); GATEHOUSE_KEEP_DB=1 keeps it for a post-mortem.
    cleanups.push(() => (process.env.GATEHOUSE_KEEP_DB ? console.error(`kept database ${S.dbUrl}`) : adminPsql(`DROP DATABASE IF EXISTS ${S.dbName} WITH (FORCE)`)));

    const port = await freePort();
    S.issuer = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env, DATABASE_URL: S.dbUrl,
      GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'),
      GATEHOUSE_ISSUER: S.issuer,
      GATEHOUSE_FETCH_CA_FILE: S.pki.caFile,
      GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
      RUST_LOG: process.env.RUST_LOG ?? 'info',
    };
    const gh = { bin, env, logDir: S.runDir };
    const secret = randomBytes(24).toString('base64url');
    S.idp = await startCraftedIdp({ ...S.pki, clientSecret: secret });
    cleanups.push(() => S.idp.close());

    await cli(gh, ['migrate']);
    await cli(gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme', '--domain', 'acme.test']);
    const conn = await cli(gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', S.idp.issuer,
      '--client-id', 'gatehouse', '--client-secret-file', '-'], secret);
    assert.equal(conn.redirect_uri, `${S.issuer}/federation/oidc/${conn.connection_id}/callback`);
    S.resourceUri = `http://127.0.0.1:${await freePort()}/mcp`; // never contacted
    const toml = join(S.runDir, 'resource.toml');
    writeFileSync(toml, `uri = "${S.resourceUri}"
display_name = "ID token test CRM"
[[scopes]]
name = "${READ}"
description = "Read customers"
tier = "routine"
[[scopes]]
name = "${CRITICAL}"
description = "Change billing"
tier = "critical"
`);
    const res = await cli(gh, ['resource', 'register', '--file', toml]);
    assert.equal(res.resource, S.resourceUri);
    await cli(gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.resourceUri, '--scopes', READ]);
    await cli(gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.resourceUri, '--scopes', CRITICAL, '--allow-critical']);

    S.node = await startNode(gh, 'node', `127.0.0.1:${port}`);
    cleanups.push(() => S.node?.stop());
    S.redirectUri = `http://127.0.0.1:${await freePort()}/cb`; // nothing listens there
    S.clientId = await registerClient(S.issuer, S.redirectUri);
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const dump = [
      `logs: ${S.runDir}`, S.lastFailure ?? '',
      ...['node.log', 'cli.log'].map((f) => tail(join(S.runDir, f), 60)),
      `==> crafted IdP requests <==\n${(S.idp?.requests ?? []).join('\n')}`,
      `==> crafted IdP token requests <==\n${(S.idp?.tokenRequests ?? []).map(({ idToken, ...t }) => JSON.stringify(t)).join('\n')}`,
    ].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e.message ?? e));
});

// ---- tests -------------------------------------------------------------------------------------
step('1. baseline: a valid RS256 ID token signs in; token endpoint answers 200', async () => {
  const r = await flow();
  assertSuccess(r);
  const q = r.upstream[0];
  for (const p of ['state', 'nonce', 'code_challenge', 'redirect_uri']) assert.ok(q.get(p), `upstream request carries ${p}`);
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('scope'), /(^| )openid( |$)/);
  const tok = S.idp.tokenRequests.at(-1);
  assert.ok(tok.ok, `the IdP accepted Gatehouse's token request (client_secret_basic + PKCE): ${tok.error}`);
  assert.equal(r.audits[0].details.jit_created, true, 'first sign-in created the user');
});

step('2. wrong iss → 502, reason names the issuer', async () => {
  const r = await flow({ idToken: (c) => c.sign({ ...c.claims, iss: 'https://evil.example' }) });
  assertRefused(r, { ...BAD_TOKEN, reason: /^OIDC0005: .*issuer/i });
});

step('3. wrong aud → 502, reason names the audience', async () => {
  const r = await flow({ idToken: (c) => c.sign({ ...c.claims, aud: 'someone-else' }) });
  assertRefused(r, { ...BAD_TOKEN, reason: /^OIDC0005: .*audience/i });
});

step('4. missing nonce → 502, reason names the nonce', async () => {
  const r = await flow({ idToken: (c) => { const { nonce, ...rest } = c.claims; return c.sign(rest); } });
  assertRefused(r, { ...BAD_TOKEN, reason: /^OIDC0005: .*nonce/i });
});

step('5. mismatched nonce → 502, reason names the nonce', async () => {
  const r = await flow({ idToken: (c) => c.sign({ ...c.claims, nonce: randomBytes(16).toString('base64url') }) });
  assertRefused(r, { ...BAD_TOKEN, reason: /^OIDC0005: .*nonce/i });
});

step('6. alg none (unsigned) → 502', async () => {
  const r = await flow({ idToken: (c) => c.unsigned(c.claims) });
  const why = assertRefused(r, { ...BAD_TOKEN, reason: /^OIDC0005: / });
  assert.match(why, /sign|alg|none/i, `reason says why: ${why}`);
});

step('7. HS256 signed with the client secret → 502', async () => {
  const r = await flow({ idToken: (c) => c.hs256(c.claims) });
  const why = assertRefused(r, { ...BAD_TOKEN, reason: /^OIDC0005: / });
  assert.match(why, /alg|HS256|sign/i, `reason says why: ${why}`);
});

step('8. expired ID token (exp = now-600) → 502, reason says expired', async () => {
  const r = await flow({ idToken: (c) => c.sign({ ...c.claims, iat: c.now - 900, exp: c.now - 600, auth_time: c.now - 900 }) });
  assertRefused(r, { ...BAD_TOKEN, reason: /^OIDC0005: .*expir/i });
});

step('9. key rotation: a new kid after the JWKS was cached → keys refetched, sign-in succeeds', async () => {
  assertSuccess(await flow()); // JWKS (with k1) cached by now
  const jwksFetches = () => S.idp.requests.filter((l) => l.startsWith('GET /jwks')).length;
  const before = jwksFetches();
  const kid = await S.idp.rotateKey();
  assert.notEqual(kid, 'k1');
  const r = await flow();
  assertSuccess(r);
  assert.equal(jwksFetches(), before + 1, 'Gatehouse fetched the JWKS exactly once more');
  assert.equal(JSON.parse(Buffer.from(S.idp.tokenRequests.at(-1).idToken.split('.')[0], 'base64url')).kid, kid);
});

step('10. step-up for a critical scope: prompt=login + max_age upstream; auth_time required and fresh', async (t) => {
  const scope = `${CRITICAL} ${READ}`;
  const assertStepUpRequest = (r) => {
    const q = r.upstream[0];
    assert.equal(q.get('prompt'), 'login', 'step-up sends prompt=login');
    assert.ok(q.has('max_age'), 'step-up sends max_age');
    assert.equal(q.get('max_age'), '900', 'max_age is the 15-minute step-up window');
  };
  await sub(t, '(a) no auth_time → 403 fresh sign-in required', async () => {
    const r = await flow({ scope, idToken: (c) => { const { auth_time, ...rest } = c.claims; return c.sign(rest); } });
    assertStepUpRequest(r);
    assertRefused(r, { ...STALE, reason: /^OIDC0009: .*auth_time/ });
  });
  await sub(t, '(b) auth_time an hour ago → 403 fresh sign-in required', async () => {
    const r = await flow({ scope, idToken: (c) => c.sign({ ...c.claims, auth_time: c.now - 3600 }) });
    assertStepUpRequest(r);
    assertRefused(r, { ...STALE, reason: /^OIDC0009: .*seconds ago/ });
  });
  await sub(t, '(c) auth_time now → success with the critical scope, 15-minute access token', async () => {
    // Alice approved only crm:customers:read before, so the consent page (pre-filled from the
    // remembered consent) offers the critical scope unticked: she ticks it.
    const r = await flow({ scope, tickScopes: [CRITICAL] });
    assertStepUpRequest(r);
    const consent = r.pages.find((p) => p.url.includes('/consent'));
    assert.ok(consent?.offeredScopes.includes(CRITICAL), `the consent page offers the critical scope after a fresh sign-in (offered: ${consent?.offeredScopes})`);
    assertSuccess(r, /(^| )crm:billing:write( |$)/);
    assert.match(r.token.json.scope, /(^| )crm:customers:read( |$)/);
    assert.equal(r.token.json.expires_in, 900);
    assert.equal(r.audits[0].details.step_up, true);
  });
});

step('11. a routine request does not ask for a fresh sign-in', async () => {
  const r = await flow({ scope: READ });
  assertSuccess(r);
  const q = r.upstream[0];
  assert.equal(q.get('prompt'), null, `no prompt upstream (got ${q.get('prompt')})`);
  assert.equal(q.get('max_age'), null, 'no max_age upstream');
  assert.equal(r.audits[0].details.step_up, false);
});

step('12. a kid the IdP never published → 502 after exactly one JWKS refetch', async () => {
  const jwksFetches = () => S.idp.requests.filter((l) => l.startsWith('GET /jwks')).length;
  const before = jwksFetches();
  const stray = keyPair();
  const r = await flow({ idToken: (c) => c.sign(c.claims, { kid: 'not-published', key: stray.privateKey }) });
  assertRefused(r, { ...BAD_TOKEN, reason: /^OIDC0005: .*signature/i });
  assert.equal(jwksFetches(), before + 1, 'one refetch on the unknown kid, no more');
});

// An auth_time in the future (beyond the leeway) is refused: a clock running ahead or a bogus
// claim must not satisfy step-up.
test('13. step-up: auth_time an hour in the future is not "fresh"', TIMEOUT, async () => {
  const r = await flow({ scope: `${CRITICAL} ${READ}`, tickScopes: [CRITICAL], idToken: (c) => c.sign({ ...c.claims, auth_time: c.now + 3600 }) });
  assertRefused(r, { ...STALE, reason: /^OIDC0009: / });
});
