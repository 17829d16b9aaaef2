// Personal API keys for IDE clients (issue 14 §1), end to end on PostgreSQL with two Gatehouse
// nodes and the MCP gateway in front of the TypeScript SDK's unmodified example server:
// a person signs in through the scripted browser (an OAuth sign-in leaves a browser session at
// node A), opens the IDE hand-off page `/account/keys/new?resource=…&client=cursor` (a form:
// the GET creates nothing), creates a key, and reads the Cursor `mcp.json` snippet. Then an
// IDE-style client — the SDK's `Client` + `StreamableHTTPClientTransport` with
// `requestInit: {headers: {Authorization: 'Bearer <key>'}}`, exactly what Cursor does with the
// snippet's `headers` — lists and calls tools through the gateway; node B's introspection
// names the key. SCIM deactivation at node A → the next call gets 401 and node B answers
// inactive.
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates its own database).
// Run: node --test tests/interop/api-keys.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { makePki } from './pki.mjs';
import { startIdp, ALICE } from './idp.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { Browser, parseForm, pageText } from './browser.mjs';
import { freePort, psql, sqlQuote as q, createDatabase } from './presets-flow.mjs';
import { StepUpProvider, connect } from './mcp-flow.mjs';
import { startGateway } from './gateway.mjs';
import { scimClient, USER_SCHEMA, PATCH_OP } from './scim-helpers.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SDK_EXAMPLE = join(dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/sdk/server/mcp.js')),
  '..', 'examples', 'server', 'simpleStreamableHttp.js');
const FILL = { email: ALICE.email, login: ALICE.sub, password: 'any-password' };
const TIMEOUT = { timeout: 600_000 };
const GREET = 'demo:greet'; //  routine: greet
const MULTI = 'demo:multi'; //  sensitive, granted: multi-greet
const FILES = 'demo:files'; //  critical, granted: never offered to a key
const KEY_RE = /gatehouse_pat_[0-9A-Za-z]{49}/;
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const sql = (query) => psql(S.db.url, query);
const text = (result) => result.content?.map((c) => c.text).join('\n');
const decode = (s) => s.replace(/&quot;/g, '"').replace(/&#x2f;/gi, '/').replace(/&#39;|&#x27;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function catalogue(uri) {
  return [`uri = "${uri}"`, 'display_name = "Demo Tools"',
    ...[[GREET, 'routine'], [MULTI, 'sensitive'], [FILES, 'critical']].map(([n, t]) => `[[scopes]]\nname = "${n}"\ndescription = "${n}"\ntier = "${t}"`),
    ...[['greet', GREET], ['multi-greet', MULTI], ['list-files', FILES], ['start-notification-stream', GREET]].map(([n, s]) => `[[tools]]\nname = "${n}"\nscopes = ["${s}"]`)].join('\n');
}

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

/** The IDE-style client: a static Authorization header, as Cursor sends mcp.json's `headers`. */
async function ideClient(url, key) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
  const client = new Client({ name: 'cursor-like', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

async function introspectAtB(token) {
  const res = await fetch(`${S.nodeB.base}/oauth/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${S.rs.id}:${S.rs.secret}`).toString('base64')}` },
    body: new URLSearchParams({ token }),
  });
  assert.equal(res.status, 200);
  return res.json();
}

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
    S.runDir = join(HERE, '.run', `api-keys-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-api-keys-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);
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
    S.idp = await startIdp({ ...S.pki, clientSecret: idpSecret });
    cleanups.push(() => S.idp.close());
    S.upstream = await startSdkExample(portU);

    await cli(S.gh, ['migrate']);
    await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
    const conn = await cli(S.gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', S.idp.issuer,
      '--client-id', 'gatehouse', '--client-secret-file', '-'], idpSecret);
    S.idp.setRedirectUris([conn.redirect_uri]);
    S.resource = `http://127.0.0.1:${portG}/mcp`;
    const f = join(S.runDir, 'demo.toml');
    writeFileSync(f, catalogue(S.resource));
    const reg = await cli(S.gh, ['resource', 'register', '--file', f]);
    S.rs = { id: reg.introspection_client_id, secret: reg.introspection_client_secret };
    await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.resource, '--scopes', `${GREET} ${MULTI}`]);
    await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.resource, '--scopes', FILES, '--allow-critical']);
    const tok = await cli(S.gh, ['scim-token', 'create', '--tenant', 'acme', '--name', 'directory']);
    const keys = await cli(S.gh, ['user-key', 'settings', '--tenant', 'acme', '--enable', '--max-days', '14']);
    assert.equal(keys.api_keys_enabled, 'true');
    assert.equal(keys.api_key_max_days, '14');

    [S.nodeA, S.nodeB] = await Promise.all([startNode(S.gh, 'node-a', `127.0.0.1:${portA}`), startNode(S.gh, 'node-b', `127.0.0.1:${portB}`)]);
    cleanups.push(() => S.nodeA.stop(), () => S.nodeB.stop());
    S.gateway = await startGateway(S.gh, 'gateway', { listen: `127.0.0.1:${portG}`, resource: S.resource, upstream: S.upstream });
    cleanups.push(() => S.gateway.stop());
    const logFile = join(S.runDir, 'scim-http.log');
    S.scimA = scimClient({ base: S.nodeA.base, slug: 'acme', token: tok.token, logFile });
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const dump = [`logs: ${S.runDir}`, ...['node-a.log', 'node-b.log', 'gateway.log', 'cli.log'].map((f) => tail(join(S.runDir, f), 60)),
      `==> browser <==\n${(S.browser?.log ?? []).join('\n')}`].join('\n\n');
    console.error(dump);
  }
  await S.ide?.close().catch(() => {});
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('the directory provisions Alice (SCIM at node A); she signs in once through the browser', async () => {
  const r = await S.scimA('POST', '/Users', {
    schemas: [USER_SCHEMA], userName: ALICE.email, externalId: ALICE.sub, active: true,
    emails: [{ value: ALICE.email, type: 'work', primary: true }],
  });
  assert.equal(r.status, 201, r.text);
  S.scimId = r.json.id;
  // Any OAuth sign-in leaves the browser session a key is created with.
  S.browser = new Browser({ ca: S.pki.ca, fill: FILL });
  const p = new StepUpProvider({ redirectUrl: `http://127.0.0.1:${await freePort()}/callback`, clientName: 'Sign-in', browser: S.browser });
  const session = await connect(S.resource, p, []);
  await session.client.close();
  assert.ok(S.browser.cookieHeader(new URL(S.issuer)).includes('gh_session'), 'a browser session at node A');
});

step('the hand-off page (client=cursor) is a form that creates nothing; posting it shows the key once with the Cursor snippet', async () => {
  const handOff = `${S.issuer}/account/keys/new?${new URLSearchParams({ resource: S.resource, client: 'cursor' })}`;
  const page = await S.browser.go(handOff);
  assert.equal(page.status, 200, pageText(page.body));
  assert.equal(sql('SELECT count(*) FROM personal_api_keys'), '0', 'the GET created nothing');
  assert.ok(page.body.includes(GREET) && page.body.includes(MULTI), 'granted scopes offered');
  assert.ok(!page.body.includes(FILES), 'a critical scope is never offered');
  const form = parseForm(page.body, handOff, {});
  assert.equal(form.method, 'POST');
  assert.deepEqual(form.fields.filter(([k]) => k === 'client'), [['client', 'cursor']]);
  const res = await S.browser.go(form.action, {
    method: 'POST', body: new URLSearchParams(form.fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: S.issuer, 'sec-fetch-site': 'same-origin' },
  });
  assert.equal(res.status, 200, pageText(res.body));
  assert.match(res.headers['content-security-policy'], /script-src 'self'/);
  const html = decode(res.body);
  S.key = html.match(KEY_RE)?.[0];
  assert.ok(S.key, 'the key is shown');
  // The Cursor snippet: ~/.cursor/mcp.json, parsed as Cursor would.
  const cursor = JSON.parse(html.match(/<textarea[^>]*id="snippet-cursor"[^>]*>([\s\S]*?)<\/textarea>/)[1]);
  const [[name, server]] = Object.entries(cursor.mcpServers);
  assert.equal(name, 'demo-tools');
  assert.equal(server.url, S.resource);
  assert.equal(server.headers.Authorization, `Bearer ${S.key}`);
  S.snippet = server;
  const stored = sql(`SELECT count(*) FROM tokens WHERE token_hash = ${q(S.key)}`);
  assert.equal(stored, '0', 'the key itself is never stored');
  assert.equal(sql(`SELECT client_id FROM grant_families WHERE kind = 'api_key'`), 'api-key:cursor');
});

step('an IDE-style client with the static header lists and calls tools through the gateway; node B names the key', async () => {
  S.ide = await ideClient(S.snippet.url, S.key);
  const { tools } = await S.ide.listTools();
  assert.ok(tools.some((t) => t.name === 'greet'), JSON.stringify(tools.map((t) => t.name)));
  const r = await S.ide.callTool({ name: 'greet', arguments: { name: 'Cursor' } });
  assert.equal(text(r), 'Hello, Cursor!');
  const i = await introspectAtB(S.key);
  assert.equal(i.active, true);
  assert.equal(i.credential_kind, 'api_key');
  assert.equal(i.key_id, sql(`SELECT id FROM personal_api_keys`));
  assert.equal(i.client_id, 'api-key:cursor');
  assert.deepEqual(i.scope.split(' ').sort(), [GREET, MULTI].sort());
  // The key's use reached the audit log (written off the request path, once a minute at most).
  const deadline = Date.now() + 10_000;
  while (sql(`SELECT count(*) FROM audit_events WHERE action = 'api_key.used'`) === '0' && Date.now() < deadline) {
    await new Promise((r2) => setTimeout(r2, 200));
  }
  assert.notEqual(sql(`SELECT count(*) FROM audit_events WHERE action = 'api_key.used'`), '0');
  assert.equal(sql(`SELECT count(*) FROM audit_events WHERE action = 'api_key.created'`), '1');
});

step('SCIM deactivation at node A: the next call through the gateway gets 401, node B answers inactive', async () => {
  const patch = await S.scimA('PATCH', `/Users/${S.scimId}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
  assert.ok([200, 204].includes(patch.status), patch.text);
  const err = await S.ide.callTool({ name: 'greet', arguments: { name: 'again' } }).then(() => null, (e) => e);
  assert.ok(err, 'the call is refused');
  const raw = await fetch(S.resource, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${S.key}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }),
  });
  assert.equal(raw.status, 401);
  assert.equal((await introspectAtB(S.key)).active, false);
  const admin = await cli(S.gh, ['user-key', 'list', '--tenant', 'acme']);
  assert.match(admin.user_key, / revoked /);
});
