// Incident-response levers on two Gatehouse nodes over one PostgreSQL database (issue 11 §3):
// a lever pulled at one node (operator admin API or CLI) holds at the other at once: suspending
// a tenant, revoking a connection's, a tenant's or a client's access, disabling a connection.
// Tokens come from real sign-ins (scripted browser, crafted OIDC IdP). Env: GATEHOUSE_BIN,
// DATABASE_URL.
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from './pki.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { startCraftedIdp, SUBJECT } from './crafted-idp.mjs';
import { registerClient, runFlow } from './oauth-flow-lite.mjs';
import { freePort, createDatabase } from './presets-flow.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 180_000 };
const READ = 'crm:customers:read';
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });

async function signIn() {
  const r = await runFlow({ issuer: S.a.base, clientId: S.clientId, redirectUri: S.redirectUri, resource: S.resource, scope: READ, ca: S.pki.ca, email: SUBJECT.email });
  assert.ok(r.ok, `sign-in stopped at ${r.url}: ${r.title} — ${r.text}`);
  assert.equal(r.token.status, 200, JSON.stringify(r.token.json));
  return r.token.json;
}

async function introspectAt(node, token) {
  const basic = Buffer.from(`${S.rs.id}:${S.rs.secret}`).toString('base64');
  const res = await fetch(`${node.base}/oauth/introspect`, {
    method: 'POST', body: new URLSearchParams({ token }),
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
  });
  assert.equal(res.status, 200);
  return (await res.json()).active;
}

async function refreshAt(node, refreshToken) {
  const res = await fetch(`${node.base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: S.clientId }),
  });
  return { status: res.status, json: await res.json() };
}

async function operator(node, path) {
  const res = await fetch(`${node.base}/admin/api/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${S.operatorKey}` } });
  const json = await res.json();
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(json)}`);
  return json;
}

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
    S.runDir = join(HERE, '.run', `incident-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-incident-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());
    const [portA, portB] = [await freePort(), await freePort()];
    const issuer = `http://127.0.0.1:${portA}`;
    S.gh = {
      bin, logDir: S.runDir,
      env: {
        ...process.env, DATABASE_URL: S.db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'),
        GATEHOUSE_ISSUER: issuer, GATEHOUSE_FETCH_CA_FILE: S.pki.caFile, GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
        RUST_LOG: process.env.RUST_LOG ?? 'info',
      },
    };
    const secret = randomBytes(24).toString('base64url');
    S.idp = await startCraftedIdp({ ...S.pki, clientSecret: secret });
    cleanups.push(() => S.idp.close());
    await cli(S.gh, ['migrate']);
    await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme', '--domain', 'acme.test']);
    S.connection = (await cli(S.gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', S.idp.issuer, '--client-id', 'gatehouse', '--client-secret-file', '-'], secret)).connection_id;
    S.resource = `http://127.0.0.1:${await freePort()}/mcp`; // never contacted
    const toml = join(S.runDir, 'resource.toml');
    writeFileSync(toml, `uri = "${S.resource}"\ndisplay_name = "CRM"\n[[scopes]]\nname = "${READ}"\ndescription = "Read customers"\ntier = "routine"\n`);
    const res = await cli(S.gh, ['resource', 'register', '--file', toml]);
    S.rs = { id: res.introspection_client_id, secret: res.introspection_client_secret };
    await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.resource, '--scopes', READ]);
    S.operatorKey = (await cli(S.gh, ['operator-key', 'create', '--name', 'ir'])).key;
    S.a = await startNode(S.gh, 'node-a', `127.0.0.1:${portA}`);
    cleanups.push(() => S.a.stop());
    S.b = await startNode(S.gh, 'node-b', `127.0.0.1:${portB}`);
    cleanups.push(() => S.b.stop());
    S.redirectUri = `http://127.0.0.1:${await freePort()}/cb`; // nothing listens there
    S.clientId = await registerClient(S.a.base, S.redirectUri, 'incident-test');
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const dump = [`logs: ${S.runDir}`, ...['node-a.log', 'node-b.log', 'cli.log'].map((f) => tail(join(S.runDir, f), 40))].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('a tenant suspended at node A is inactive at node B until resumed', async () => {
  const tok = await signIn();
  assert.equal(await introspectAt(S.b, tok.access_token), true);
  const s = await operator(S.a, '/incident/suspend-tenant/acme');
  assert.deepEqual(s, { tenant: 'acme', suspended: true, changed: true });
  assert.equal(await introspectAt(S.b, tok.access_token), false, 'inactive at the other node at once');
  const r = await refreshAt(S.b, tok.refresh_token);
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
  const refused = await runFlow({ issuer: S.a.base, clientId: S.clientId, redirectUri: S.redirectUri, resource: S.resource, scope: READ, ca: S.pki.ca, email: SUBJECT.email });
  assert.ok(!refused.ok, 'no sign-in while suspended');
  assert.match(refused.text, /suspended/);
  const out = await cli(S.gh, ['incident', 'resume-tenant', '--tenant', 'acme']);
  assert.equal(out.suspended, 'false');
  assert.equal(await introspectAt(S.b, tok.access_token), true, 'resumed: nothing was revoked');
  assert.equal((await refreshAt(S.a, tok.refresh_token)).status, 200);
});

step('revoking a connection (CLI), a tenant (API at B) and a client (API at A) holds at the other node', async () => {
  let tok = await signIn();
  const c = await cli(S.gh, ['incident', 'revoke-connection', '--tenant', 'acme', '--connection', S.connection]);
  assert.ok(Number(c.tokens_revoked) >= 2 && Number(c.sessions_revoked) >= 1, JSON.stringify(c));
  assert.equal(await introspectAt(S.a, tok.access_token), false);
  assert.equal(await introspectAt(S.b, tok.access_token), false);

  tok = await signIn();
  const t = await operator(S.b, '/incident/revoke-tenant/acme');
  assert.ok(t.tokens >= 2 && t.grants >= 1 && t.sessions >= 1, JSON.stringify(t));
  assert.equal(await introspectAt(S.a, tok.access_token), false);

  tok = await signIn();
  const k = await operator(S.a, `/incident/revoke-client/${encodeURIComponent(S.clientId)}`);
  assert.equal(k.grants, 1, JSON.stringify(k));
  assert.equal(await introspectAt(S.b, tok.access_token), false);
  assert.equal((await refreshAt(S.b, tok.refresh_token)).json.error, 'invalid_grant');
});

step('disabling a connection at one node cuts off its tokens at the other', async () => {
  const tok = await signIn();
  await cli(S.gh, ['connection', 'disable', '--tenant', 'acme', '--id', S.connection]);
  assert.equal(await introspectAt(S.b, tok.access_token), false);
  assert.equal((await refreshAt(S.a, tok.refresh_token)).json.error, 'invalid_grant');
  await cli(S.gh, ['connection', 'enable', '--tenant', 'acme', '--id', S.connection]);
  assert.equal(await introspectAt(S.b, tok.access_token), false, 'enabling again restores nothing');
});
