// SAML 2.0 federation end to end against a real SAML IdP (pysaml2's saml2.server.Server, in
// saml_idp.py) shaped like Entra ID, Okta and Google Workspace: SP-initiated sign-in over
// HTTP-Redirect (AuthnRequest) and HTTP-POST (Response) ending in an OAuth code and token, the
// user key of each preset, and a replayed Response refused and audited.
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates and drops its own
// database); optional SAML_IDP_PYTHON (else tests/interop/.venv is created from
// requirements-saml.txt). Needs xmlsec1 on PATH. Run: node --test tests/interop/saml.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, startNode, tail } from './gatehouse.mjs';
import { Browser, pageText } from './browser.mjs';
import { ensureSamlPython, startSamlIdp } from './saml-idp.mjs';
import { freePort, psql, sqlQuote as q, createDatabase, registerPublicClient, signIn, describeEnd } from './presets-flow.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SCOPE = 'crm:customers:read';
const EMAIL = 'alice@acme.test';
const OID = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const REQUEST_ID = /^_[0-9a-f]{32}$/;

const BIN = process.env.GATEHOUSE_BIN;

const TIMEOUT = { timeout: 180_000 };
const cleanups = [];
const S = { conns: [] };
let failed = false;

const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const sql = (query) => psql(S.db.url, query);
const auditDetails = (tenantId, action) => sql(
  `SELECT details FROM audit_events WHERE tenant_id = ${q(tenantId)} AND action = ${q(action)} ORDER BY id`,
).split('\n').filter(Boolean).map((l) => JSON.parse(l));

before(async () => {
  try {
    const { DATABASE_URL } = process.env;
    assert.ok(BIN, 'GATEHOUSE_BIN must point at the gatehouse binary');
    assert.ok(DATABASE_URL, 'DATABASE_URL must name a PostgreSQL server (a database of its own is created)');
    S.runDir = join(HERE, '.run', `saml-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    S.python = ensureSamlPython((l) => appendFileSync(join(S.runDir, 'venv.log'), `${l}\n`));
    S.tmp = mkdtempSync(join(tmpdir(), 'gatehouse-saml-'));
    cleanups.push(() => rmSync(S.tmp, { recursive: true, force: true }));
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());

    const port = await freePort();
    S.base = `http://127.0.0.1:${port}`;
    S.gh = {
      bin: BIN, logDir: S.runDir,
      env: {
        ...process.env, DATABASE_URL: S.db.url,
        GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'),
        GATEHOUSE_ISSUER: S.base,
        RUST_LOG: process.env.RUST_LOG ?? 'info',
      },
    };
    await cli(S.gh, ['migrate']);
    S.resource = `http://127.0.0.1:${await freePort()}/mcp`; // never contacted
    const toml = join(S.runDir, 'resource.toml');
    writeFileSync(toml, `uri = "${S.resource}"
display_name = "SAML CRM"
[[scopes]]
name = "${SCOPE}"
description = "Read customers"
tier = "routine"
[[scopes]]
name = "crm:billing:write"
description = "Change billing"
tier = "critical"
[[tools]]
name = "list_customers"
scopes = ["${SCOPE}"]
`);
    assert.equal((await cli(S.gh, ['resource', 'register', '--file', toml])).resource, S.resource);
    S.tenantId = (await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Inc', '--domain', 'acme.test'])).tenant_id;
    assert.ok(S.tenantId, 'tenant create prints tenant_id');
    await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.resource, '--scopes', SCOPE]);
    await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.resource, '--scopes', 'crm:billing:write', '--allow-critical']);
    S.node = await startNode(S.gh, 'saml-node', `127.0.0.1:${port}`);
    cleanups.push(() => S.node.stop());
    S.redirectUri = `http://127.0.0.1:${await freePort()}/cb`; // nothing listens there
    S.clientId = await registerPublicClient(S.base, S.redirectUri);
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const idpLogs = S.conns.map((c) => tail(c.idpLog, 40));
    const dump = [`logs: ${S.runDir}`, `database: ${S.db?.name} (dropped below)`, tail(join(S.runDir, 'saml-node.log'), 80),
      tail(join(S.runDir, 'cli.log'), 60), ...idpLogs].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

/**
 * One IdP per preset, the only enabled connection of tenant acme (earlier ones are disabled so
 * that the login page goes straight to it): start the IdP, `connection add-saml` with its
 * metadata, and hand Gatehouse's SP metadata (fetched from metadata_url) back to the IdP.
 */
async function connect(preset) {
  for (const c of S.conns.filter((c) => c.enabled)) {
    await cli(S.gh, ['connection', 'disable', '--tenant', 'acme', '--id', c.conn.connection_id]);
    c.enabled = false;
  }
  const idpLog = join(S.runDir, `saml-idp-${preset}.log`);
  const idp = await startSamlIdp({ python: S.python, port: await freePort(), dir: join(S.tmp, preset), preset, logFile: idpLog });
  cleanups.push(() => idp.close());
  const entry = { preset, idp, idpLog, enabled: false };
  S.conns.push(entry);

  // Google sends the (changeable) primary email as NameID: the admin maps an immutable attribute
  // (here Employee ID) and names it as the key; email is never the key.
  const keyArgs = preset === 'google' ? ['--key-attribute', 'employeeId'] : [];
  const conn = await cli(S.gh, ['connection', 'add-saml', '--tenant', 'acme', '--metadata-file', idp.metadataFile,
    '--preset', preset, '--name', `Acme ${preset} (SAML)`, ...keyArgs]);
  entry.conn = conn;
  entry.enabled = true;
  for (const k of ['connection_id', 'sp_entity_id', 'acs_url', 'metadata_url']) {
    assert.ok(conn[k], `connection add-saml prints ${k}: ${JSON.stringify(conn)}`);
  }
  const own = `${S.base}/federation/saml/${conn.connection_id}/`;
  assert.ok(conn.acs_url.startsWith(own), `acs_url ${conn.acs_url} is under ${own}`);
  assert.ok(conn.metadata_url.startsWith(own), `metadata_url ${conn.metadata_url} is under ${own}`);

  const res = await fetch(conn.metadata_url);
  const spMetadata = await res.text();
  assert.equal(res.status, 200, `GET ${conn.metadata_url}: ${spMetadata}`);
  assert.ok(spMetadata.includes(`entityID="${conn.sp_entity_id}"`), `SP metadata names entityID ${conn.sp_entity_id}: ${spMetadata}`);
  assert.ok(spMetadata.includes(conn.acs_url), `SP metadata names the ACS ${conn.acs_url}`);
  const loaded = await idp.setSpMetadata(spMetadata);
  assert.deepEqual(loaded.loaded, [conn.sp_entity_id], 'pysaml2 loaded the SP metadata');
  return entry;
}

/** A sign-in through entry's IdP that must end with a token; checks what the IdP saw. */
async function signInVia(entry) {
  const before = (await entry.idp.requests()).length;
  const r = await signIn({ base: S.base, clientId: S.clientId, redirectUri: S.redirectUri, resource: S.resource, scope: SCOPE, email: EMAIL, login: 'alice' });
  const who = `${entry.preset} sign-in`;
  if (!r.end.params?.code) {
    const errors = await entry.idp.errors().catch((e) => e.message);
    assert.fail(`${who}: expected a code at the client redirect, ${describeEnd(r.end)}\nIdP errors: ${JSON.stringify(errors)}`);
  }
  assert.equal(r.tokenStatus, 200, `${who}: token response ${JSON.stringify(r.token)}`);
  assert.ok(r.token.access_token, `${who}: access_token`);
  assert.match(r.token.scope, /(^| )crm:customers:read( |$)/, `${who}: granted scope`);

  const log = r.end.log.join('\n');
  assert.ok(r.end.log.some((l) => l.startsWith(`GET ${entry.idp.ssoUrl}?SAMLRequest=`) && l.includes('RelayState=')), `${who}: browser went to the IdP SSO URL with SAMLRequest + RelayState:\n${log}`);
  assert.ok(r.end.log.some((l) => l.startsWith(`POST ${entry.conn.acs_url} -> 303`)), `${who}: the auto-post form reached the ACS, answered 303:\n${log}`);
  assert.ok(r.end.log.some((l) => l.includes(`/federation/saml/${entry.conn.connection_id}/complete?h=`)), `${who}: ACS redirected to .../complete?h=:\n${log}`);

  const reqs = (await entry.idp.requests()).slice(before);
  assert.equal(reqs.length, 1, `${who}: the IdP saw exactly one AuthnRequest: ${JSON.stringify(reqs.map((x) => x.id))}`);
  const [ar] = reqs;
  assert.match(ar.id, REQUEST_ID, `${who}: AuthnRequest ID is _ + 32 hex`);
  assert.equal(ar.issuer, entry.conn.sp_entity_id, `${who}: AuthnRequest Issuer is the SP entityID`);
  assert.equal(ar.acs_url, entry.conn.acs_url, `${who}: AssertionConsumerServiceURL`);
  assert.equal(ar.destination, entry.idp.ssoUrl, `${who}: AuthnRequest Destination is the IdP SSO URL`);
  assert.equal(ar.force_authn_bool, false, `${who}: no ForceAuthn on a first sign-in (got ${ar.force_authn})`);
  assert.ok(ar.relay_state && !/^https?:/i.test(ar.relay_state), `${who}: RelayState is an opaque handle, not a URL: ${ar.relay_state}`);

  const last = await entry.idp.lastResponse();
  assert.equal(last.in_response_to, ar.id, `${who}: the IdP answered that request`);
  return { r, request: ar, response: last };
}

function userRow(connectionId) {
  return sql(`SELECT subject FROM users WHERE tenant_id = ${q(S.tenantId)} AND connection_id = ${q(connectionId)}`);
}

function assertSignedInAudit(connectionId) {
  const rows = auditDetails(S.tenantId, 'user.signed_in').filter((d) => d.connection_id === connectionId);
  assert.equal(rows.length, 1, `one user.signed_in audit row for connection ${connectionId}: ${JSON.stringify(rows)}`);
}

step('Entra ID (pysaml2): sign-in keyed by the objectidentifier attribute', async () => {
  const entry = await connect('entra');
  const user = await entry.idp.user();
  const oid = user.attributes[OID][0];
  assert.match(oid, /^[0-9a-f-]{36}$/);
  await signInVia(entry);
  // The Entra user key is tenantid:objectidentifier, as for the Entra OIDC preset (never the
  // opaque persistent NameID, never the email).
  const tid = user.attributes['http://schemas.microsoft.com/identity/claims/tenantid'][0];
  const subject = userRow(entry.conn.connection_id);
  assert.equal(subject, `${tid}:${oid}`, `users.subject is tenantid:objectidentifier (got ${subject})`);
  assertSignedInAudit(entry.conn.connection_id);
  S.last = entry;
});

step('Okta (pysaml2): sign-in keyed by the NameID (00u… id, format unspecified)', async () => {
  const entry = await connect('okta');
  const user = await entry.idp.user();
  assert.match(user.name_id, /^00u/);
  await signInVia(entry);
  assert.equal(userRow(entry.conn.connection_id), user.name_id, 'users.subject is the NameID');
  assertSignedInAudit(entry.conn.connection_id);
  S.last = entry;
});

step('Google Workspace (pysaml2): emailAddress NameID, keyed by the mapped Employee ID attribute', async () => {
  const entry = await connect('google');
  const user = await entry.idp.user();
  assert.equal(user.name_id, EMAIL);
  await signInVia(entry);
  assert.equal(userRow(entry.conn.connection_id), user.attributes.employeeId[0], 'users.subject is the employeeId attribute, not the email');
  assert.equal(sql(`SELECT email FROM users WHERE connection_id = ${q(entry.conn.connection_id)}`), EMAIL, 'the emailAddress NameID still gives the email');
  assertSignedInAudit(entry.conn.connection_id);
  S.last = entry;
});

step('step-up over SAML: a critical scope sends ForceAuthn and gets a 15-minute token', async () => {
  const entry = S.last;
  assert.ok(entry && entry.enabled, 'needs the last preset connection enabled');
  const before = (await entry.idp.requests()).length;
  const r = await signIn({ base: S.base, clientId: S.clientId, redirectUri: S.redirectUri, resource: S.resource,
    scope: `${SCOPE} crm:billing:write`, email: EMAIL, login: 'alice' });
  assert.equal(r.tokenStatus, 200, `token response ${JSON.stringify(r.token)}`);
  assert.match(r.token.scope, /crm:billing:write/, 'the critical scope was issued after a fresh sign-in');
  assert.equal(r.token.expires_in, 900, 'critical tier: 15 minutes');
  const reqs = (await entry.idp.requests()).slice(before);
  assert.equal(reqs.length, 1);
  assert.equal(reqs[0].force_authn_bool, true, `ForceAuthn="true" was sent (got ${reqs[0].force_authn})`);
});

step('a replayed SAMLResponse is refused (4xx HTML page) and audited as user.sign_in_failed', async () => {
  assert.ok(S.last, 'needs a successful SAML sign-in from an earlier test');
  const entry = S.last;
  if (!entry.enabled) { // a later preset failed after disabling it: make it the only enabled one again
    for (const c of S.conns.filter((c) => c.enabled)) {
      await cli(S.gh, ['connection', 'disable', '--tenant', 'acme', '--id', c.conn.connection_id]);
      c.enabled = false;
    }
    await cli(S.gh, ['connection', 'enable', '--tenant', 'acme', '--id', entry.conn.connection_id]);
    entry.enabled = true;
  }
  // A fresh successful sign-in whose POSTed SAMLResponse + RelayState are then sent again.
  const { response } = await signInVia(entry);
  assert.equal(response.acs, entry.conn.acs_url);
  const failedBefore = auditDetails(S.tenantId, 'user.sign_in_failed').length;
  const usersBefore = sql(`SELECT count(*) FROM users WHERE tenant_id = ${q(S.tenantId)}`);

  const attacker = new Browser({});
  const res = await attacker.go(response.acs, {
    method: 'POST',
    body: new URLSearchParams({ SAMLResponse: response.SAMLResponse, RelayState: response.RelayState }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: entry.idp.origin },
  });
  assert.ok(res.status >= 400 && res.status < 500, `replay answered HTTP ${res.status} (want 4xx): ${res.headers.location ?? ''} ${pageText(res.body)}`);
  assert.match(String(res.headers['content-type']), /^text\/html/, 'the refusal is an HTML page');
  assert.ok(!res.headers.location, 'no redirect onwards');

  const failedRows = auditDetails(S.tenantId, 'user.sign_in_failed');
  assert.equal(failedRows.length, failedBefore + 1, `one new user.sign_in_failed audit row: ${JSON.stringify(failedRows)}`);
  const row = failedRows.at(-1);
  if ('connection_id' in row) assert.equal(row.connection_id, entry.conn.connection_id, 'the audit row names the connection');
  assert.equal(sql(`SELECT count(*) FROM users WHERE tenant_id = ${q(S.tenantId)}`), usersBefore, 'no user was created by the replay');
  console.log(`# replay refused: HTTP ${res.status}, audit reason: ${row.reason ?? JSON.stringify(row)}`);
});
