// Leavers lose access without SCIM (DESIGN §4b, issue 11 §2), end to end: an MCP client signs a
// person in through an OIDC connection to npm oidc-provider; Gatehouse asks for offline access
// and keeps the upstream refresh token; with the tenant's check interval at 0 (set through the
// CLI) every Gatehouse refresh redeems it at the IdP (RFC 6749 §6). Before the person is
// suspended at the IdP the refreshes succeed (and the IdP's rotated refresh tokens are kept:
// oidc-provider here rotates on every use and treats a reused one as theft); once the IdP no
// longer finds the account, its `invalid_grant` makes the next Gatehouse refresh fail with
// `invalid_grant`, revokes the session and the grant, and is audited.
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates and drops its own
// database). Run: node --test tests/interop/leavers.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { privateJwk } from './keys.mjs';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from './pki.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { freePort, psql, sqlQuote as q, createDatabase, registerPublicClient, signIn, describeEnd } from './presets-flow.mjs';

for (const k of ['info', 'warn']) { // oidc-provider's NOTICE/WARNING lines about dev helpers
  const orig = console[k];
  console[k] = (...a) => (String(a[0]).includes('oidc-provider ') ? undefined : orig(...a));
}
const { default: Provider } = await import('oidc-provider');

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 180_000 };
const SCOPE = 'crm:customers:read';
const cleanups = [];
const S = {};
let failed = false;

const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const sql = (query) => psql(S.db.url, query);

/**
 * oidc-provider 9 as an IdP that grants offline access (the refresh_token grant) and rotates
 * refresh tokens on every use. Like Entra and Okta it honours `offline_access` without
 * `prompt=consent` (oidc-provider follows OIDC Core §11 to the letter and drops the scope
 * otherwise, so `prompt=consent` is added to such requests before they reach it).
 * `suspend(login)`: the account no longer exists for the IdP, so its refresh tokens get
 * `invalid_grant` (what Google, Entra and Okta do for a suspended or deleted user).
 */
async function startOfflineIdp({ cert, key, clientSecret }) {
  const jwk = privateJwk();
  const cookieKeys = [randomBytes(32).toString('hex')];
  let handler = (req, res) => { res.statusCode = 503; res.end('idp not configured'); };
  const server = https.createServer({ cert, key }, (req, res) => handler(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.2', r));
  const issuer = `https://127.0.0.2:${server.address().port}`;
  const suspended = new Set();
  const tokenGrants = []; // grant_type of every token request, with the IdP's answer status
  const authRequests = []; // URLSearchParams of every authorization request
  function configure(redirectUris) {
    const provider = new Provider(issuer, {
      clients: [{
        client_id: 'gatehouse', client_secret: clientSecret, token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], redirect_uris: redirectUris,
      }],
      jwks: { keys: [jwk] },
      cookies: { keys: cookieKeys },
      scopes: ['openid', 'offline_access', 'email', 'profile'],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      conformIdTokenClaims: false,
      features: { devInteractions: { enabled: true } },
      rotateRefreshToken: true,
      async findAccount(ctx, id) {
        if (suspended.has(id)) return undefined;
        return { accountId: id, claims: async () => ({ sub: id, email: `${id}@acme.test`, email_verified: true, name: id }) };
      },
    });
    provider.on('grant.success', (ctx) => tokenGrants.push({ grantType: ctx.oidc.params.grant_type, status: 200 }));
    provider.on('grant.error', (ctx, err) => tokenGrants.push({ grantType: ctx.oidc.params?.grant_type, status: err.statusCode ?? 400, error: err.error }));
    const cb = provider.callback();
    handler = (req, res) => {
      const u = new URL(req.url, issuer);
      if (u.pathname === '/auth') {
        authRequests.push(u.searchParams);
        if ((u.searchParams.get('scope') ?? '').split(' ').includes('offline_access') && !u.searchParams.has('prompt')) {
          u.searchParams.set('prompt', 'consent');
          req.url = `${u.pathname}?${u.searchParams}`;
        }
      }
      cb(req, res);
    };
  }
  configure(['https://127.0.0.2/placeholder']);
  return {
    issuer, suspended, tokenGrants, authRequests,
    setRedirectUris: configure,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

const token = async (params) => {
  const res = await fetch(`${S.base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ client_id: S.clientId, ...params }),
  });
  return { status: res.status, json: await res.json().catch(() => null) };
};
const refresh = (rt) => token({ grant_type: 'refresh_token', refresh_token: rt });
const refreshGrants = () => S.idp.tokenGrants.filter((g) => g.grantType === 'refresh_token');
const auditDetails = (action) => sql(
  `SELECT details FROM audit_events WHERE tenant_id = ${q(S.tenantId)} AND action = ${q(action)} ORDER BY id`,
).split('\n').filter(Boolean).map((l) => JSON.parse(l));

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin, 'GATEHOUSE_BIN must point at the gatehouse binary');
    assert.ok(DATABASE_URL, 'DATABASE_URL must name a PostgreSQL server (a database of its own is created)');
    S.runDir = join(HERE, '.run', `leavers-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-leavers-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());
    const port = await freePort();
    S.base = `http://127.0.0.1:${port}`;
    S.gh = {
      bin, logDir: S.runDir,
      env: {
        ...process.env, DATABASE_URL: S.db.url,
        GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'),
        GATEHOUSE_ISSUER: S.base,
        GATEHOUSE_FETCH_CA_FILE: S.pki.caFile,
        GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
        RUST_LOG: process.env.RUST_LOG ?? 'info',
      },
    };
    await cli(S.gh, ['migrate']);
    S.resource = `http://127.0.0.1:${await freePort()}/mcp`; // never contacted
    const toml = join(S.runDir, 'resource.toml');
    writeFileSync(toml, `uri = "${S.resource}"
display_name = "Leavers CRM"
[[scopes]]
name = "${SCOPE}"
description = "Read customers"
tier = "routine"
[[tools]]
name = "list_customers"
scopes = ["${SCOPE}"]
`);
    await cli(S.gh, ['resource', 'register', '--file', toml]);
    S.tenantId = (await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Inc', '--domain', 'acme.test'])).tenant_id;
    await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.resource, '--scopes', SCOPE]);
    const secret = randomBytes(24).toString('base64url');
    S.idp = await startOfflineIdp({ ...S.pki, clientSecret: secret });
    cleanups.push(() => S.idp.close());
    S.conn = await cli(S.gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', S.idp.issuer,
      '--client-id', 'gatehouse', '--client-secret-file', '-'], secret);
    S.idp.setRedirectUris([S.conn.redirect_uri]);
    S.node = await startNode(S.gh, 'leavers-node', `127.0.0.1:${port}`);
    cleanups.push(() => S.node.stop());
    S.redirectUri = `http://127.0.0.1:${await freePort()}/cb`; // nothing listens there
    S.clientId = await registerPublicClient(S.base, S.redirectUri);
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const dump = [`logs: ${S.runDir}`, `database: ${S.db?.name} (dropped below)`, tail(join(S.runDir, 'leavers-node.log'), 80), tail(join(S.runDir, 'cli.log'), 60)].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('the tenant checks the IdP on every refresh (CLI: gatehouse tenant settings --upstream-check-minutes 0)', async () => {
  const before = await cli(S.gh, ['tenant', 'settings', '--tenant', 'acme']);
  assert.equal(before.upstream_check_minutes, '60', `default interval: ${JSON.stringify(before)}`);
  assert.equal(before.reauth_after_hours, '24', 'no SCIM: the sign-in cap defaults to 24 h');
  assert.equal(before.refresh_lifetime_days, '30');
  assert.equal(before.refresh_grace_seconds, '10', 'the refresh retry grace defaults to 10 s');
  const now = await cli(S.gh, ['tenant', 'settings', '--tenant', 'acme', '--upstream-check-minutes', '0', '--refresh-grace-seconds', '20']);
  assert.equal(now.upstream_check_minutes, '0');
  assert.equal(now.refresh_grace_seconds, '20');
  const changed = auditDetails('tenant.settings_changed');
  assert.equal(changed.at(-1).new.upstream_check_minutes, 0, 'the change is audited');
});

step('an MCP sign-in asks the IdP for offline access and keeps its refresh token, sealed', async () => {
  const r = await signIn({ base: S.base, ca: S.pki.ca, clientId: S.clientId, redirectUri: S.redirectUri, resource: S.resource, scope: SCOPE, email: 'alice@acme.test', login: 'alice' });
  assert.ok(r.end.params?.code, describeEnd(r.end));
  assert.equal(r.tokenStatus, 200, JSON.stringify(r.token));
  assert.ok(r.token.refresh_token, 'the MCP client got a Gatehouse refresh token');
  S.tokens = r.token;
  const asked = S.idp.authRequests.at(-1);
  assert.ok(asked.get('scope').split(' ').includes('offline_access'), `offline_access requested upstream: ${asked.get('scope')}`);
  assert.ok(S.idp.tokenGrants.some((g) => g.grantType === 'authorization_code'), 'the code was redeemed at the IdP');
  const rows = sql(`SELECT refresh_token_enc IS NOT NULL, connection_id FROM upstream_sessions WHERE tenant_id = ${q(S.tenantId)}`);
  assert.equal(rows, `t|${S.conn.connection_id}`, 'one upstream record with a sealed refresh token');
  const sealed = sql(`SELECT refresh_token_enc FROM upstream_sessions WHERE tenant_id = ${q(S.tenantId)}`);
  assert.ok(sealed.length > 40 && !sealed.includes(' '), 'stored sealed, not as the bare token');
  assert.equal(auditDetails('user.signed_in').at(-1).upstream_refresh_token, true);
});

step('while the IdP still lets the person in, each Gatehouse refresh asks it and succeeds (rotated upstream tokens are kept)', async () => {
  const first = await refresh(S.tokens.refresh_token);
  assert.equal(first.status, 200, JSON.stringify(first.json));
  const second = await refresh(first.json.refresh_token);
  assert.equal(second.status, 200, JSON.stringify(second.json));
  S.tokens = second.json;
  const grants = refreshGrants();
  assert.equal(grants.length, 2, `two upstream refresh_token grants: ${JSON.stringify(S.idp.tokenGrants)}`);
  // oidc-provider rotated the first upstream token: the second call succeeded only because
  // Gatehouse presented the new one (a reused one would have revoked the IdP's grant).
  assert.deepEqual(grants.map((g) => g.status), [200, 200]);
});

step('after the person is suspended at the IdP, the next refresh is invalid_grant, the grant and session are revoked and audited', async () => {
  S.idp.suspended.add('alice');
  const r = await refresh(S.tokens.refresh_token);
  assert.equal(r.status, 400, JSON.stringify(r.json));
  assert.equal(r.json.error, 'invalid_grant');
  assert.equal(refreshGrants().at(-1).status, 400, 'the IdP answered the upstream refresh with an error');
  const revoked = auditDetails('grant.revoked');
  assert.equal(revoked.length, 1, JSON.stringify(revoked));
  assert.equal(revoked[0].reason, 'upstream_revoked');
  assert.equal(revoked[0].connection_id, S.conn.connection_id);
  assert.match(revoked[0].upstream_error, /^invalid_grant/);
  assert.equal(sql(`SELECT count(*) FROM browser_sessions WHERE tenant_id = ${q(S.tenantId)} AND revoked_at IS NULL`), '0', 'the session is revoked');
  assert.equal(sql(`SELECT count(*) FROM tokens WHERE tenant_id = ${q(S.tenantId)} AND revoked_at IS NULL`), '0', 'every token of the grant is revoked');
  // The client's retry changes nothing and asks the IdP no more.
  const calls = refreshGrants().length;
  const again = await refresh(S.tokens.refresh_token);
  assert.equal(again.json.error, 'invalid_grant');
  assert.equal(refreshGrants().length, calls);
});
