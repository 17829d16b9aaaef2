// `gatehouse gateway` in front of an UNMODIFIED MCP server with no auth code: the TypeScript SDK's
// own example server (dist/esm/examples/server/simpleStreamableHttp.js), driven by the SDK's
// client, which signs in (DCR, federated login through oidc-provider) and steps up on
// `insufficient_scope`. Two Gatehouse nodes (`serve`) and the gateways share one PostgreSQL
// database. A recording proxy sits between each gateway and its upstream (upstream-recorder.mjs),
// so every refused request is shown never to reach the upstream.
// A second gateway fronts the vendor examples examples/upstream-jwt-ts and examples/upstream-jwt-py,
// which verify the gateway's JWT with the published JWKS; replayed, expired and wrong-audience
// JWTs are refused by both.
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates its own database).
// Run: node --test tests/interop/gateway.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, openSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { makePki } from './pki.mjs';
import { startIdp, ALICE } from './idp.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { Browser } from './browser.mjs';
import { freePort, psql, sqlQuote as q, createDatabase } from './presets-flow.mjs';
import { StepUpProvider, connect, callTool, bearerParams } from './mcp-flow.mjs';
import { startExample, mcpPython } from './mcp-examples.mjs';
import { startRecorder } from './upstream-recorder.mjs';
import { startGateway, decodeJwt, upstreamJwt } from './gateway.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SDK_EXAMPLE = join(dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/sdk/server/mcp.js')),
  '..', 'examples', 'server', 'simpleStreamableHttp.js');
const FILL = { email: ALICE.email, login: ALICE.sub, password: 'any-password' };
const TIMEOUT = { timeout: 600_000 };
const GREET = 'demo:greet'; //         routine: greet, start-notification-stream
const MULTI = 'demo:multi'; //         sensitive, not granted at first: multi-greet
const FILES = 'demo:files'; //         critical: list-files
const WHOAMI = 'demo:whoami'; //       routine, of the second resource
const STEP_UP_WINDOW_US = 15 * 60 * 1_000_000;
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const sql = (query) => psql(S.db.url, query);
const text = (result) => result.content?.map((c) => c.text).join('\n');
/** The main client's requests from now on (S.traffic grows for the whole file). */
const since = () => { const mark = S.traffic.length; return () => S.traffic.slice(mark); };
const newProvider = async (name) => new StepUpProvider({
  redirectUrl: `http://127.0.0.1:${await freePort()}/callback`, clientName: name, browser: new Browser({ ca: S.pki.ca, fill: FILL }),
});
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
/** A raw POST to a gateway, as a client that does not use the SDK. */
const post = (url, body, headers = {}) => fetch(url, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
const rpc = (id, method, params) => ({ jsonrpc: '2.0', id, method, params });
const toolCall = (id, name, args = {}) => rpc(id, 'tools/call', { name, arguments: args });
/** The IdP's authorization requests so far. */
const idpAuthorizations = () => S.idp.requests.filter((r) => /^GET \/auth\?/.test(r)).map((r) => new URLSearchParams(r.split('?')[1].split(' ')[0]));

function catalogue(uri, scopes, tools) {
  return [`uri = "${uri}"`, 'display_name = "Demo (unmodified SDK example server)"',
    ...scopes.map(([name, tier]) => `[[scopes]]\nname = "${name}"\ndescription = "${name}"\ntier = "${tier}"`),
    ...tools.map(([name, s]) => `[[tools]]\nname = "${name}"\nscopes = [${s.map((x) => `"${x}"`).join(', ')}]`)].join('\n');
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

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
    S.runDir = join(HERE, '.run', `gateway-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-gateway-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);
    const python = mcpPython((l) => writeFileSync(join(S.runDir, 'venv.log'), l, { flag: 'a' }));
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());
    const [portA, portB, portG1, portG2, portU, portTs, portPy] = await Promise.all(Array.from({ length: 7 }, freePort));
    S.issuer = `http://127.0.0.1:${portA}`;
    const env = {
      ...process.env, DATABASE_URL: S.db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'), GATEHOUSE_ISSUER: S.issuer,
      GATEHOUSE_FETCH_CA_FILE: S.pki.caFile, GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32', RUST_LOG: process.env.RUST_LOG ?? 'info',
    };
    S.gh = { bin, env, logDir: S.runDir };
    const idpSecret = randomBytes(24).toString('base64url');
    S.idp = await startIdp({ ...S.pki, clientSecret: idpSecret });
    cleanups.push(() => S.idp.close());

    // Upstreams: the SDK's example server behind recorder 1; the JWT examples behind recorder 2.
    S.upstream = await startSdkExample(portU);
    S.rec1 = await startRecorder(S.upstream);
    cleanups.push(() => S.rec1.close());
    S.tsJwtUrl = `http://127.0.0.1:${portTs}/mcp`;
    S.pyJwtUrl = `http://127.0.0.1:${portPy}/mcp`;
    S.rec2 = await startRecorder(S.tsJwtUrl);
    cleanups.push(() => S.rec2.close());
    // The examples' audience is the URL their gateway was given as --upstream: recorder 2's.
    const jwtEnv = { GATEHOUSE_ISSUER: S.issuer, UPSTREAM_URL: S.rec2.url };
    S.tsJwt = await startExample({ name: 'upstream-jwt-ts', runDir: S.runDir, port: portTs, env: jwtEnv });
    cleanups.push(() => S.tsJwt.stop());
    S.pyJwt = await startExample({ name: 'upstream-jwt-py', runDir: S.runDir, port: portPy, env: jwtEnv, python: await python });
    cleanups.push(() => S.pyJwt.stop());

    await cli(S.gh, ['migrate']);
    await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
    const conn = await cli(S.gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', S.idp.issuer,
      '--client-id', 'gatehouse', '--client-secret-file', '-'], idpSecret);
    S.idp.setRedirectUris([conn.redirect_uri]);

    S.r1 = `http://127.0.0.1:${portG1}/mcp`;
    S.r2 = `http://127.0.0.1:${portG2}/mcp`;
    const f1 = join(S.runDir, 'demo.toml');
    writeFileSync(f1, catalogue(S.r1, [[GREET, 'routine'], [MULTI, 'sensitive'], [FILES, 'critical']],
      [['greet', [GREET]], ['start-notification-stream', [GREET]], ['multi-greet', [MULTI]], ['list-files', [FILES]]]));
    await cli(S.gh, ['resource', 'register', '--file', f1]);
    const f2 = join(S.runDir, 'whoami.toml');
    writeFileSync(f2, catalogue(S.r2, [[WHOAMI, 'routine']], [['whoami', [WHOAMI]]]));
    await cli(S.gh, ['resource', 'register', '--file', f2]);
    await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.r1, '--scopes', GREET]);
    await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.r2, '--scopes', WHOAMI]);

    [S.nodeA, S.nodeB] = await Promise.all([startNode(S.gh, 'node-a', `127.0.0.1:${portA}`), startNode(S.gh, 'node-b', `127.0.0.1:${portB}`)]);
    cleanups.push(() => S.nodeA.stop(), () => S.nodeB.stop());
    [S.g1, S.g2] = await Promise.all([
      startGateway(S.gh, 'gateway-1', { listen: `127.0.0.1:${portG1}`, resource: S.r1, upstream: S.rec1.url }),
      startGateway(S.gh, 'gateway-2', { listen: `127.0.0.1:${portG2}`, resource: S.r2, upstream: S.rec2.url }),
    ]);
    cleanups.push(() => S.g1.stop(), () => S.g2.stop());
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const logs = ['node-a.log', 'node-b.log', 'gateway-1.log', 'gateway-2.log', 'cli.log', 'upstream-sdk-example.log', 'example-upstream-jwt-ts.log', 'example-upstream-jwt-py.log'];
    const dump = [`logs: ${S.runDir}`, ...logs.map((f) => tail(join(S.runDir, f), 60)),
      `==> upstream 1 received <==\n${(S.rec1?.received ?? []).map((e) => `${e.method} ${e.path} -> ${e.status} ${JSON.stringify(e.json ?? '').slice(0, 200)}`).join('\n')}`,
      `==> IdP requests <==\n${(S.idp?.requests ?? []).join('\n')}`,
      `==> SDK traffic <==\n${(S.traffic ?? []).map((e) => `${e.method} ${e.origin}${e.path} -> ${e.status} ${e.wwwAuthenticate ?? ''} ${JSON.stringify(e.json ?? '').slice(0, 300)}`).join('\n')}`].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  await S.session?.client.close().catch(() => {});
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('discovery: RFC 9728 metadata with open CORS; 401 names resource_metadata and scope; nothing reaches the upstream', async () => {
  const res = await fetch(S.g1.prmUrl, { headers: { origin: 'https://app.example' } });
  assert.equal(res.status, 200);
  assert.ok(['*', 'https://app.example'].includes(res.headers.get('access-control-allow-origin')), 'open CORS on the metadata');
  const prm = await res.json();
  assert.equal(prm.resource, S.r1);
  assert.deepEqual(prm.authorization_servers, [S.issuer]);
  assert.deepEqual(prm.bearer_methods_supported, ['header']);
  for (const s of [GREET, MULTI, FILES]) assert.ok(prm.scopes_supported.includes(s), `scopes_supported lists ${s}`);
  assert.ok(prm.resource_name);

  const r = await post(S.r1, rpc(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } }));
  assert.equal(r.status, 401);
  const p = bearerParams(r.headers.get('www-authenticate'));
  assert.equal(p.resource_metadata, S.g1.prmUrl);
  assert.ok(p.scope, 'the 401 names the scope to ask for');
  assert.equal(S.rec1.received.length, 0, 'nothing reached the upstream');
});

step('a tool within scope works; tools/list is filtered; the upstream gets a short-lived gateway JWT, never the client token', async () => {
  S.traffic = []; // every request of the main client, for the whole file (see since())
  S.p = await newProvider('Gateway Interop Client');
  S.session = await connect(S.r1, S.p, S.traffic);
  assert.equal(S.traffic.find((e) => e.path === '/oauth/register')?.status, 201, 'dynamic client registration');
  S.clientId = S.p.clientInformation().client_id;
  assert.equal(S.p.tokens().scope, GREET);
  const { result } = await callTool(S.session, S.p, 'greet', { name: 'Alice' });
  assert.equal(text(result), 'Hello, Alice!');

  const { tools } = await S.session.client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), ['greet', 'start-notification-stream'], 'only the tools this token may call');

  const call = S.rec1.received.find((e) => e.json?.method === 'tools/call');
  const jwt = upstreamJwt(call);
  const { header, claims } = decodeJwt(jwt);
  assert.equal(header.alg, 'EdDSA');
  assert.ok(header.kid, 'the JWT names its key');
  const jwks = createRemoteJWKSet(new URL(`${S.issuer}/.well-known/jwks.json`));
  const { payload } = await jwtVerify(jwt, jwks, { issuer: S.issuer, audience: S.rec1.url, algorithms: ['EdDSA'] });
  assert.ok(payload.exp - payload.iat <= 60, `lifetime ${payload.exp - payload.iat} s`);
  for (const c of ['jti', 'sub', 'tenant', 'client_id', 'scope', 'sid']) assert.ok(payload[c], `claim ${c}`);
  assert.equal(payload.client_id, S.clientId);
  assert.equal(payload.scope, GREET);
  assert.equal(claims.tenant, sql(`SELECT id FROM tenants WHERE slug = 'acme'`));
  const jtis = S.rec1.received.map((e) => decodeJwt(upstreamJwt(e)).claims.jti);
  assert.equal(new Set(jtis).size, jtis.length, 'a fresh JWT (jti) for every upstream request');
  const token = S.p.tokens().access_token;
  assert.ok(!S.rec1.received.some((e) => JSON.stringify(e.headers).includes(token)), 'the client token never reaches the upstream');
});

step('negative: malformed JSON-RPC, oversized body, batch with a forbidden call, unknown tool, token of another resource, token in the query string', async () => {
  const token = S.p.tokens().access_token;
  const auth = { authorization: `Bearer ${token}`, 'mcp-session-id': S.session.transport.sessionId };
  const mark = S.rec1.received.length;
  const reached = () => S.rec1.calls(mark);

  let r = await post(S.r1, '{"jsonrpc": "2.0", "id": 1, "method": ', auth);
  assert.equal(r.status, 400, 'malformed JSON');
  assert.equal((await r.json()).error?.code, -32700, 'JSON-RPC parse error');
  r = await post(S.r1, { hello: 'world' }, auth);
  assert.equal(r.status, 400, 'not JSON-RPC');
  assert.equal((await r.json()).error?.code, -32600, 'JSON-RPC invalid request');

  r = await post(S.r1, toolCall(2, 'greet', { name: 'x'.repeat(8 * 1024 * 1024) }), auth);
  assert.equal(r.status, 413, 'oversized body');
  await r.body?.cancel();

  // The gateway refuses the whole batch when one call in it is not allowed (documented in
  // docs/mcp-server-integration.md): no part of it runs upstream.
  r = await post(S.r1, [toolCall(3, 'greet', { name: 'A' }), toolCall(4, 'multi-greet', { name: 'B' })], auth);
  assert.equal(r.status, 403, 'batch with a forbidden call');
  const batchChallenge = bearerParams(r.headers.get('www-authenticate'));
  assert.equal(batchChallenge.error, 'insufficient_scope');
  assert.deepEqual(batchChallenge.scope.split(' ').sort(), [GREET, MULTI].sort());
  await r.body?.cancel();

  // A tool the upstream has but the catalogue does not list: refused by default.
  r = await post(S.r1, toolCall(5, 'collect-user-info', { infoType: 'contact' }), auth);
  assert.equal(r.status, 403, 'a tool missing from the catalogue');
  const unknown = await r.json();
  assert.equal(unknown.id, 5);
  assert.match(unknown.error?.message ?? '', /not in this resource's catalogue/);

  const other = await newProvider('Other Resource Client');
  const s2 = await connect(S.r2, other, []);
  S.otherToken = other.tokens().access_token;
  await s2.client.close();
  r = await post(S.r1, toolCall(6, 'greet', { name: 'A' }), { ...auth, authorization: `Bearer ${S.otherToken}` });
  assert.equal(r.status, 401, 'a token issued for another resource');
  await r.body?.cancel();

  // RFC 6750 §2.3 (token in the URL) is refused outright, even beside a valid header.
  for (const headers of [{ 'mcp-session-id': auth['mcp-session-id'] }, auth]) {
    r = await post(`${S.r1}?access_token=${encodeURIComponent(token)}`, toolCall(7, 'greet', { name: 'A' }), headers);
    assert.equal(r.status, 400, 'a token in the query string');
    assert.equal(bearerParams(r.headers.get('www-authenticate')).error, 'invalid_request');
    assert.match((await r.json()).error?.message ?? '', /Authorization header/);
  }

  assert.deepEqual(reached(), [], 'no refused request reached the upstream');
});

step('a sensitive tool: 403 insufficient_scope, the SDK steps up, the retry succeeds once the organisation granted it', async () => {
  const traffic = since();
  // Not granted yet: the step-up cannot widen the grant, the SDK gives up after one try.
  await assert.rejects(callTool(S.session, S.p, 'multi-greet', { name: 'Alice' }), /403/);
  const challenge = bearerParams(traffic().find((e) => e.status === 403 && e.origin === new URL(S.r1).origin)?.wwwAuthenticate);
  assert.equal(challenge.error, 'insufficient_scope');
  assert.equal(challenge.resource_metadata, S.g1.prmUrl);
  assert.deepEqual(challenge.scope.split(' ').sort(), [GREET, MULTI].sort(), 'the challenge names every scope needed');

  await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.r1, '--scopes', MULTI]);
  await S.session.client.close(); // the SDK transport does not try the same challenge twice
  S.session = await connect(S.r1, S.p, S.traffic);
  const before = S.p.authorizations.length;
  const { result, reauthorized } = await callTool(S.session, S.p, 'multi-greet', { name: 'Alice' });
  assert.equal(reauthorized, true);
  assert.equal(S.p.authorizations.length, before + 1, 'one step-up authorization');
  assert.deepEqual(S.p.authorizations.at(-1).searchParams.get('scope').split(' ').sort(), [GREET, MULTI].sort());
  assert.equal(text(result), 'Good morning, Alice!');
  assert.deepEqual(S.p.tokens().scope.split(' ').sort(), [GREET, MULTI].sort());
});

step('a critical tool past the step-up window forces a fresh sign-in at the IdP', async () => {
  await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.r1, '--scopes', FILES, '--allow-critical']);
  let r = await callTool(S.session, S.p, 'list-files', {});
  assert.equal(r.reauthorized, true, 'stepped up to the critical scope');
  assert.ok(!r.result.isError, text(r.result));
  assert.ok(S.p.tokens().scope.split(' ').includes(FILES));
  const idpBefore = idpAuthorizations().length;

  // 16 minutes later (the session's authentication is moved back past the 15-minute window).
  sql(`UPDATE browser_sessions SET auth_time = auth_time - ${STEP_UP_WINDOW_US + 60_000_000}`);
  sql(`UPDATE grant_families SET auth_time = auth_time - ${STEP_UP_WINDOW_US + 60_000_000}`);
  const traffic = since();
  r = await callTool(S.session, S.p, 'list-files', {});
  assert.equal(r.reauthorized, true, 'the gateway refused the stale authentication and the SDK re-authorized');
  assert.ok(!r.result.isError, text(r.result));
  const fresh = idpAuthorizations().slice(idpBefore);
  assert.equal(fresh.length, 1, 'one new sign-in at the IdP');
  assert.equal(fresh[0].get('prompt'), 'login', 'the IdP was asked for a fresh authentication');
  assert.equal(fresh[0].get('max_age'), '900');
  const stale = traffic().find((e) => e.status === 403 && e.origin === new URL(S.r1).origin);
  assert.ok(stale, 'the gateway refused the stale token first');
  assert.match(bearerParams(stale.wwwAuthenticate).error_description ?? '', /recent sign-in/);
});

step('a streamed (SSE) tool result arrives in pieces: notifications before the result', async () => {
  const notes = [];
  S.session.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    if (/Periodic notification/.test(n.params.data)) notes.push(Date.now());
  });
  const started = Date.now();
  const { result } = await callTool(S.session, S.p, 'start-notification-stream', { interval: 400, count: 4 });
  const done = Date.now();
  assert.match(text(result), /Started sending periodic notifications every 400ms/);
  assert.equal(notes.length, 4, 'every notification arrived');
  assert.ok(notes.every((t) => t >= started && t <= done), 'all before the result');
  assert.ok(notes[3] - notes[0] >= 800, `notifications arrived as they were sent, not buffered (spread ${notes[3] - notes[0]} ms)`);
  assert.ok(done - notes[0] >= 1000, 'the first piece arrived long before the result');
});

step('after revocation at node A the next call through the gateway gets 401 (and the SDK refreshes)', async () => {
  const token = S.p.tokens().access_token;
  const rv = await fetch(`${S.nodeA.base}/oauth/revoke`, { method: 'POST', body: new URLSearchParams({ token, client_id: S.clientId }) });
  assert.equal(rv.status, 200);
  const mark = S.rec1.received.length;
  const r = await post(S.r1, toolCall(9, 'greet', { name: 'A' }), { authorization: `Bearer ${token}`, 'mcp-session-id': S.session.transport.sessionId });
  assert.equal(r.status, 401);
  assert.equal(bearerParams(r.headers.get('www-authenticate')).resource_metadata, S.g1.prmUrl);
  await r.body?.cancel();
  assert.deepEqual(S.rec1.calls(mark), [], 'the revoked token did not reach the upstream');
  const traffic = since();
  const { result } = await callTool(S.session, S.p, 'greet', { name: 'again' });
  assert.equal(text(result), 'Hello, again!');
  assert.ok(traffic().some((e) => e.status === 401 && e.origin === new URL(S.r1).origin), 'the SDK saw 401');
  assert.ok(traffic().some((e) => e.path === '/oauth/token' && /grant_type=refresh_token/.test(e.request ?? '') && e.status === 200), 'and refreshed');
});

step('every call through the gateway is in the audit log with user, client, session, scopes, source, result and latency', async () => {
  const read = () => sql(`SELECT action, result, coalesce(user_id,''), coalesce(client_id,''), coalesce(session_id,''), coalesce(scope,''),
      coalesce(source_ip,''), coalesce(user_agent,''), details FROM audit_events WHERE action = 'gateway.tool_call' AND resource = ${q(S.r1)} ORDER BY occurred_at, id`)
    .split('\n').filter(Boolean).map((l) => { const c = l.split('|'); return { action: c[0], result: c[1], user: c[2], client: c[3], session: c[4], scope: c[5], ip: c[6], ua: c[7], details: JSON.parse(c.slice(8).join('|')) }; });
  const calls = S.rec1.received.filter((e) => e.json?.method === 'tools/call').map((e) => e.json.params.name);
  assert.ok(calls.length >= 6, `tool calls made: ${calls}`);
  // The gateway writes its records off the request path: give the writer a moment.
  let rows = read();
  for (let i = 0; i < 50 && rows.filter((r) => r.result === 'success').length < calls.length; i++) {
    await new Promise((r) => setTimeout(r, 200));
    rows = read();
  }
  const ok = rows.filter((r) => r.result === 'success');
  assert.deepEqual(ok.map((r) => r.details.tool), calls, 'one success record per call that reached the upstream, in order');
  const userId = sql(`SELECT id FROM users WHERE email = ${q(ALICE.email)}`);
  for (const r of ok) {
    assert.equal(r.user, userId); assert.equal(r.client, S.clientId);
    assert.ok(r.session && r.scope && r.ip && r.ua, `fields of ${JSON.stringify(r)}`);
    assert.ok(r.details.parameters !== undefined, 'parameters');
    assert.ok(Number.isInteger(r.details.latency_ms) && r.details.latency_ms >= 0, `latency in ${JSON.stringify(r.details)}`);
  }
  const denied = rows.filter((r) => r.result === 'denied').map((r) => r.details.tool);
  for (const t of ['multi-greet', 'collect-user-info', 'list-files']) assert.ok(denied.includes(t), `the refused ${t} call is recorded (${denied})`);
  assert.ok(rows.find((r) => r.details.tool === 'start-notification-stream').details.latency_ms >= 1000, 'the latency of the streamed call covers its stream');
  await cli(S.gh, ['audit', 'verify', '--tenant', 'acme']);
});

step('the upstream-JWT examples (TypeScript jose, Python PyJWT) verify real gateway JWTs; replayed and wrong-audience JWTs are refused', async () => {
  const p = await newProvider('JWT Examples Client');
  const ask = async (target) => {
    S.rec2.setTarget(target);
    const s = await connect(S.r2, p, []);
    const { result } = await callTool(s, p, 'whoami', {});
    await s.client.close();
    return JSON.parse(text(result));
  };
  const userId = sql(`SELECT id FROM users WHERE email = ${q(ALICE.email)}`);
  for (const target of [S.tsJwtUrl, S.pyJwtUrl]) {
    const who = await ask(target);
    assert.equal(who.sub, userId, `${target}: sub`);
    assert.equal(who.client_id, p.clientInformation().client_id);
    assert.equal(who.scope, WHOAMI);
    assert.ok(who.tenant && who.sid);
  }
  const to = (url) => S.rec2.received.filter((e) => e.target === url && e.status === 200).map(upstreamJwt);
  S.jwtsSeenBy = { ts: to(S.tsJwtUrl), py: to(S.pyJwtUrl) };
  const send = (url, jwt) => post(url, toolCall(1, 'whoami'), { authorization: `Bearer ${jwt}` });
  for (const [url, seen, ex] of [[S.tsJwtUrl, S.jwtsSeenBy.ts, S.tsJwt], [S.pyJwtUrl, S.jwtsSeenBy.py, S.pyJwt]]) {
    const replay = await send(url, seen.at(-1));
    assert.equal(replay.status, 401, `${url}: a replayed JWT`);
    const body = await replay.text();
    assert.ok(/replay/.test(body) || /replay/.test(readFileSync(ex.logFile, 'utf8')), `${url}: refused as a replay: ${body}`);
    // A genuine gateway JWT, just minted, but for another upstream (gateway 1's).
    await callTool(S.session, S.p, 'greet', { name: 'audience' });
    const foreign = upstreamJwt(S.rec1.received.at(-1));
    const wrong = await send(url, foreign);
    assert.equal(wrong.status, 401, `${url}: a JWT for another audience`);
    const why = `${await wrong.text()} ${readFileSync(ex.logFile, 'utf8')}`;
    assert.match(why, /aud|Audience/, `${url}: refused for its audience`);
  }
});

step('expired gateway JWTs are refused by both examples', async () => {
  // A JWT each example has never seen (delivered to the other one), once past its exp.
  const tsOnly = S.jwtsSeenBy.ts[0];
  const pyOnly = S.jwtsSeenBy.py[0];
  const wait = Math.max(decodeJwt(tsOnly).claims.exp, decodeJwt(pyOnly).claims.exp) * 1000 + 6_000 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const send = (url, jwt) => post(url, toolCall(1, 'whoami'), { authorization: `Bearer ${jwt}` });
  let r = await send(S.pyJwtUrl, tsOnly);
  assert.equal(r.status, 401);
  assert.match(readFileSync(S.pyJwt.logFile, 'utf8'), /ExpiredSignatureError/);
  r = await send(S.tsJwtUrl, pyOnly);
  assert.equal(r.status, 401);
  assert.match(await r.text(), /ERR_JWT_EXPIRED|exp/);
});

step('catalogue update: a tool added is callable through the running gateway within seconds; a removed scope revokes the tokens that carry it', async () => {
  const sessionHeaders = () => ({ authorization: `Bearer ${S.p.tokens().access_token}`, 'mcp-session-id': S.session.transport.sessionId });
  const scopes = [[GREET, 'routine'], [MULTI, 'sensitive'], [FILES, 'critical']];
  const tools = [['greet', [GREET]], ['start-notification-stream', [GREET]], ['multi-greet', [MULTI]], ['list-files', [FILES]]];
  // Add a tool the upstream has but the catalogue lacks: collect-user-info (it then asks the
  // client for input over its SSE answer; reaching the upstream is what counts here).
  const f = join(S.runDir, 'demo-v2.toml');
  writeFileSync(f, catalogue(S.r1, scopes, [...tools, ['collect-user-info', [GREET]]]));
  const call = () => post(S.r1, toolCall(20, 'collect-user-info', { infoType: 'contact' }), sessionHeaders());
  let r = await call();
  assert.equal(r.status, 403, 'not in the catalogue yet');
  await r.body?.cancel();
  await cli(S.gh, ['resource', 'update', '--file', f, '--yes']);
  const changed = Date.now();
  const mark = S.rec1.received.length;
  let answeredAt;
  for (;;) {
    r = await call();
    answeredAt = Date.now();
    // The upstream's answer waits for input this client never gives: the status is enough.
    await r.body?.cancel();
    if (r.status === 200 || answeredAt - changed > 10_000) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  assert.equal(r.status, 200, 'the added tool is callable through the running gateway');
  assert.ok(answeredAt - changed <= 5_000, `within seconds (${answeredAt - changed} ms)`);
  assert.deepEqual(S.rec1.calls(mark).filter((c) => c.startsWith('tools/call')).slice(-1), ['tools/call:collect-user-info']);

  // Remove the sensitive scope (and its tool): the token that carries it is revoked at once.
  assert.ok(S.p.tokens().scope.split(' ').includes(MULTI));
  writeFileSync(f, catalogue(S.r1, scopes.filter(([s]) => s !== MULTI), tools.filter(([n]) => n !== 'multi-greet')));
  await cli(S.gh, ['resource', 'update', '--file', f, '--yes']);
  r = await post(S.r1, toolCall(21, 'greet', { name: 'after' }), sessionHeaders());
  assert.equal(r.status, 401, 'the token that carried the removed scope is revoked');
  await r.body?.cancel();
});
