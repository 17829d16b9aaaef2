// The vendor examples that need no gateway, run as copied from examples/ against a Gatehouse
// node on PostgreSQL: examples/mcp-server-introspection-ts (MCP TypeScript SDK,
// requireBearerAuth + RFC 7662 introspection, per-tool scopes answered 403 insufficient_scope)
// and examples/mcp-server-introspection-py (MCP Python SDK, token_verifier + AuthSettings). The
// MCP TypeScript SDK client signs in through oidc-provider, calls their tools, and the calls they
// report to POST /audit/v1/events are found in the tenant's audit log.
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates its own database).
// Run: node --test tests/interop/examples.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from './pki.mjs';
import { startIdp, ALICE } from './idp.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { Browser } from './browser.mjs';
import { freePort, psql, sqlQuote as q, createDatabase } from './presets-flow.mjs';
import { StepUpProvider, connect, callTool, bearerParams } from './mcp-flow.mjs';
import { startExample, mcpPython, EXAMPLES } from './mcp-examples.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const FILL = { email: ALICE.email, login: ALICE.sub, password: 'any-password' };
const TIMEOUT = { timeout: 600_000 };
const READ = 'crm:customers:read';
const EXPORT = 'crm:customers:export';
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const sql = (query) => psql(S.db.url, query);
const text = (result) => result.content?.map((c) => c.text).join('\n');
const provider = async () => new StepUpProvider({
  redirectUrl: `http://127.0.0.1:${await freePort()}/callback`, clientName: 'Examples Client', browser: new Browser({ ca: S.pki.ca, fill: FILL }),
});
/** The tool calls an example reported, as Gatehouse recorded them. */
const toolEvents = (resource) => sql(`SELECT details::json->>'tool', result, user_id, client_id, coalesce(session_id, ''), scope, actor
  FROM audit_events WHERE action = 'tool.called' AND resource = ${q(resource)} ORDER BY id`).split('\n').filter(Boolean).map((l) => l.split('|'));

/** Register examples/<dir>/resource.toml under the URL the example will listen on. */
async function registerExample(dir, uri) {
  const toml = readFileSync(join(EXAMPLES, dir, 'resource.toml'), 'utf8').replace(/^uri = .*$/m, `uri = "${uri}"`);
  const file = join(S.runDir, `${dir}.toml`);
  writeFileSync(file, toml);
  const r = await cli(S.gh, ['resource', 'register', '--file', file]);
  const secretFile = join(S.runDir, `${dir}.secret`);
  writeFileSync(secretFile, r.introspection_client_secret, { mode: 0o600 });
  return { uri, clientId: r.introspection_client_id, secretFile };
}

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
    S.runDir = join(HERE, '.run', `examples-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-examples-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);
    S.python = mcpPython((l) => writeFileSync(join(S.runDir, 'venv.log'), l, { flag: 'a' }));
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());
    const port = await freePort();
    S.issuer = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env, DATABASE_URL: S.db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'), GATEHOUSE_ISSUER: S.issuer,
      GATEHOUSE_FETCH_CA_FILE: S.pki.caFile, GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32', RUST_LOG: process.env.RUST_LOG ?? 'info',
    };
    S.gh = { bin, env, logDir: S.runDir };
    const idpSecret = randomBytes(24).toString('base64url');
    S.idp = await startIdp({ ...S.pki, clientSecret: idpSecret });
    cleanups.push(() => S.idp.close());
    await cli(S.gh, ['migrate']);
    await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
    const conn = await cli(S.gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', S.idp.issuer,
      '--client-id', 'gatehouse', '--client-secret-file', '-'], idpSecret);
    S.idp.setRedirectUris([conn.redirect_uri]);
    S.node = await startNode(S.gh, 'node', `127.0.0.1:${port}`);
    cleanups.push(() => S.node.stop());
    S.python = await S.python;
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const logs = ['node.log', 'cli.log', 'example-mcp-server-introspection-ts.log', 'example-mcp-server-introspection-py.log'];
    const dump = [`logs: ${S.runDir}`, ...logs.map((f) => tail(join(S.runDir, f), 60)),
      `==> SDK traffic <==\n${(S.traffic ?? []).map((e) => `${e.method} ${e.origin}${e.path} -> ${e.status} ${e.wwwAuthenticate ?? ''} ${JSON.stringify(e.json ?? '')}`).join('\n')}`].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('introspection example, TypeScript SDK: sign-in, tool calls, 403 insufficient_scope and step-up, audit events', async () => {
  const port = await freePort();
  const res = await registerExample('mcp-server-introspection-ts', `http://127.0.0.1:${port}/mcp`);
  await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', res.uri, '--scopes', READ]);
  const ex = await startExample({
    name: 'mcp-server-introspection-ts', runDir: S.runDir, port, readyPath: '/.well-known/oauth-protected-resource/mcp',
    env: { GATEHOUSE_ISSUER: S.issuer, MCP_PUBLIC_URL: res.uri, INTROSPECTION_CLIENT_ID: res.clientId, INTROSPECTION_CLIENT_SECRET_FILE: res.secretFile },
  });
  cleanups.push(() => ex.stop());
  const prm = await (await fetch(`${ex.base}/.well-known/oauth-protected-resource/mcp`)).json();
  assert.equal(prm.resource, res.uri);
  assert.deepEqual(prm.authorization_servers, [S.issuer]);

  const traffic = (S.traffic = []);
  const p = await provider();
  const session = await connect(res.uri, p, traffic);
  const clientId = p.clientInformation().client_id;
  let { result } = await callTool(session, p, 'list_customers', { limit: 5 });
  assert.match(text(result), /Initech, Umbrella/);
  assert.equal(p.tokens().scope, READ, 'the organisation granted only the read scope');

  // export_customers needs crm:customers:export, which the organisation has not granted yet:
  // the example answers 403 insufficient_scope naming every scope needed; the step-up sign-in
  // cannot widen the grant, so the SDK stops after one try.
  await assert.rejects(callTool(session, p, 'export_customers', {}), /403/);
  const refused = traffic.find((e) => e.status === 403);
  assert.equal(refused.path, '/mcp');
  const challenge = bearerParams(refused.wwwAuthenticate);
  assert.equal(challenge.error, 'insufficient_scope');
  assert.deepEqual(challenge.scope.split(' ').sort(), [READ, EXPORT].sort());
  assert.equal(challenge.resource_metadata, `${ex.base}/.well-known/oauth-protected-resource/mcp`);

  // The admin grants the export scope; the next step-up gets it and the retry succeeds.
  await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', res.uri, '--scopes', EXPORT]);
  const again = await connect(res.uri, p, traffic);
  const before = p.authorizations.length;
  const r2 = await callTool(again, p, 'export_customers', {});
  assert.equal(r2.reauthorized, true, 'the SDK stepped up through a new authorization');
  assert.equal(p.authorizations.length, before + 1);
  assert.deepEqual(p.authorizations.at(-1).searchParams.get('scope').split(' ').sort(), [READ, EXPORT].sort(), 'the step-up asks for every scope the challenge named');
  assert.match(text(r2.result), /^name\nInitech/);
  assert.deepEqual(p.tokens().scope.split(' ').sort(), [READ, EXPORT].sort());

  // A revoked token is inactive at once for the example (introspection, no cache); the SDK
  // refreshes and goes on.
  const rv = await fetch(`${S.issuer}/oauth/revoke`, { method: 'POST', body: new URLSearchParams({ token: p.tokens().access_token, client_id: clientId }) });
  assert.equal(rv.status, 200);
  ({ result } = await callTool(again, p, 'list_customers', {}));
  assert.match(text(result), /Initech/);
  assert.ok(traffic.some((e) => e.status === 401 && e.path === '/mcp'), 'the revoked token got 401');

  const events = toolEvents(res.uri);
  const userId = sql(`SELECT id FROM users WHERE email = ${q(ALICE.email)}`);
  // denied: the first 403, the SDK's retry after its step-up that could not widen the grant,
  // and the 403 that started the successful step-up.
  assert.deepEqual(events.map((e) => `${e[0]} ${e[1]}`), ['list_customers success', ...Array(3).fill('export_customers denied'), 'export_customers success', 'list_customers success']);
  for (const [, , user, client, sessionId, , actor] of events) {
    assert.equal(user, userId);
    assert.equal(client, clientId);
    assert.ok(sessionId, 'the session is recorded');
    assert.equal(actor, `resource:${res.clientId}`, 'attributed to the reporting resource server');
  }
  S.tsToken = p.tokens().access_token;
  await session.client.close(); await again.client.close();
});

step('introspection example, Python SDK: sign-in, tool calls, a per-tool refusal, audit events', async () => {
  const port = await freePort();
  const res = await registerExample('mcp-server-introspection-py', `http://127.0.0.1:${port}/mcp`);
  await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', res.uri, '--scopes', READ]);
  const ex = await startExample({
    name: 'mcp-server-introspection-py', runDir: S.runDir, port, python: S.python, readyPath: '/.well-known/oauth-protected-resource/mcp',
    env: { GATEHOUSE_ISSUER: S.issuer, MCP_PUBLIC_URL: res.uri, INTROSPECTION_CLIENT_ID: res.clientId, INTROSPECTION_CLIENT_SECRET_FILE: res.secretFile },
  });
  cleanups.push(() => ex.stop());
  const prm = await (await fetch(`${ex.base}/.well-known/oauth-protected-resource/mcp`)).json();
  assert.equal(prm.resource, res.uri);
  assert.deepEqual(prm.authorization_servers, [S.issuer]);

  const traffic = (S.traffic = []);
  const p = await provider();
  const session = await connect(res.uri, p, traffic);
  const clientId = p.clientInformation().client_id;
  let { result } = await callTool(session, p, 'list_customers', { limit: 3 });
  assert.ok(!result.isError, text(result));
  assert.match(text(result), /Initech, Umbrella/);
  ({ result } = await callTool(session, p, 'export_customers', {}));
  assert.equal(result.isError, true, 'export_customers refused: the token lacks crm:customers:export');
  assert.match(text(result), /crm:customers:export/);

  // A live token for another resource (the TypeScript example's) is refused: Gatehouse reports
  // it inactive to this resource server (RFC 8707 audience).
  const post = (token) => fetch(res.uri, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_customers', arguments: {} } }),
  });
  assert.equal((await post(S.tsToken)).status, 401, 'a token of another resource');
  assert.notEqual((await post(p.tokens().access_token)).status, 401, 'while its own token passes');

  const events = toolEvents(res.uri);
  assert.deepEqual(events.map((e) => `${e[0]} ${e[1]}`), ['list_customers success', 'export_customers denied']);
  for (const [, , , client, sessionId] of events) { assert.equal(client, clientId); assert.ok(sessionId); }
  await session.client.close();
});
