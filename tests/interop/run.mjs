// Gatehouse end-to-end interop test. Env: GATEHOUSE_BIN, DATABASE_URL (an empty database).
// Run: node --test tests/interop/   (see README.md)
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from './pki.mjs';
import { startIdp, ALICE } from './idp.mjs';
import { startMcpServer, TOOL_TEXT } from './mcp-server.mjs';
import { cli, startNode, tail } from './gatehouse.mjs';
import { Browser, request, pageText } from './browser.mjs';
import { MemoryProvider, connectWithAuth, startCimdHost } from './client.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const FILL = { email: ALICE.email, login: ALICE.sub, password: 'any-password' };
const TIMEOUT = { timeout: 180_000 };
const cleanups = [];
const S = {}; // shared state, filled by before()
let failed = false;

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); }).on('error', reject);
});
const redirectUrlFor = async () => `http://127.0.0.1:${await freePort()}/callback`; // nothing listens there
const postForm = (url, params, headers = {}) => fetch(url, {
  method: 'POST', body: new URLSearchParams(params),
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
});
const introspect = async (token) => {
  const basic = Buffer.from(`${S.introspection.id}:${S.introspection.secret}`).toString('base64');
  const res = await postForm(`${S.nodeB.base}/oauth/introspect`, { token }, { authorization: `Basic ${basic}` });
  assert.equal(res.status, 200, 'introspection at node B');
  return res.json();
};
const callTool = (client) => client.callTool({ name: 'list_customers', arguments: { limit: 10 } });
const grantOf = (e) => new URLSearchParams(e.request ?? '').get('grant_type');
const tokenCalls = (traffic, grant) => traffic.filter((e) => e.origin === S.issuer && e.path === '/oauth/token' && (!grant || grantOf(e) === grant));
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin, 'GATEHOUSE_BIN must point at the gatehouse binary');
    assert.ok(DATABASE_URL, 'DATABASE_URL must name an empty PostgreSQL database');
    S.runDir = join(HERE, '.run', `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-interop-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.pki = makePki(tmp);

    const [portA, portB] = [await freePort(), await freePort()];
    S.issuer = `http://127.0.0.1:${portA}`;
    const env = {
      ...process.env, DATABASE_URL,
      GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'),
      GATEHOUSE_ISSUER: S.issuer,
      GATEHOUSE_FETCH_CA_FILE: S.pki.caFile,
      GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
      // CIMD documents are fetched by a stricter fetcher: tests opt in explicitly.
      GATEHOUSE_CIMD_FETCH_CA_FILE: S.pki.caFile,
      GATEHOUSE_CIMD_FETCH_ALLOW_CIDRS: '127.0.0.2/32',
      RUST_LOG: process.env.RUST_LOG ?? 'info',
    };
    const gh = { bin, env, logDir: S.runDir };

    const idpSecret = randomBytes(24).toString('base64url');
    S.idp = await startIdp({ ...S.pki, clientSecret: idpSecret });
    cleanups.push(() => S.idp.close());
    S.mcpCfg = { issuer: S.issuer, introspectionBase: `http://127.0.0.1:${portB}` };
    S.mcp = await startMcpServer(S.mcpCfg);
    cleanups.push(() => S.mcp.close());
    S.cimd = await startCimdHost(S.pki);
    cleanups.push(() => S.cimd.close());

    await cli(gh, ['migrate']);
    const tenant = await cli(gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
    assert.equal(tenant.slug, 'acme');
    assert.match(tenant.tenant_id ?? '', /^[0-9a-f-]{36}$/i, 'tenant create prints tenant_id');
    const conn = await cli(gh, ['connection', 'add-oidc', '--tenant', 'acme', '--issuer', S.idp.issuer,
      '--client-id', 'gatehouse', '--client-secret-file', '-'], idpSecret);
    assert.equal(conn.redirect_uri, `${S.issuer}/federation/oidc/${conn.connection_id}/callback`);
    S.idp.setRedirectUris([conn.redirect_uri]);

    const toml = join(S.runDir, 'resource.toml');
    writeFileSync(toml, `uri = "${S.mcp.url}"
display_name = "Interop CRM"
[[scopes]]
name = "crm:customers:read"
description = "Read customers"
tier = "routine"
[[scopes]]
name = "crm:customers:export"
description = "Export customers"
tier = "sensitive"
[[scopes]]
name = "crm:billing:write"
description = "Change billing"
tier = "critical"
[[tools]]
name = "list_customers"
scopes = ["crm:customers:read"]
`);
    const res = await cli(gh, ['resource', 'register', '--file', toml]);
    assert.equal(res.resource, S.mcp.url);
    assert.ok(res.introspection_client_id && res.introspection_client_secret, 'resource register prints introspection credentials');
    S.introspection = { id: res.introspection_client_id, secret: res.introspection_client_secret };
    Object.assign(S.mcpCfg, { clientId: S.introspection.id, clientSecret: S.introspection.secret });
    await cli(gh, ['grant', 'add', '--tenant', 'acme', '--resource', S.mcp.url, '--scopes', 'crm:customers:read crm:customers:export']);

    [S.nodeA, S.nodeB] = await Promise.all([
      startNode(gh, 'node-a', `127.0.0.1:${portA}`),
      startNode(gh, 'node-b', `127.0.0.1:${portB}`),
    ]);
  } catch (e) { failed = true; throw e; }
  finally {
    for (const n of ['nodeA', 'nodeB']) cleanups.push(() => S[n]?.stop());
  }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const dump = [
      `logs: ${S.runDir}`,
      ...['node-a.log', 'node-b.log', 'cli.log'].map((f) => tail(join(S.runDir, f), 80)),
      `==> MCP server events <==\n${(S.mcp?.events ?? []).map((e) => JSON.stringify(e)).join('\n')}`,
      `==> IdP requests <==\n${(S.idp?.requests ?? []).join('\n')}`,
      `==> SDK traffic <==\n${(S.traffic ?? []).map((e) => `${e.method} ${e.origin}${e.path} -> ${e.status} ${JSON.stringify(e.json ?? '')}`).join('\n')}`,
    ].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

function assertAuthCodeTokens(traffic) {
  const [code] = tokenCalls(traffic, 'authorization_code');
  assert.ok(code, 'an authorization_code token request was made');
  assert.equal(code.status, 200, `token response: ${JSON.stringify(code.json)}`);
  assert.match(code.json.scope, /(^| )crm:customers:read( |$)/);
  assert.ok(code.json.refresh_token, 'token response carries a refresh_token');
  assert.equal(new URLSearchParams(code.request).get('resource'), S.mcp.url, 'SDK sent the RFC 8707 resource');
  return code.json;
}
function assertAudited(clientId) {
  const audits = S.mcp.events.filter((e) => e.kind === 'audit');
  assert.ok(audits.length, 'the MCP server posted audit events');
  for (const a of audits) assert.equal(a.status, 202, `audit POST /audit/v1/events answered ${a.status}: ${a.body}`);
  assert.equal(audits.at(-1).sent.client_id, clientId, 'introspection client_id');
}
function assertCallback(provider) {
  assert.equal(provider.callback.iss, S.issuer, 'authorization response iss (RFC 9207)');
  assert.equal(provider.callback.state, provider.lastState, 'authorization response state');
  const authUrl = provider.authorizations[0];
  assert.equal(authUrl.origin + authUrl.pathname, `${S.issuer}/oauth/authorize`);
  assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
}

step('run 1: DCR client, login via upstream IdP, refresh rotation, revocation', async () => {
  const traffic = (S.traffic = []);
  const provider = new MemoryProvider({ redirectUrl: await redirectUrlFor(), clientName: 'Interop Client', browser: new Browser({ ca: S.pki.ca, fill: FILL }) });
  const client = await connectWithAuth(S.mcp.url, provider, traffic);
  assertCallback(provider);
  const reg = traffic.find((e) => e.path === '/oauth/register');
  assert.equal(reg?.status, 201, 'dynamic client registration at /oauth/register');
  const clientId = provider.clientInformation().client_id;
  assert.equal(reg.json.client_id, clientId);

  let result = await callTool(client);
  assert.equal(result.content[0].text, TOOL_TEXT);
  const t1 = assertAuthCodeTokens(traffic);
  assertAudited(clientId);

  // Revoke the access token at node A; the MCP server introspects at node B → 401 → SDK refreshes.
  let rv = await postForm(`${S.nodeA.base}/oauth/revoke`, { token: t1.access_token, client_id: clientId });
  assert.equal(rv.status, 200, 'revoke access token');
  result = await callTool(client);
  assert.equal(result.content[0].text, TOOL_TEXT);
  const refresh = tokenCalls(traffic, 'refresh_token');
  assert.equal(refresh.length, 1, 'exactly one refresh');
  assert.equal(refresh[0].status, 200, `refresh response: ${JSON.stringify(refresh[0].json)}`);
  const t2 = refresh[0].json;
  assert.ok(t2.refresh_token && t2.refresh_token !== t1.refresh_token, 'refresh token rotated');
  assert.notEqual(t2.access_token, t1.access_token);
  assert.equal(provider.tokens().access_token, t2.access_token);
  assert.ok(S.mcp.events.some((e) => e.kind === 'introspect' && JSON.parse(e.body).active === false), 'node B reported the revoked token inactive');

  // Revoke the current refresh token: its access token dies too; refresh then fails with invalid_grant.
  rv = await postForm(`${S.nodeA.base}/oauth/revoke`, { token: t2.refresh_token, token_type_hint: 'refresh_token', client_id: clientId });
  assert.equal(rv.status, 200, 'revoke refresh token');
  provider.blockAuthorization = true;
  const before = provider.authorizations.length;
  await assert.rejects(callTool(client), /re-authorization requested/, 'tool call must fail once the grant is revoked, ending in interactive re-authorization');
  const last = tokenCalls(traffic, 'refresh_token').at(-1);
  assert.notEqual(last, refresh[0], 'the SDK attempted another refresh');
  assert.equal(last.status, 400);
  assert.equal(last.json?.error, 'invalid_grant');
  assert.equal(provider.authorizations.length, before + 1, 'the SDK fell back to interactive authorization');
  assert.equal((await introspect(t1.access_token)).active, false, 'first access token inactive');
  assert.equal((await introspect(t2.access_token)).active, false, 'access token of the revoked refresh token inactive');
  await client.close();
});

step('run 2: Client ID Metadata Document client', async () => {
  const traffic = (S.traffic = []);
  const redirectUrl = await redirectUrlFor();
  const cimdUrl = `${S.cimd.base}/client.json`;
  S.cimd.docs.set('/client.json', {
    client_id: cimdUrl, client_name: 'Interop CIMD Client', redirect_uris: [redirectUrl],
    grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none',
  });
  const provider = new MemoryProvider({ redirectUrl, clientName: 'Interop CIMD Client', clientMetadataUrl: cimdUrl, browser: new Browser({ ca: S.pki.ca, fill: FILL }) });
  const client = await connectWithAuth(S.mcp.url, provider, traffic);
  assertCallback(provider);
  const asMeta = traffic.find((e) => e.path === '/.well-known/oauth-authorization-server' && e.status === 200);
  assert.equal(asMeta?.json?.client_id_metadata_document_supported, true, 'AS metadata advertises CIMD');
  assert.equal(asMeta.json.issuer, S.issuer);
  assert.ok(!traffic.some((e) => e.path === '/oauth/register'), 'no dynamic registration in the CIMD run');
  assert.equal(provider.clientInformation().client_id, cimdUrl);
  assert.equal(provider.authorizations[0].searchParams.get('client_id'), cimdUrl);
  assert.ok(S.cimd.hits.includes('/client.json'), 'Gatehouse fetched the metadata document');
  const result = await callTool(client);
  assert.equal(result.content[0].text, TOOL_TEXT);
  assertAuthCodeTokens(traffic);
  assertAudited(cimdUrl);
  await client.close();
});

step('CIMD negative cases at /oauth/authorize', async () => {
  const redirectUrl = await redirectUrlFor();
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  const authorize = (clientId) => request(`${S.nodeA.base}/oauth/authorize?${new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: redirectUrl, scope: 'crm:customers:read',
    code_challenge: challenge, code_challenge_method: 'S256', state: 'neg-state', resource: S.mcp.url,
  })}`, { headers: { accept: 'text/html' } });
  const doc = (clientId) => ({ client_id: clientId, client_name: 'Bad', redirect_uris: [redirectUrl], token_endpoint_auth_method: 'none' });

  S.cimd.docs.set('/mismatch.json', doc(`${S.cimd.base}/someone-else.json`));
  let res = await authorize(`${S.cimd.base}/mismatch.json`);
  assert.equal(res.status, 400, `client_id mismatch: HTTP ${res.status} ${pageText(res.body)}`);
  assert.match(res.headers['content-type'] ?? '', /text\/html/);
  assert.match(pageText(res.body), /client_id/);
  assert.ok(S.cimd.hits.includes('/mismatch.json'), 'Gatehouse fetched the mismatching document');

  S.cimd.docs.set('/target.json', doc(`${S.cimd.base}/target.json`));
  S.cimd.redirects.set('/moved.json', `${S.cimd.base}/target.json`);
  res = await authorize(`${S.cimd.base}/moved.json`);
  assert.equal(res.status, 400, `redirecting CIMD URL: HTTP ${res.status} ${pageText(res.body)}`);
  assert.equal(res.headers.location, undefined, 'no redirect to the unverified redirect_uri');
  // Security review F4: an anonymous caller learns nothing of what the URL answered.
  assert.doesNotMatch(pageText(res.body), /302|redirect(s| \()/i, 'the page does not reveal the redirect');
  assert.ok(S.cimd.hits.includes('/moved.json'), 'Gatehouse fetched the redirecting URL');
  assert.ok(!S.cimd.hits.includes('/target.json'), 'Gatehouse did not follow the redirect');
});
