// Tenant service accounts (issue 14 §3) with the MCP TypeScript SDK's own machine-client
// providers: `ClientCredentialsProvider` (client_secret_basic) and `PrivateKeyJwtProvider`
// (RFC 7523 private_key_jwt, a key pair generated here with `jose`) as the `authProvider` of
// `StreamableHTTPClientTransport`, through `gatehouse gateway` in front of the SDK's unmodified
// example server. Two Gatehouse nodes and the gateway share one PostgreSQL database; the
// accounts are created with the CLI. Disabling an account through the admin API of node B cuts
// off the token node A issued at the gateway's next call, and the SDK cannot get a new one.
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates its own database).
// Run: node --test tests/interop/service-accounts.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportJWK, exportPKCS8 } from 'jose';
import { keyPair } from './keys.mjs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { cli, startNode, tail } from './gatehouse.mjs';
import { freePort, psql, createDatabase } from './presets-flow.mjs';
import { startRecorder } from './upstream-recorder.mjs';
import { startGateway } from './gateway.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const SDK_EXAMPLE = join(dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/sdk/server/mcp.js')),
  '..', 'examples', 'server', 'simpleStreamableHttp.js');
const TIMEOUT = { timeout: 300_000 };
const GREET = 'demo:greet'; //  routine: greet
const MULTI = 'demo:multi'; //  sensitive: multi-greet
const FILES = 'demo:files'; //  critical: list-files (never for a service account)
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });
const text = (result) => result.content?.map((c) => c.text).join('\n');

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

/** A fetch that records { method, url, status } of every request the SDK makes. */
const recording = (traffic) => async (input, init = {}) => {
  const url = String(input instanceof Request ? input.url : input);
  const entry = { method: init.method ?? 'GET', url };
  traffic.push(entry);
  const res = await fetch(input, init);
  entry.status = res.status;
  if ((res.headers.get('content-type') ?? '').includes('application/json')) entry.json = await res.clone().json().catch(() => undefined);
  return res;
};

/** An MCP session through the gateway with a machine-client provider (no browser, no redirect). */
async function session(provider, traffic) {
  const transport = new StreamableHTTPClientTransport(new URL(S.resource), { authProvider: provider, fetch: recording(traffic) });
  const client = new Client({ name: 'service-account-interop', version: '1.0.0' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return client;
}

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
    S.runDir = join(HERE, '.run', `service-accounts-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-sa-'));
    cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
    S.tmp = tmp;
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());
    const [portA, portB, portG, portU] = await Promise.all(Array.from({ length: 4 }, freePort));
    S.issuer = `http://127.0.0.1:${portA}`;
    const env = {
      ...process.env, DATABASE_URL: S.db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'), GATEHOUSE_ISSUER: S.issuer,
      RUST_LOG: process.env.RUST_LOG ?? 'info',
    };
    S.gh = { bin, env, logDir: S.runDir };
    S.upstream = await startSdkExample(portU);
    S.rec = await startRecorder(S.upstream);
    cleanups.push(() => S.rec.close());

    await cli(S.gh, ['migrate']);
    await cli(S.gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme Corp', '--domain', 'acme.test']);
    S.resource = `http://127.0.0.1:${portG}/mcp`;
    const f = join(S.runDir, 'demo.toml');
    writeFileSync(f, catalogue(S.resource, [[GREET, 'routine'], [MULTI, 'sensitive'], [FILES, 'critical']],
      [['greet', [GREET]], ['multi-greet', [MULTI]], ['list-files', [FILES]]]));
    S.rs = await cli(S.gh, ['resource', 'register', '--file', f]);
    S.adminKey = (await cli(S.gh, ['admin-key', 'create', '--tenant', 'acme'])).key;

    [S.nodeA, S.nodeB] = await Promise.all([startNode(S.gh, 'node-a', `127.0.0.1:${portA}`), startNode(S.gh, 'node-b', `127.0.0.1:${portB}`)]);
    cleanups.push(() => S.nodeA.stop(), () => S.nodeB.stop());
    S.gw = await startGateway(S.gh, 'gateway', { listen: `127.0.0.1:${portG}`, resource: S.resource, upstream: S.rec.url });
    cleanups.push(() => S.gw.stop());
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const logs = ['node-a.log', 'node-b.log', 'gateway.log', 'cli.log', 'upstream-sdk-example.log'];
    const dump = [`logs: ${S.runDir}`, ...logs.map((f) => tail(join(S.runDir, f), 60)),
      `==> SDK traffic <==\n${(S.traffic ?? []).map((e) => `${e.method} ${e.url} -> ${e.status} ${JSON.stringify(e.json ?? '').slice(0, 300)}`).join('\n')}`].join('\n\n');
    writeFileSync(join(S.runDir, 'failure-dump.txt'), dump);
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step('the metadata lists client_credentials and private_key_jwt; the CLI refuses a critical scope', async () => {
  const md = await (await fetch(`${S.issuer}/.well-known/oauth-authorization-server`)).json();
  assert.ok(md.grant_types_supported.includes('client_credentials'));
  assert.ok(md.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
  assert.ok(md.token_endpoint_auth_signing_alg_values_supported.includes('ES256'));
  await assert.rejects(cli(S.gh, ['service-account', 'create', '--tenant', 'acme', '--name', 'root',
    '--grant', `${S.resource}=${GREET},${FILES}`]), /critical/);
});

step('ClientCredentialsProvider (client_secret_basic) lists and calls a tool through the gateway', async () => {
  const created = await cli(S.gh, ['service-account', 'create', '--tenant', 'acme', '--name', 'report-agent',
    '--grant', `${S.resource}=${GREET},${MULTI}`]);
  assert.match(created.client_secret, /^ghsvc_/);
  S.secretAccount = created;
  S.traffic = [];
  const provider = new ClientCredentialsProvider({ clientId: created.client_id, clientSecret: created.client_secret, expectedIssuer: S.issuer });
  S.secretClient = await session(provider, S.traffic);
  const tokenCall = S.traffic.find((e) => e.url.endsWith('/oauth/token'));
  assert.equal(tokenCall?.status, 200, 'the SDK got a token by client_credentials');
  assert.equal(provider.tokens().refresh_token, undefined, 'no refresh token (RFC 6749 §4.4.3)');
  const { tools } = await S.secretClient.listTools();
  const names = tools.map((t) => t.name);
  assert.ok(names.includes('greet'), `${names}`);
  assert.ok(!names.includes('list-files'), 'never a critical tool');
  const result = await S.secretClient.callTool({ name: 'greet', arguments: { name: 'agent' } });
  assert.equal(text(result), 'Hello, agent!');
  // Introspection at node B: the subject is the service account, a service identity.
  const basic = Buffer.from(`${S.rs.introspection_client_id}:${S.rs.introspection_client_secret}`).toString('base64');
  const res = await fetch(`${S.nodeB.base}/oauth/introspect`, { method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: provider.tokens().access_token }) });
  const i = await res.json();
  assert.equal(i.active, true, JSON.stringify(i));
  assert.equal(i.sub, created.service_account);
  assert.equal(i.client_id, created.client_id);
  assert.equal(i.subject_type, 'service');
  assert.equal(i.credential_kind, 'client_credentials');
});

step('PrivateKeyJwtProvider (an ES256 key pair generated here) lists and calls a tool', async () => {
  const { publicKey, privateKey } = keyPair('ec', { namedCurve: 'P-256' });
  const jwk = await exportJWK(publicKey);
  const file = join(S.tmp, 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [jwk] }));
  const created = await cli(S.gh, ['service-account', 'create', '--tenant', 'acme', '--name', 'signing-agent',
    '--grant', `${S.resource}=${GREET}`, '--auth', 'private_key_jwt', '--jwks-file', file]);
  assert.equal(created.client_secret, undefined, 'a key account has no secret');
  const traffic = [];
  const provider = new PrivateKeyJwtProvider({ clientId: created.client_id, privateKey: await exportPKCS8(privateKey),
    algorithm: 'ES256', expectedIssuer: S.issuer });
  const client = await session(provider, traffic);
  const tokenCall = traffic.find((e) => e.url.endsWith('/oauth/token'));
  assert.equal(tokenCall?.status, 200, 'the signed assertion authenticated the account');
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name), ['greet']);
  assert.equal(text(await client.callTool({ name: 'greet', arguments: { name: 'signer' } })), 'Hello, signer!');
});

step('disabling the account at node B ends its token at the gateway at once; the SDK cannot get a new one', async () => {
  const res = await fetch(`${S.nodeB.base}/admin/api/v1/tenants/acme/service-accounts/${S.secretAccount.service_account}/disable`,
    { method: 'POST', headers: { authorization: `Bearer ${S.adminKey}` } });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(body.enabled, false);
  assert.ok(body.tokens_revoked >= 1);
  const before = S.rec.received.length;
  const mark = S.traffic.length;
  await assert.rejects(S.secretClient.callTool({ name: 'greet', arguments: { name: 'again' } }));
  const after = S.traffic.slice(mark);
  assert.equal(after.find((e) => e.url === S.resource)?.status, 401, 'the gateway refused the revoked token');
  const retry = after.find((e) => e.url.endsWith('/oauth/token'));
  assert.equal(retry?.status, 401, 'the token endpoint refused the disabled account');
  assert.equal(retry.json?.error, 'invalid_client');
  assert.equal(S.rec.received.length, before, 'nothing reached the upstream');
  const rows = psql(S.db.url, "SELECT action || ' ' || coalesce(actor, '') FROM audit_events WHERE action LIKE 'service_account.%' OR (action = 'token.issued' AND actor LIKE 'service:%') ORDER BY id");
  assert.match(rows, /service_account\.created/);
  assert.match(rows, /service_account\.disabled/);
  assert.match(rows, /token\.issued service:/);
});
