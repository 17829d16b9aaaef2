// SCIM 2.0 end to end: the scim2-tester conformance harness against a live node, and the
// lifecycle a directory drives over SCIM (deactivate, hard delete, scim-only provisioning) seen
// by a second node and by real sign-ins through an npm oidc-provider IdP (generic preset, users
// linked to SCIM users by externalId = the IdP's `sub`).
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates and drops its own
// database, shared by its two nodes); optional SCIM_TESTER_PYTHON (else tests/interop/.venv-scim
// is created from scim/requirements.txt; needs python3 with venv and pip access on first run).
// Run: node --test tests/interop/scim.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from './pki.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { startPresetIdp } from './idp-preset.mjs';
import { freePort, psql, sqlQuote as q, createDatabase, registerPublicClient, signIn, describeEnd } from './presets-flow.mjs';
import { ensureScimTesterPython, runScimTester, scimClient, USER_SCHEMA, PATCH_OP } from './scim-helpers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 180_000 };
const SCOPE = 'crm:customers:read';
const REFUSED = 'Access is not allowed';
const cleanups = [];
const S = {};
let failed = false;

const step = (name, fn, opts = TIMEOUT) => test(name, opts, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const sql = (query) => psql(S.db.url, query);
const postForm = (url, params, headers = {}) => fetch(url, {
  method: 'POST', body: new URLSearchParams(params),
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
});

/** RFC 7662 introspection at node B with the resource server's credentials. */
async function introspectAtB(token) {
  const basic = Buffer.from(`${S.introspection.id}:${S.introspection.secret}`).toString('base64');
  const res = await postForm(`${S.nodeB.base}/oauth/introspect`, { token }, { authorization: `Basic ${basic}` });
  const json = await res.json().catch(() => null);
  assert.equal(res.status, 200, `introspection at node B: ${JSON.stringify(json)}`);
  return json;
}

/** A refresh_token grant at node B: { status, json }. */
async function refreshAtB(refreshToken) {
  const res = await postForm(`${S.nodeB.base}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: S.clientId });
  return { status: res.status, json: await res.json().catch(() => null) };
}

/**
 * A tenant with its own oidc-provider IdP (generic preset; `accounts` maps login name = `sub`
 * to claims), the resource granted to every member, and a SCIM token. Returns SCIM clients for
 * node A and node B, and a sign-in function.
 */
async function tenantWithIdp({ slug, domain, accounts }) {
  const tenant = await cli(S.gh, ['tenant', 'create', '--slug', slug, '--name', `${slug} Inc`, '--domain', domain]);
  assert.ok(tenant.tenant_id, `tenant create prints tenant_id: ${JSON.stringify(tenant)}`);
  await cli(S.gh, ['grant', 'add', '--tenant', slug, '--resource', S.resource, '--scopes', SCOPE]);

  const secret = randomBytes(24).toString('base64url');
  const idp = await startPresetIdp({ ...S.pki, clientSecret: secret, accounts });
  cleanups.push(() => idp.close());
  const conn = await cli(S.gh, ['connection', 'add-oidc', '--tenant', slug, '--preset', 'generic', '--issuer', idp.issuer,
    '--client-id', 'gatehouse', '--client-secret-file', '-'], secret);
  assert.equal(conn.redirect_uri, `${S.nodeA.base}/federation/oidc/${conn.connection_id}/callback`);
  idp.setRedirectUris([conn.redirect_uri]);

  const tok = await cli(S.gh, ['scim-token', 'create', '--tenant', slug, '--name', `${slug} directory`]);
  assert.match(tok.token ?? '', /^ghscim_/, `scim-token create prints token: ghscim_…: ${JSON.stringify(Object.keys(tok))}`);
  const logFile = join(S.runDir, 'scim-http.log');
  return {
    slug, tenantId: tenant.tenant_id, idp, conn,
    scimA: scimClient({ base: S.nodeA.base, slug, token: tok.token, logFile }),
    scimB: scimClient({ base: S.nodeB.base, slug, token: tok.token, logFile }),
    /** Sign-in with a fresh browser: Gatehouse email `email`, IdP login `sub`. */
    signIn: (sub) => signIn({ base: S.nodeA.base, ca: S.pki.ca, clientId: S.clientId, redirectUri: S.redirectUri,
      resource: S.resource, scope: SCOPE, email: accounts[sub].email, login: sub }),
  };
}

/** POST /Users at node A for the IdP account `sub` (externalId = sub); returns the SCIM id. */
async function provision(t, sub, email) {
  const r = await t.scimA('POST', '/Users', {
    schemas: [USER_SCHEMA], userName: email, externalId: sub, active: true,
    emails: [{ value: email, type: 'work', primary: true }],
  });
  assert.equal(r.status, 201, `SCIM POST /Users for ${sub}: ${r.text}`);
  assert.ok(r.json?.id, `the created user has an id: ${r.text}`);
  assert.equal(r.json.externalId, sub);
  assert.equal(r.json.active, true);
  return r.json.id;
}

function assertSignedIn(r, who) {
  assert.ok(r.end.params?.code, `${who}: expected a code at the client redirect, ${describeEnd(r.end)}`);
  assert.equal(r.tokenStatus, 200, `${who}: token response ${JSON.stringify(r.token)}`);
  assert.ok(r.token.access_token, `${who}: access_token`);
  assert.ok(r.token.refresh_token, `${who}: refresh_token`);
}

/** The sign-in stopped on Gatehouse's upstream callback with the 403 refusal page saying `why`. */
function assertRefused(r, who, why) {
  assert.equal(r.end.params, undefined, `${who}: must not reach the client, ${describeEnd(r.end)}`);
  assert.equal(r.end.status, 403, `${who}: expected the 403 refusal page, ${describeEnd(r.end)}`);
  assert.match(r.end.url, /\/federation\/oidc\/[^/]+\/callback/, `${who}: the refusal comes from the upstream callback`);
  assert.ok(r.end.text.includes(REFUSED), `${who}: page says "${REFUSED}": ${r.end.text}`);
  assert.match(r.end.text, why, `${who}: page gives the reason: ${r.end.text}`);
}

const identities = (t, sub) => sql(`SELECT count(*) FROM users WHERE tenant_id = ${q(t.tenantId)} AND subject = ${q(sub)}`);

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin, 'GATEHOUSE_BIN must point at the gatehouse binary');
    assert.ok(DATABASE_URL, 'DATABASE_URL must name a PostgreSQL server (a database of its own is created)');
    S.runDir = join(HERE, '.run', `scim-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-scim-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());

    const [portA, portB] = [await freePort(), await freePort()];
    S.gh = {
      bin, logDir: S.runDir,
      env: {
        ...process.env, DATABASE_URL: S.db.url,
        GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'),
        GATEHOUSE_ISSUER: `http://127.0.0.1:${portA}`, // both nodes serve the one issuer
        GATEHOUSE_FETCH_CA_FILE: S.pki.caFile,
        GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
        RUST_LOG: process.env.RUST_LOG ?? 'info',
      },
    };
    await cli(S.gh, ['migrate']);
    S.resource = `http://127.0.0.1:${await freePort()}/mcp`; // never contacted
    const toml = join(S.runDir, 'resource.toml');
    writeFileSync(toml, `uri = "${S.resource}"
display_name = "SCIM CRM"
[[scopes]]
name = "${SCOPE}"
description = "Read customers"
tier = "routine"
[[tools]]
name = "list_customers"
scopes = ["${SCOPE}"]
`);
    const res = await cli(S.gh, ['resource', 'register', '--file', toml]);
    assert.equal(res.resource, S.resource);
    S.introspection = { id: res.introspection_client_id, secret: res.introspection_client_secret };

    const nodes = await Promise.allSettled([
      startNode(S.gh, 'node-a', `127.0.0.1:${portA}`),
      startNode(S.gh, 'node-b', `127.0.0.1:${portB}`),
    ]);
    for (const n of nodes) if (n.status === 'fulfilled') cleanups.push(() => n.value.stop());
    for (const n of nodes) if (n.status === 'rejected') throw n.reason;
    [S.nodeA, S.nodeB] = nodes.map((n) => n.value);
    S.redirectUri = `http://127.0.0.1:${await freePort()}/cb`; // nothing listens there
    S.clientId = await registerPublicClient(S.nodeA.base, S.redirectUri);
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const dump = [`logs: ${S.runDir}`, `database: ${S.db?.name} (dropped below)`,
      ...['node-a.log', 'node-b.log', 'cli.log'].map((f) => tail(join(S.runDir, f), 80)),
      tail(join(S.runDir, 'scim-http.log'), 60)].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('scim2-tester conformance harness passes against a live node', async (t) => {
  // First run: creating the venv and installing the pinned packages can take a minute or two.
  const python = await ensureScimTesterPython((l) => appendFileSync(join(S.runDir, 'venv-scim.log'), `${l}\n`));
  await cli(S.gh, ['tenant', 'create', '--slug', 'conformance', '--name', 'SCIM conformance', '--domain', 'conformance.test']);
  const { token } = await cli(S.gh, ['scim-token', 'create', '--tenant', 'conformance', '--name', 'scim2-tester']);
  assert.match(token ?? '', /^ghscim_/);
  const reportFile = join(S.runDir, 'scim2-tester-report.json');
  const r = await runScimTester({ python, url: `${S.nodeA.base}/scim/v2/conformance`, token, reportFile, logFile: join(S.runDir, 'scim2-tester.log') });
  t.diagnostic(`${r.summary?.line ?? 'no summary line'} in ${r.ms} ms; report: ${reportFile}`);
  if (r.code !== 0) console.error(`scim2-tester output:\n${r.out}`);
  assert.equal(r.code, 0, `run_scim2_tester.py exited ${r.code}; its output is above and in ${join(S.runDir, 'scim2-tester.log')}`);
  assert.ok(r.summary && r.summary.passed > 0 && r.summary.failed === 0, `summary: ${r.summary?.line}`);
}, { timeout: 900_000 });

step('deactivation over SCIM at node A revokes tokens at node B and blocks SSO', async () => {
  const ALICE = { sub: 'u-alice', email: 'alice@acme.test' };
  const t = await tenantWithIdp({
    slug: 'acme', domain: 'acme.test',
    accounts: { [ALICE.sub]: { email: ALICE.email, email_verified: true, name: 'Alice Example' } },
  });
  const id = await provision(t, ALICE.sub, ALICE.email);

  const first = await t.signIn(ALICE.sub);
  assertSignedIn(first, 'provisioned alice');
  const { access_token: accessToken, refresh_token: refreshToken } = first.token;
  assert.equal((await introspectAtB(accessToken)).active, true, 'before deactivation node B reports the access token active');

  const patch = await t.scimA('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
  assert.ok([200, 204].includes(patch.status), `PATCH active=false at node A: HTTP ${patch.status} ${patch.text}`);
  if (patch.status === 200) assert.equal(patch.json?.active, false, 'the PATCH response shows active: false');

  // Immediately, at the other node.
  const intro = await introspectAtB(accessToken);
  assert.equal(intro.active, false, `node B introspection after deactivation: ${JSON.stringify(intro)}`);
  const refresh = await refreshAtB(refreshToken);
  assert.equal(refresh.status, 400, `refresh at node B after deactivation: ${JSON.stringify(refresh.json)}`);
  assert.equal(refresh.json?.error, 'invalid_grant');
  const got = await t.scimB('GET', `/Users/${id}`);
  assert.equal(got.status, 200, `SCIM GET at node B: ${got.text}`);
  assert.equal(got.json.active, false, 'node B shows the SCIM user inactive');

  const again = await t.signIn(ALICE.sub);
  assertRefused(again, 'deactivated alice signing in again', /deactivated/);
  assert.equal(identities(t, ALICE.sub), '1', 'still one identity for alice');
});

step('hard delete over SCIM in a JIT tenant: 204, GET 404, SSO refused, no new user', async () => {
  const BOB = { sub: 'u-bob', email: 'bob@initech.test' };
  const t = await tenantWithIdp({
    slug: 'initech', domain: 'initech.test', // provisioning policy left at its default, jit
    accounts: { [BOB.sub]: { email: BOB.email, email_verified: true, name: 'Bob Example' } },
  });
  const id = await provision(t, BOB.sub, BOB.email);
  assertSignedIn(await t.signIn(BOB.sub), 'provisioned bob');
  assert.equal(identities(t, BOB.sub), '1', 'bob signed in once: one identity');

  const del = await t.scimA('DELETE', `/Users/${id}`);
  assert.equal(del.status, 204, `SCIM DELETE /Users/${id}: ${del.text}`);
  const gone = await t.scimB('GET', `/Users/${id}`);
  assert.equal(gone.status, 404, `SCIM GET of the deleted user at node B: ${gone.text}`);
  assert.equal(String(gone.json?.status), '404', `a SCIM error body: ${gone.text}`);

  const usersBefore = sql(`SELECT count(*) FROM users WHERE tenant_id = ${q(t.tenantId)}`);
  assertRefused(await t.signIn(BOB.sub), 'deleted bob signing in again (jit tenant)', /removed/);
  assert.equal(sql(`SELECT count(*) FROM users WHERE tenant_id = ${q(t.tenantId)}`), usersBefore, 'the refused sign-in created no user');
  const listed = await t.scimA('GET', `/Users?filter=${encodeURIComponent(`externalId eq "${BOB.sub}"`)}`);
  assert.equal(listed.status, 200, listed.text);
  assert.equal(listed.json.totalResults, 0, `no SCIM user came back for ${BOB.sub}: ${listed.text}`);
});

step('provisioning policy scim: a user never provisioned is refused at sign-in', async () => {
  const CAROL = { sub: 'u-carol', email: 'carol@globex.test' };
  const DAVE = { sub: 'u-dave', email: 'dave@globex.test' };
  const t = await tenantWithIdp({
    slug: 'globex', domain: 'globex.test',
    accounts: {
      [CAROL.sub]: { email: CAROL.email, email_verified: true, name: 'Carol Example' },
      [DAVE.sub]: { email: DAVE.email, email_verified: true, name: 'Dave Example' },
    },
  });
  const set = await cli(S.gh, ['tenant', 'set-provisioning', '--tenant', 'globex', '--policy', 'scim']);
  assert.equal(set.provisioning, 'scim', `set-provisioning output: ${JSON.stringify(set)}`);

  await provision(t, CAROL.sub, CAROL.email);
  assertSignedIn(await t.signIn(CAROL.sub), 'provisioned carol under policy scim'); // the control case

  assertRefused(await t.signIn(DAVE.sub), 'never-provisioned dave under policy scim', /not been provisioned/);
  assert.equal(identities(t, DAVE.sub), '0', 'no user was created for dave');
});
