// Dynamic client registration as the MCP TypeScript SDK does it: `registerClient()` validates the
// whole response with its zod schema, so a single `"scope": null` or
// `"registration_client_uri": null` (RFC 7591 §3.2.1: members are strings, absent ones are
// left out) makes the SDK throw. Env: GATEHOUSE_BIN, DATABASE_URL (any database on the
// PostgreSQL server to use: this file creates and drops its own gh_interop_<hex> database).
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from './presets-flow.mjs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverAuthorizationServerMetadata, registerClient } from '@modelcontextprotocol/sdk/client/auth.js';
import { cli, startNode, tail } from './gatehouse.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 120_000 };
const S = {};
const cleanups = [];
let failed = false;

const dbUrl = (base, name) => { const u = new URL(base); u.pathname = `/${name}`; return u.href; };
const psql = (url, sql) => execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
function adminPsql(sql) {
  const candidates = [process.env.DATABASE_URL, dbUrl(process.env.DATABASE_URL, 'postgres'), dbUrl(process.env.DATABASE_URL, 'test')];
  let last;
  for (const url of candidates) {
    try { return psql(url, sql); } catch (e) { last = e; if (!/does not exist/.test(String(e.stderr))) break; }
  }
  throw new Error(`psql failed: ${last?.stderr ?? last}`);
}
const nulls = (v, path = '$') => v === null ? [path]
  : Array.isArray(v) ? v.flatMap((x, i) => nulls(x, `${path}[${i}]`))
    : typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => nulls(x, `${path}.${k}`)) : [];

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin, 'GATEHOUSE_BIN must point at the gatehouse binary');
    assert.ok(DATABASE_URL, 'DATABASE_URL must name a database on the PostgreSQL server to use');
    S.runDir = join(HERE, '.run', `dcr-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
    mkdirSync(S.runDir, { recursive: true });
    S.dbName = `gh_interop_${randomBytes(6).toString('hex')}`;
    adminPsql(`CREATE DATABASE ${S.dbName}`);
    cleanups.push(() => (process.env.GATEHOUSE_KEEP_DB ? console.error(`kept database ${S.dbName}`) : adminPsql(`DROP DATABASE IF EXISTS ${S.dbName} WITH (FORCE)`)));
    const port = await freePort();
    S.issuer = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env, DATABASE_URL: dbUrl(DATABASE_URL, S.dbName),
      GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'),
      GATEHOUSE_ISSUER: S.issuer,
      RUST_LOG: process.env.RUST_LOG ?? 'info',
    };
    const gh = { bin, env, logDir: S.runDir };
    await cli(gh, ['migrate']);
    S.node = await startNode(gh, 'node', `127.0.0.1:${port}`);
    cleanups.push(() => S.node?.stop());
    S.metadata = await discoverAuthorizationServerMetadata(S.issuer);
    assert.ok(S.metadata?.registration_endpoint, 'metadata names a registration endpoint');
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) console.error(`logs: ${S.runDir}\n${tail(join(S.runDir, 'node.log'), 60)}`);
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e.message ?? e));
});

const guard = (fn) => async () => { try { await fn(); } catch (e) { failed = true; throw e; } };

test('the SDK registers a public client without a scope', TIMEOUT, guard(async () => {
  const clientMetadata = {
    client_name: 'Interop SDK client', redirect_uris: ['http://127.0.0.1:33418/callback'],
    grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none',
  };
  const info = await registerClient(S.issuer, { metadata: S.metadata, clientMetadata });
  assert.match(info.client_id, /^dcr_/);
  assert.equal(info.scope, undefined, 'no scope registered, none stated');
  assert.equal(info.registration_client_uri, undefined, 'a shared public client has no management URI');
  assert.equal(info.client_secret, undefined);
}));

test('the SDK registers a confidential client without a scope; no member is null', TIMEOUT, guard(async () => {
  const clientMetadata = {
    client_name: 'Interop SDK confidential client', redirect_uris: ['https://client.example/cb'],
    grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
  };
  const info = await registerClient(S.issuer, { metadata: S.metadata, clientMetadata });
  assert.ok(info.client_secret, 'a secret was issued');
  assert.equal(info.scope, undefined);
  // The SDK keeps only the members it knows; the raw answers (registration and the RFC 7592
  // read) must hold no null either.
  const reg = await fetch(S.metadata.registration_endpoint, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(clientMetadata),
  });
  assert.equal(reg.status, 201);
  const raw = await reg.json();
  assert.deepEqual(nulls(raw), [], `null members in ${JSON.stringify(raw)}`);
  assert.match(raw.registration_client_uri, /\/oauth\/register\/dcr_/);
  const r = await fetch(raw.registration_client_uri, { headers: { authorization: `Bearer ${raw.registration_access_token}` } });
  assert.equal(r.status, 200);
  const doc = await r.json();
  assert.deepEqual(nulls(doc), [], `null members in ${JSON.stringify(doc)}`);
  assert.equal('scope' in doc, false);
}));
