// DPoP (RFC 9449) end to end with a real client-side implementation: panva's oauth4webapi
// (`DPoP(client, keyPair)` handles, the `use_dpop_nonce` retry its documentation prescribes).
// Two Gatehouse nodes and a `gatehouse gateway` share one PostgreSQL database, in front of the
// MCP TypeScript SDK's unmodified example server. The client registers (DCR), signs in through
// the scripted browser (federated to oidc-provider), redeems the code at node A with a proof,
// calls the MCP endpoint through the gateway with DPoP, refreshes at node B with the same key.
// Refused: a proof replayed at the other node, a proof replayed at the gateway, the bound token
// as a plain Bearer token, and a refresh with another key.
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates its own database).
// Run: node --test tests/interop/dpop.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as oauth from 'oauth4webapi';
import { makePki } from './pki.mjs';
import { es256CryptoKeyPair } from './keys.mjs';
import { startIdp, ALICE } from './idp.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { Browser } from './browser.mjs';
import { freePort, createDatabase, registerPublicClient } from './presets-flow.mjs';
import { startGateway } from './gateway.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SDK_EXAMPLE = join(dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/sdk/server/mcp.js')),
  '..', 'examples', 'server', 'simpleStreamableHttp.js');
const FILL = { email: ALICE.email, login: ALICE.sub, password: 'any-password' };
const TIMEOUT = { timeout: 600_000 };
const GREET = 'demo:greet';
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const insecure = { [oauth.allowInsecureRequests]: true };
/** Every request the client library sent and what came back (for replays and failure dumps). */
const traffic = [];
const recordingFetch = async (url, init) => {
  const res = await fetch(url, init);
  traffic.push({ url: String(url), method: init?.method, headers: { ...init?.headers }, body: init?.body, status: res.status, nonce: res.headers.get('dpop-nonce'), www: res.headers.get('www-authenticate') });
  return res;
};
const lastTo = (path) => [...traffic].reverse().find((e) => new URL(e.url).pathname === path);
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
const rpc = (id, method, params) => JSON.stringify({ jsonrpc: '2.0', id, method, params });

/** oauth4webapi's documented pattern: one retry when the server asks for its nonce. */
async function withNonceRetry(fn) {
  try {
    return await fn();
  } catch (e) {
    if (!oauth.isDPoPNonceError(e)) throw e;
    S.nonceRetries = (S.nonceRetries ?? 0) + 1;
    return fn();
  }
}

/** A DPoP POST to the MCP endpoint through the gateway (protectedResourceRequest). */
async function mcp(token, dpop, body, extra = {}) {
  const send = () => oauth.protectedResourceRequest(token, 'POST', new URL(S.resource), new Headers({ ...MCP_HEADERS, ...extra }), body,
    { DPoP: dpop, ...insecure, [oauth.customFetch]: recordingFetch });
  const res = await withNonceRetry(send);
  return { status: res.status, session: res.headers.get('mcp-session-id'), text: await res.text() };
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
    S.runDir = join(HERE, '.run', `dpop-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-dpop-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());
    const [portA, portB, portG, portU] = await Promise.all(Array.from({ length: 4 }, freePort));
    S.issuer = `http://127.0.0.1:${portA}`;
    S.nodeBUrl = `http://127.0.0.1:${portB}`;
    const env = {
      ...process.env, DATABASE_URL: S.db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'), GATEHOUSE_ISSUER: S.issuer,
      GATEHOUSE_FETCH_CA_FILE: S.pki.caFile, GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32', RUST_LOG: process.env.RUST_LOG ?? 'info',
    };
    S.gh = { bin, env, logDir: S.runDir };
    const idpSecret = randomBytes(24).toString('base64url');
    S.idp = await startIdp({ ...S.pki, clientSecret: idpSecret });
    cleanups.push(() => S.idp.close());
    const upstream = await startSdkExample(portU);

    await cli(S.gh, ['migrate']);
    await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
    const conn = await cli(S.gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', S.idp.issuer,
      '--client-id', 'gatehouse', '--client-secret-file', '-'], idpSecret);
    S.idp.setRedirectUris([conn.redirect_uri]);
    S.resource = `http://127.0.0.1:${portG}/mcp`;
    const toml = join(S.runDir, 'demo.toml');
    writeFileSync(toml, [`uri = "${S.resource}"`, 'display_name = "Demo"',
      `[[scopes]]\nname = "${GREET}"\ndescription = "greet"\ntier = "routine"`,
      `[[tools]]\nname = "greet"\nscopes = ["${GREET}"]`].join('\n'));
    S.rs = await cli(S.gh, ['resource', 'register', '--file', toml]);
    await cli(S.gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.resource, '--scopes', GREET]);

    [S.nodeA, S.nodeB] = await Promise.all([startNode(S.gh, 'node-a', `127.0.0.1:${portA}`), startNode(S.gh, 'node-b', `127.0.0.1:${portB}`)]);
    cleanups.push(() => S.nodeA.stop(), () => S.nodeB.stop());
    S.gw = await startGateway(S.gh, 'gateway', { listen: `127.0.0.1:${portG}`, resource: S.resource, upstream });
    cleanups.push(() => S.gw.stop());
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const logs = ['node-a.log', 'node-b.log', 'gateway.log', 'cli.log', 'upstream-sdk-example.log'];
    const dump = [`logs: ${S.runDir}`, ...logs.map((f) => tail(join(S.runDir, f), 60)),
      `==> client traffic <==\n${traffic.map((e) => `${e.method} ${e.url} -> ${e.status} ${e.www ?? ''}`).join('\n')}`].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('metadata: the AS and the protected resource advertise DPoP', async () => {
  S.as = await oauth.processDiscoveryResponse(new URL(S.issuer),
    await oauth.discoveryRequest(new URL(S.issuer), { algorithm: 'oauth2', ...insecure }));
  assert.ok(S.as.dpop_signing_alg_values_supported.includes('ES256'));
  const prm = await (await fetch(S.gw.prmUrl)).json();
  assert.ok(prm.dpop_signing_alg_values_supported.includes('ES256'));
  assert.equal(prm.dpop_bound_access_tokens_required, false);
});

step('authorization code flow with DPoP at node A: token_type DPoP, introspection at node B names the key (cnf.jkt)', async () => {
  S.redirect = `http://127.0.0.1:${await freePort()}/callback`;
  S.client = { client_id: await registerPublicClient(S.issuer, S.redirect) };
  S.keys = await es256CryptoKeyPair();
  S.dpop = oauth.DPoP(S.client, S.keys);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(S.as.authorization_endpoint);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: S.client.client_id, redirect_uri: S.redirect,
    scope: GREET, resource: S.resource, state, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })) {
    url.searchParams.set(k, v);
  }
  const params = await new Browser({ ca: S.pki.ca, fill: FILL }).authorize(url.href, S.redirect);
  const callback = oauth.validateAuthResponse(S.as, S.client, new URL(`${S.redirect}?${new URLSearchParams(params)}`), state);
  const tokens = await withNonceRetry(async () => oauth.processAuthorizationCodeResponse(S.as, S.client,
    await oauth.authorizationCodeGrantRequest(S.as, S.client, oauth.None(), callback, S.redirect, verifier,
      { DPoP: S.dpop, additionalParameters: { resource: S.resource }, ...insecure, [oauth.customFetch]: recordingFetch })));
  assert.equal(tokens.token_type, 'dpop');
  assert.ok(S.nonceRetries >= 1, 'the AS asked for its nonce first (use_dpop_nonce) and the library retried');
  assert.ok(tokens.refresh_token);
  S.tokens = tokens;
  S.tokenProof = lastTo('/oauth/token');
  assert.equal(S.tokenProof.status, 200);
  const basic = Buffer.from(`${S.rs.introspection_client_id}:${S.rs.introspection_client_secret}`).toString('base64');
  const intro = await (await fetch(`${S.nodeBUrl}/oauth/introspect`, { method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: tokens.access_token }) })).json();
  assert.equal(intro.active, true);
  assert.equal(intro.token_type, 'DPoP');
  assert.equal(intro.cnf?.jkt, await S.dpop.calculateThumbprint());
});

step('the same proof replayed at node B is refused (jti single use across nodes)', async () => {
  const p = S.tokenProof;
  const res = await fetch(`${S.nodeBUrl}/oauth/token`, { method: 'POST', headers: p.headers, body: p.body });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error, 'invalid_dpop_proof');
  assert.match(body.error_description, /already used/);
});

step('MCP through the gateway with DPoP: initialize, tools/list, tools/call', async () => {
  const init = await mcp(S.tokens.access_token, S.dpop,
    rpc(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'oauth4webapi-dpop', version: '1' } }));
  assert.equal(init.status, 200, init.text);
  assert.ok(init.session, 'the upstream opened a session');
  S.mcpSession = { 'mcp-session-id': init.session };
  await mcp(S.tokens.access_token, S.dpop, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), S.mcpSession);
  const list = await mcp(S.tokens.access_token, S.dpop, rpc(2, 'tools/list', {}), S.mcpSession);
  assert.equal(list.status, 200, list.text);
  assert.match(list.text, /"greet"/);
  const call = await mcp(S.tokens.access_token, S.dpop, rpc(3, 'tools/call', { name: 'greet', arguments: { name: 'Alice' } }), S.mcpSession);
  assert.equal(call.status, 200, call.text);
  assert.match(call.text, /Hello, Alice!/);
  const sent = lastTo('/mcp');
  assert.match(sent.headers.authorization, /^DPoP /);
  assert.ok(sent.headers.dpop);
  S.mcpProof = sent;
});

step('the gateway refuses a replayed proof and the bound token as a Bearer token', async () => {
  const p = S.mcpProof;
  const replay = await fetch(S.resource, { method: 'POST', headers: p.headers, body: p.body });
  assert.equal(replay.status, 401);
  assert.match(replay.headers.get('www-authenticate'), /^DPoP error="invalid_dpop_proof"/);
  const bearer = await fetch(S.resource, { method: 'POST', headers: { ...MCP_HEADERS, ...S.mcpSession, authorization: `Bearer ${S.tokens.access_token}` },
    body: rpc(4, 'tools/list', {}) });
  assert.equal(bearer.status, 401);
  const www = bearer.headers.get('www-authenticate');
  assert.match(www, /^DPoP error="invalid_token"/);
  assert.match(www, new RegExp(`resource_metadata="${S.gw.prmUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
  // oauth4webapi reads the challenge as a DPoP one.
  const res = await oauth.protectedResourceRequest(S.tokens.access_token, 'POST', new URL(S.resource), new Headers(MCP_HEADERS), rpc(5, 'tools/list', {}), insecure)
    .then(() => null, (e) => e);
  assert.ok(res instanceof oauth.WWWAuthenticateChallengeError);
  assert.equal(res.cause[0].scheme, 'dpop');
});

step('refresh at node B with the same key keeps the binding; another key is refused', async () => {
  const nodeB = { ...S.as, token_endpoint: `${S.nodeBUrl}/oauth/token` };
  // htu is the issuer's token endpoint (what metadata names), whichever node answers.
  const asB = { ...nodeB, token_endpoint: S.as.token_endpoint };
  const other = oauth.DPoP(S.client, await es256CryptoKeyPair());
  const wrong = await withNonceRetry(async () => oauth.processRefreshTokenResponse(asB, S.client,
    await oauth.refreshTokenGrantRequest(asB, S.client, oauth.None(), S.tokens.refresh_token, { DPoP: other, ...insecure, [oauth.customFetch]: recordingFetch })))
    .then(() => null, (e) => e);
  assert.ok(wrong instanceof oauth.ResponseBodyError, String(wrong));
  assert.equal(wrong.error, 'invalid_grant');
  // The right key, sent to node B: the proof's htu is the token endpoint of the metadata.
  const toNodeB = async (url, init) => recordingFetch(String(url).replace(S.issuer, S.nodeBUrl), init);
  const refreshed = await withNonceRetry(async () => oauth.processRefreshTokenResponse(asB, S.client,
    await oauth.refreshTokenGrantRequest(asB, S.client, oauth.None(), S.tokens.refresh_token, { DPoP: S.dpop, ...insecure, [oauth.customFetch]: toNodeB })));
  assert.equal(refreshed.token_type, 'dpop');
  assert.ok(lastTo('/oauth/token').url.startsWith(S.nodeBUrl), 'the refresh was answered by node B');
  const call = await mcp(refreshed.access_token, S.dpop, rpc(6, 'tools/call', { name: 'greet', arguments: { name: 'Bob' } }), S.mcpSession);
  assert.equal(call.status, 200, call.text);
  assert.match(call.text, /Hello, Bob!/);
});
