// Enterprise-managed authorization end to end (issue 14 §2, ADR 0014): no browser for the agent.
// The enterprise IdP is npm oidc-provider (idp.mjs) with the RFC 8693 token exchange that mints
// ID-JAGs signed with its own key; the client is the MCP Python SDK 2.3's own
// `IdentityAssertionOAuthProvider` (mcp-py/id_jag_client.py), which redeems them at Gatehouse with
// the RFC 7523 jwt-bearer grant and calls a tool of the TypeScript SDK's example server behind
// `gatehouse gateway`. Two Gatehouse nodes on one PostgreSQL database: an ID-JAG redeemed at one
// node is refused at the other; SCIM deactivation at node A refuses the person's next ID-JAG at
// node B and kills the token the agent holds.
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates its own database).
// Run: node --test tests/interop/id-jag.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from './pki.mjs';
import { startIdp, ALICE, TOKEN_EXCHANGE, ID_JAG_TYPE } from './idp.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { Browser, request } from './browser.mjs';
import { freePort, psql, sqlQuote as q, createDatabase, registerPublicClient, signIn, describeEnd } from './presets-flow.mjs';
import { mcpPython } from './mcp-examples.mjs';
import { startGateway } from './gateway.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SDK_EXAMPLE = join(dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/sdk/server/mcp.js')),
  '..', 'examples', 'server', 'simpleStreamableHttp.js');
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const GREET = 'demo:greet';
const TIMEOUT = { timeout: 600_000 };
const AGENT = { client_id: 'mcp-agent', client_secret: randomBytes(24).toString('base64url'), redirect_uri: 'http://127.0.0.1:9/agent-callback' };
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const sql = (query) => psql(S.db.url, query);

async function startSdkExample(port) {
  const logFile = join(S.runDir, 'upstream-sdk-example.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [SDK_EXAMPLE], { env: { ...process.env, MCP_PORT: String(port) }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = null;
  child.on('exit', (code, sig) => { exited = `${code ?? sig}`; });
  cleanups.push(() => { if (!exited) child.kill('SIGINT'); });
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`http://127.0.0.1:${port}/mcp`).then(() => true, () => false))) {
    if (exited || Date.now() > deadline) throw new Error(`SDK example server did not start (${exited})\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return `http://127.0.0.1:${port}/mcp`;
}

/** The person signs in to the IdP as the agent app (OIDC code flow + PKCE): its ID token. */
async function agentIdToken() {
  const verifier = randomBytes(32).toString('base64url');
  const browser = new Browser({ ca: S.pki.ca, fill: { login: ALICE.sub, password: 'any-password' } });
  const params = await browser.authorize(`${S.idp.issuer}/auth?${new URLSearchParams({
    client_id: AGENT.client_id, response_type: 'code', scope: 'openid email', redirect_uri: AGENT.redirect_uri,
    state: 's', nonce: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  })}`, AGENT.redirect_uri);
  const res = await idpPost('/token', { grant_type: 'authorization_code', code: params.code, redirect_uri: AGENT.redirect_uri, code_verifier: verifier });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json.id_token;
}

/** A POST to the IdP as the agent app (client_secret_basic). */
async function idpPost(path, form) {
  const res = await request(new URL(`${S.idp.issuer}${path}`), {
    method: 'POST', ca: S.pki.ca, body: new URLSearchParams(form).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded', accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${AGENT.client_id}:${AGENT.client_secret}`).toString('base64')}`,
    },
  });
  return { status: res.status, json: JSON.parse(res.body || '{}') };
}

/** Leg 1 by hand (what the SDK's assertion_provider does in id_jag_client.py). */
async function exchangeForIdJag() {
  const res = await idpPost('/token', {
    grant_type: TOKEN_EXCHANGE, requested_token_type: ID_JAG_TYPE, subject_token: S.idToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:id_token', audience: S.issuer, resource: S.r1,
  });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json.access_token;
}

/** Leg 2 by hand at one node: the jwt-bearer grant, client_secret_post. */
async function redeemAt(node, assertion) {
  const res = await fetch(`${node.base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: JWT_BEARER, assertion, resource: S.r1, client_id: S.client.client_id, client_secret: S.client.client_secret }),
  });
  return { status: res.status, json: await res.json() };
}

/** The Python SDK's IdentityAssertionOAuthProvider through the gateway; its JSON report. */
function pythonAgent() {
  return new Promise((resolve, reject) => {
    execFile(S.python, [join(HERE, 'mcp-py', 'id_jag_client.py')], {
      timeout: 120_000,
      env: {
        ...process.env, PYTHONUNBUFFERED: '1', MCP_URL: S.r1, GATEHOUSE_ISSUER: S.issuer,
        CLIENT_ID: S.client.client_id, CLIENT_SECRET: S.client.client_secret,
        IDP_TOKEN_URL: `${S.idp.issuer}/token`, IDP_CLIENT_ID: AGENT.client_id, IDP_CLIENT_SECRET: AGENT.client_secret,
        ID_TOKEN: S.idToken, IDP_CA_FILE: S.pki.caFile, TOOL: 'greet', TOOL_ARGS: JSON.stringify({ name: 'Alice' }),
      },
    }, (err, stdout, stderr) => {
      writeFileSync(join(S.runDir, 'python-agent.log'), `${stdout}\n${stderr}\n`, { flag: 'a' });
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      try { resolve(JSON.parse(stdout.trim().split('\n').pop())); } catch (e) { reject(new Error(`${e.message}: ${stdout}\n${stderr}`)); }
    });
  });
}

async function scim(node, method, path, body) {
  const res = await fetch(`${node.base}/scim/v2/acme${path}`, {
    method, headers: { authorization: `Bearer ${S.scimToken}`, 'content-type': 'application/scim+json', accept: 'application/scim+json' },
    body: body && JSON.stringify(body),
  });
  return { status: res.status, json: await res.json().catch(() => null) };
}

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
    S.runDir = join(HERE, '.run', `id-jag-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-id-jag-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);
    const python = mcpPython((l) => writeFileSync(join(S.runDir, 'venv.log'), l, { flag: 'a' }));
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());
    const [portA, portB, portG, portU] = await Promise.all(Array.from({ length: 4 }, freePort));
    S.issuer = `http://127.0.0.1:${portA}`;
    const env = {
      ...process.env, DATABASE_URL: S.db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'), GATEHOUSE_ISSUER: S.issuer,
      GATEHOUSE_FETCH_CA_FILE: S.pki.caFile, GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32', RUST_LOG: process.env.RUST_LOG ?? 'info',
    };
    S.gh = { bin, env, logDir: S.runDir };
    const idpSecret = randomBytes(24).toString('base64url');
    S.idp = await startIdp({ ...S.pki, clientSecret: idpSecret, agent: AGENT });
    cleanups.push(() => S.idp.close());
    S.upstream = await startSdkExample(portU);

    await cli(S.gh, ['migrate']);
    await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
    const conn = await cli(S.gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', S.idp.issuer,
      '--client-id', 'gatehouse', '--client-secret-file', '-'], idpSecret);
    S.idp.setRedirectUris([conn.redirect_uri]);
    S.connectionId = conn.connection_id;
    S.r1 = `http://127.0.0.1:${portG}/mcp`;
    const spec = join(S.runDir, 'demo.toml');
    writeFileSync(spec, [`uri = "${S.r1}"`, 'display_name = "Demo (SDK example server)"',
      `[[scopes]]\nname = "${GREET}"\ndescription = "Greet"\ntier = "routine"`,
      `[[tools]]\nname = "greet"\nscopes = ["${GREET}"]`].join('\n'));
    await cli(S.gh, ['resource', 'register', '--file', spec]);
    await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.r1, '--scopes', GREET]);
    // The agent's vendor is a pre-registered confidential client; the tenant admin allows it.
    S.client = await cli(S.gh, ['client', 'add', '--name', 'Enterprise agent', '--redirect-uri', 'https://agent.example/cb', '--confidential']);
    const shown = await cli(S.gh, ['connection', 'id-jag', '--tenant', 'acme', '--id', S.connectionId]);
    assert.equal(shown.id_jag, 'disabled', 'off by default');
    const set = await cli(S.gh, ['connection', 'id-jag', '--tenant', 'acme', '--id', S.connectionId, '--enable', '--client', S.client.client_id]);
    assert.equal(set.id_jag, 'enabled');
    assert.equal(set.clients, S.client.client_id);
    // The IdP admin's side: this app gets ID-JAGs for Gatehouse under that client id.
    S.idp.setIdJagClients({ [S.issuer]: S.client.client_id });
    S.scimToken = (await cli(S.gh, ['scim-token', 'create', '--tenant', 'acme', '--name', 'directory'])).token;

    [S.nodeA, S.nodeB] = await Promise.all([startNode(S.gh, 'node-a', `127.0.0.1:${portA}`), startNode(S.gh, 'node-b', `127.0.0.1:${portB}`)]);
    cleanups.push(() => S.nodeA.stop(), () => S.nodeB.stop());
    S.gw = await startGateway(S.gh, 'gateway', { listen: `127.0.0.1:${portG}`, resource: S.r1, upstream: S.upstream });
    cleanups.push(() => S.gw.stop());
    S.python = await python;
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const logs = ['node-a.log', 'node-b.log', 'gateway.log', 'cli.log', 'python-agent.log', 'upstream-sdk-example.log'];
    const dump = [`logs: ${S.runDir}`, ...logs.map((f) => tail(join(S.runDir, f), 60)),
      `==> IdP requests <==\n${(S.idp?.requests ?? []).join('\n')}`].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('metadata lists the jwt-bearer grant on both nodes', async () => {
  for (const node of [S.nodeA, S.nodeB]) {
    const meta = await (await fetch(`${node.base}/.well-known/oauth-authorization-server`)).json();
    assert.ok(meta.grant_types_supported.includes(JWT_BEARER), JSON.stringify(meta.grant_types_supported));
  }
});

step('alice is provisioned by SCIM and signs in once through the browser', async () => {
  const created = await scim(S.nodeA, 'POST', '/Users', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: ALICE.email, externalId: ALICE.sub, active: true,
  });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  S.scimUserId = created.json.id;
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const clientId = await registerPublicClient(S.nodeA.base, redirectUri);
  const r = await signIn({ base: S.nodeA.base, ca: S.pki.ca, clientId, redirectUri, resource: S.r1, scope: GREET, email: ALICE.email, login: ALICE.sub });
  assert.equal(r.tokenStatus, 200, describeEnd(r.end));
  S.idToken = await agentIdToken();
});

step('the MCP Python SDK IdentityAssertionOAuthProvider calls a tool through the gateway, no browser, no refresh token', async () => {
  const out = await pythonAgent();
  assert.equal(out.ok, true, JSON.stringify(out));
  assert.equal(out.text, 'Hello, Alice!');
  assert.equal(out.scope, GREET);
  assert.deepEqual(out.exchanges.map((e) => [e.status, e.audience, e.resource]), [[200, S.issuer, S.r1]], 'one token exchange at the IdP');
  const jag = S.idp.idJags.at(-1);
  assert.equal(jag.client_id, S.client.client_id);
  const family = sql(`SELECT kind, session_id FROM grant_families WHERE client_id = ${q(S.client.client_id)}`);
  assert.equal(family, `jwt_bearer|id-jag:${jag.jti}`);
  assert.equal(sql(`SELECT count(*) FROM tokens WHERE client_id = ${q(S.client.client_id)} AND kind = 'refresh'`), '0');
  const issued = JSON.parse(sql(`SELECT details FROM audit_events WHERE action = 'token.issued' AND client_id = ${q(S.client.client_id)}`));
  assert.equal(issued.grant_type, JWT_BEARER);
  assert.equal(issued.jti, jag.jti);
  assert.equal(issued.idp, S.idp.issuer);
  S.agentToken = sql(`SELECT count(*) FROM tokens WHERE client_id = ${q(S.client.client_id)} AND revoked_at IS NULL`);
  assert.equal(S.agentToken, '1');
});

step('an ID-JAG is single use across nodes', async () => {
  const assertion = await exchangeForIdJag();
  const atB = await redeemAt(S.nodeB, assertion);
  assert.equal(atB.status, 200, JSON.stringify(atB.json));
  assert.equal(atB.json.refresh_token, undefined);
  S.tokenFromB = atB.json.access_token;
  const atA = await redeemAt(S.nodeA, assertion);
  assert.equal(atA.status, 400);
  assert.equal(atA.json.error, 'invalid_grant');
  assert.match(atA.json.error_description, /already used/);
});

step('SCIM deactivation at node A: the next ID-JAG is refused at node B, and the agent is cut off', async () => {
  const r = await scim(S.nodeA, 'PATCH', `/Users/${S.scimUserId}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }],
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  // The IdP still issues an ID-JAG (it does not know yet); Gatehouse refuses it.
  const atB = await redeemAt(S.nodeB, await exchangeForIdJag());
  assert.equal(atB.status, 400, JSON.stringify(atB.json));
  assert.equal(atB.json.error, 'invalid_grant');
  assert.match(atB.json.error_description, /deactivated/);
  // Every token the agent held is revoked, at every node.
  assert.equal(sql(`SELECT count(*) FROM tokens WHERE client_id = ${q(S.client.client_id)} AND revoked_at IS NULL`), '0');
  const gw = await fetch(S.r1, {
    method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    headers: { authorization: `Bearer ${S.tokenFromB}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
  });
  assert.equal(gw.status, 401, 'the gateway refuses the revoked token');
  // The SDK client's next run: its token request is refused with the reason.
  const out = await pythonAgent();
  assert.equal(out.ok, false, JSON.stringify(out));
  assert.match(out.error, /invalid_grant/);
  assert.match(out.error, /deactivated/);
  const rejected = sql(`SELECT count(*) FROM audit_events WHERE action = 'id_jag.rejected'`);
  assert.ok(Number(rejected) >= 2, `id_jag.rejected audited (${rejected})`);
});
