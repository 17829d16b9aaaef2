// IdP presets end to end: Entra ID (tid pinning, tid:oid keys, multi-tenant issuer refusal),
// Google Workspace (hd enforcement) and "email never links accounts", against oidc-provider
// instances shaped like those IdPs. Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used:
// this file creates and drops its own database). Run: node --test tests/interop/presets.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from './pki.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { startPresetIdp, startStaticJson } from './idp-preset.mjs';
import { freePort, psql, sqlQuote as q, createDatabase, registerPublicClient, signIn, describeEnd } from './presets-flow.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 180_000 };
const SCOPE = 'crm:customers:read';
const REFUSED = 'This account cannot sign in here';
const cleanups = [];
const S = {};
let failed = false;

const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const sql = (query) => psql(S.db.url, query);

/** Run the CLI and keep exit code, stdout and stderr apart (for the refusal tests). */
const runCli = (args, input = '') => new Promise((resolve, reject) => {
  const child = spawn(S.gh.bin, args, { env: S.gh.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  child.on('error', reject);
  child.on('close', (code) => {
    appendFileSync(join(S.runDir, 'cli.log'), `$ gatehouse ${args.join(' ')}\n[exit ${code}]\n--- stdout\n${stdout}--- stderr\n${stderr}\n`);
    resolve({ code, stdout, stderr });
  });
  child.stdin.end(input);
});

/** An IdP for one connection: starts it, adds the connection, points the IdP client at Gatehouse. */
async function connect({ tenant, preset = 'generic', extraArgs = [], path, accounts, defaultClaims }) {
  const secret = randomBytes(24).toString('base64url');
  const idp = await startPresetIdp({ ...S.pki, clientSecret: secret, path, accounts, defaultClaims });
  cleanups.push(() => idp.close());
  const conn = await cli(S.gh, ['connection', 'add-oidc', '--tenant', tenant, '--preset', preset, '--issuer', idp.issuer,
    '--client-id', 'gatehouse', '--client-secret-file', '-', ...extraArgs], secret);
  assert.equal(conn.preset, preset, `connection add-oidc prints preset: ${JSON.stringify(conn)}`);
  assert.equal(conn.issuer, idp.issuer, 'connection issuer is the discovered one');
  assert.equal(conn.redirect_uri, `${S.base}/federation/oidc/${conn.connection_id}/callback`);
  idp.setRedirectUris([conn.redirect_uri]);
  return { idp, conn };
}

async function tenantWithGrant(slug, domain) {
  const t = await cli(S.gh, ['tenant', 'create', '--slug', slug, '--name', `${slug} Inc`, '--domain', domain]);
  await cli(S.gh, ['grant', 'add', '--tenant', slug, '--resource', S.resource, '--scopes', SCOPE]);
  return t.tenant_id;
}

const flow = (email, login) => signIn({ base: S.base, ca: S.pki.ca, clientId: S.clientId, redirectUri: S.redirectUri, resource: S.resource, scope: SCOPE, email, login });

function assertSignedIn(r, who) {
  assert.ok(r.end.params?.code, `${who}: expected a code at the client redirect, ${describeEnd(r.end)}`);
  assert.equal(r.tokenStatus, 200, `${who}: token response ${JSON.stringify(r.token)}`);
  assert.ok(r.token.access_token, `${who}: access_token`);
  assert.match(r.token.scope, /(^| )crm:customers:read( |$)/, `${who}: granted scope`);
}

function assertRefused(r, who) {
  assert.equal(r.end.params, undefined, `${who}: must not reach the client, ${describeEnd(r.end)}`);
  assert.equal(r.end.status, 403, `${who}: expected the 403 refusal page, ${describeEnd(r.end)}`);
  assert.match(r.end.url, /\/federation\/oidc\/[^/]+\/callback/, `${who}: the refusal comes from the upstream callback`);
  assert.ok(r.end.text.includes(REFUSED), `${who}: page says "${REFUSED}": ${r.end.text}`);
}

/** details of audit rows of `action` for a tenant, oldest first, parsed. */
const auditDetails = (tenantId, action) => sql(
  `SELECT details FROM audit_events WHERE tenant_id = ${q(tenantId)} AND action = ${q(action)} ORDER BY id`,
).split('\n').filter(Boolean).map((l) => JSON.parse(l));

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin, 'GATEHOUSE_BIN must point at the gatehouse binary');
    assert.ok(DATABASE_URL, 'DATABASE_URL must name a PostgreSQL server (a database of its own is created)');
    S.runDir = join(HERE, '.run', `presets-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-presets-'));
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
display_name = "Presets CRM"
[[scopes]]
name = "${SCOPE}"
description = "Read customers"
tier = "routine"
[[tools]]
name = "list_customers"
scopes = ["${SCOPE}"]
`);
    assert.equal((await cli(S.gh, ['resource', 'register', '--file', toml])).resource, S.resource);
    S.node = await startNode(S.gh, 'presets-node', `127.0.0.1:${port}`);
    cleanups.push(() => S.node.stop());
    S.redirectUri = `http://127.0.0.1:${await freePort()}/cb`; // nothing listens there
    S.clientId = await registerPublicClient(S.base, S.redirectUri);
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const dump = [`logs: ${S.runDir}`, `database: ${S.db?.name} (dropped below)`, tail(join(S.runDir, 'presets-node.log'), 80), tail(join(S.runDir, 'cli.log'), 60)].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('Entra: tid-pinned connection keys the user by tid:oid', async () => {
  const TID = randomUUID();
  const OID = randomUUID();
  S.entra = { TID, OTHER: randomUUID(), OTHER_OID: randomUUID() };
  const tenantId = await tenantWithGrant('contoso', 'contoso.test');
  const { conn } = await connect({
    tenant: 'contoso', preset: 'entra', extraArgs: ['--entra-tenant-id', TID], path: `/${TID}/v2.0`,
    accounts: {
      'alice': { tid: TID, oid: OID, email: 'alice@contoso.test', email_verified: true, name: 'Alice' },
      'mallory': { tid: S.entra.OTHER, oid: S.entra.OTHER_OID, email: 'alice@contoso.test', email_verified: true, name: 'Mallory' },
      'no-oid': { tid: TID, email: 'alice@contoso.test', email_verified: true, name: 'No Oid' },
    },
  });
  assert.ok(conn.token_configuration && conn.supported_account_types, `entra preset prints its setup lines: ${JSON.stringify(conn)}`);
  Object.assign(S.entra, { tenantId, conn });

  const r = await flow('alice@contoso.test', 'alice');
  assertSignedIn(r, 'Entra user of the pinned directory');
  const rows = sql(`SELECT subject, connection_id FROM users WHERE tenant_id = ${q(tenantId)}`);
  assert.equal(rows, `${TID}:${OID}|${conn.connection_id}`, 'users.subject is <tid>:<oid> on this connection (not sub, not email)');
  const ok = auditDetails(tenantId, 'user.signed_in');
  assert.equal(ok.length, 1, 'one user.signed_in audit row');
  assert.equal(ok[0].connection_id, conn.connection_id);
});

step('Entra: a token from another directory (tid), or without oid, is refused and audited', async () => {
  assert.ok(S.entra?.conn, 'needs the Entra connection of the previous test');
  const { tenantId, OTHER, OTHER_OID, TID } = S.entra;
  const r = await flow('alice@contoso.test', 'mallory');
  assertRefused(r, `token with tid=${OTHER}`);
  const failedRows = auditDetails(tenantId, 'user.sign_in_failed');
  assert.equal(failedRows.length, 1, `one user.sign_in_failed audit row: ${JSON.stringify(failedRows)}`);
  const reason = failedRows[0].reason ?? '';
  assert.match(reason, /^OIDC0008: /, `reason is a claims refusal: ${reason}`);
  assert.ok(reason.includes(OTHER), `reason names the other tid ${OTHER}: ${reason}`);
  assert.equal(failedRows[0].connection_id, S.entra.conn.connection_id);
  assert.equal(sql(`SELECT count(*) FROM users WHERE subject LIKE ${q(`%${OTHER_OID}%`)} OR subject LIKE ${q(`${OTHER}:%`)}`), '0', 'no user for the foreign directory');
  assert.equal(sql(`SELECT count(*) FROM users WHERE tenant_id = ${q(tenantId)}`), '1', `still only the user of ${TID} (same email did not matter)`);

  assertRefused(await flow('alice@contoso.test', 'no-oid'), `token of ${TID} without oid`);
  const noOid = auditDetails(tenantId, 'user.sign_in_failed')[1]?.reason ?? '';
  assert.ok(noOid.startsWith('OIDC0008: ') && noOid.includes('oid'), `second refusal is about the missing oid: ${noOid}`);
  assert.equal(sql(`SELECT count(*) FROM users WHERE tenant_id = ${q(tenantId)}`), '1', 'no user without an oid');
});

step('Entra: multi-tenant issuers are refused by the CLI', async () => {
  await cli(S.gh, ['tenant', 'create', '--slug', 'tailspin', '--name', 'Tailspin', '--domain', 'tailspin.test']);
  const template = 'https://login.microsoftonline.com/{tenantid}/v2.0';
  const docs = await startStaticJson({
    ...S.pki,
    docs: {
      '/.well-known/openid-configuration': {
        issuer: template,
        authorization_endpoint: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
        token_endpoint: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
        jwks_uri: 'https://login.microsoftonline.com/common/discovery/v2.0/keys',
        userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid', 'oid', 'email'],
      },
    },
  });
  cleanups.push(() => docs.close());
  const TID = randomUUID();
  const before = sql('SELECT count(*) FROM connections');
  const secret = 'not-a-real-secret';

  for (const extra of [[], ['--preset', 'entra', '--entra-tenant-id', TID]]) {
    const r = await runCli(['connection', 'add-oidc', '--tenant', 'tailspin', '--issuer', docs.origin, '--client-id', 'x', '--client-secret-file', '-', ...extra], secret);
    const what = `add-oidc ${extra.join(' ') || '(generic)'} with a {tenantid} discovery document`;
    assert.notEqual(r.code, 0, `${what} must fail: ${r.stdout}`);
    assert.ok(r.stderr.includes('tenant-specific'), `${what}: stderr mentions "tenant-specific": ${r.stderr}`);
    assert.ok(!r.stdout.includes('connection_id'), `${what}: no connection printed`);
  }
  assert.ok(docs.hits.includes('/.well-known/openid-configuration'), `the CLI did fetch the discovery document (hits: ${docs.hits})`);

  for (const issuer of ['https://login.microsoftonline.com/common/v2.0', 'https://login.microsoftonline.com/organizations/v2.0']) {
    const r = await runCli(['connection', 'add-oidc', '--tenant', 'tailspin', '--preset', 'entra', '--entra-tenant-id', TID,
      '--issuer', issuer, '--client-id', 'x', '--client-secret-file', '-'], secret);
    assert.notEqual(r.code, 0, `entra preset with ${issuer} must fail: ${r.stdout}`);
    assert.ok(r.stderr.includes(`https://login.microsoftonline.com/${TID}/v2.0`), `stderr names the tenant-specific issuer for ${TID}: ${r.stderr}`);
  }
  assert.equal(sql('SELECT count(*) FROM connections'), before, 'no connection was stored by the refused commands');
});

step('Google: hd must be a verified domain of the tenant', async () => {
  const tenantId = await tenantWithGrant('fabrikam', 'fabrikam.test');
  const { idp, conn } = await connect({
    tenant: 'fabrikam', preset: 'google',
    accounts: {
      'g-fab': { hd: 'fabrikam.test', email: 'carol@fabrikam.test', email_verified: true, name: 'Carol' },
      'g-evil': { hd: 'evil.test', email: 'eve@evil.test', email_verified: true, name: 'Eve' },
      'g-nohd': { email: 'carol.personal@gmail.test', email_verified: true, name: 'Carol (consumer)' },
    },
  });
  assert.ok(conn.application_type, `google preset prints application_type: ${JSON.stringify(conn)}`);

  const ok = await flow('carol@fabrikam.test', 'g-fab');
  assertSignedIn(ok, 'Workspace account with hd=fabrikam.test');
  const auth = idp.requests.find((l) => l.startsWith('GET /auth?'));
  assert.equal(new URL(auth, idp.origin).searchParams.get('hd'), 'fabrikam.test', `the upstream request carries the hd hint: ${auth}`);
  assert.equal(sql(`SELECT subject FROM users WHERE tenant_id = ${q(tenantId)}`), 'g-fab', 'Google users are keyed by sub');

  assertRefused(await flow('carol@fabrikam.test', 'g-evil'), 'hd=evil.test');
  assertRefused(await flow('carol@fabrikam.test', 'g-nohd'), 'no hd claim');
  const reasons = auditDetails(tenantId, 'user.sign_in_failed').map((d) => d.reason ?? '');
  assert.equal(reasons.length, 2, `two user.sign_in_failed rows: ${JSON.stringify(reasons)}`);
  assert.ok(reasons[0].startsWith('OIDC0008: ') && reasons[0].includes('evil.test'), `first refusal names evil.test: ${reasons[0]}`);
  assert.ok(reasons[1].startsWith('OIDC0008: ') && reasons[1].includes('no hd'), `second refusal says no hd: ${reasons[1]}`);
  assert.equal(sql(`SELECT count(*) FROM users WHERE tenant_id = ${q(tenantId)}`), '1', 'no users for the refused accounts');
});

step('an email-matching account from another connection is not linked', async () => {
  // With two enabled connections the login page offers a choice; here the operator disables
  // the first one after bob's first sign-in, so the second sign-in goes through connection 2.
  const tenantId = await tenantWithGrant('northwind', 'northwind.test');
  const bob = { email: 'bob@northwind.test', email_verified: true, name: 'Bob' };
  const c1 = await connect({ tenant: 'northwind', accounts: { 'bob-at-idp-1': bob } });
  const c2 = await connect({ tenant: 'northwind', accounts: { 'bob-at-idp-2': bob } });

  assertSignedIn(await flow('bob@northwind.test', 'bob-at-idp-1'), 'bob via connection 1');
  assert.equal(sql(`SELECT connection_id || ' ' || subject FROM users WHERE tenant_id = ${q(tenantId)}`),
    `${c1.conn.connection_id} bob-at-idp-1`, 'first sign-in went through connection 1');

  const off = await cli(S.gh, ['connection', 'disable', '--tenant', 'northwind', '--id', c1.conn.connection_id]);
  assert.equal(off.status, 'disabled');
  assertSignedIn(await flow('bob@northwind.test', 'bob-at-idp-2'), 'bob via connection 2');
  const users = sql(`SELECT id, connection_id, subject, email_lower FROM users WHERE tenant_id = ${q(tenantId)} ORDER BY created_at`)
    .split('\n').map((l) => l.split('|'));
  assert.equal(users.length, 2, `a second user was created, not linked by email: ${JSON.stringify(users)}`);
  assert.deepEqual(users.map((u) => [u[1], u[2], u[3]]), [
    [c1.conn.connection_id, 'bob-at-idp-1', 'bob@northwind.test'],
    [c2.conn.connection_id, 'bob-at-idp-2', 'bob@northwind.test'],
  ]);
  const signedIn = sql(`SELECT user_id, details FROM audit_events WHERE tenant_id = ${q(tenantId)} AND action = 'user.signed_in' ORDER BY id`)
    .split('\n').map((l) => { const i = l.indexOf('|'); return { user: l.slice(0, i), details: JSON.parse(l.slice(i + 1)) }; });
  assert.deepEqual(signedIn.map((e) => [e.user, e.details.connection_id, e.details.jit_created]), [
    [users[0][0], c1.conn.connection_id, true],
    [users[1][0], c2.conn.connection_id, true],
  ], 'each connection signed in (and just-in-time created) its own user');
});
