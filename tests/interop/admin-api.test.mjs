// The admin API against a live node on PostgreSQL: its OpenAPI document validates
// (openapi-spec-validator), and the property-based fuzzer schemathesis runs against it as a
// tenant admin and as an operator — authenticated, so the calls reach the handlers — with no
// 5xx answer (check `not_a_server_error`).
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates and drops its own
// database). The peers come from admin/requirements.txt in tests/interop/.venv-admin.
// Run: node --test tests/interop/admin-api.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli, startNode, tail } from './gatehouse.mjs';
import { freePort, createDatabase } from './presets-flow.mjs';
import { adminPeersPython, run } from './venv.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 300_000 };
const S = {};
const cleanups = [];

before(async () => {
  const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
  assert.ok(bin, 'GATEHOUSE_BIN must point at the gatehouse binary');
  assert.ok(DATABASE_URL, 'DATABASE_URL must name a PostgreSQL server');
  S.runDir = join(HERE, '.run', `admin-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  mkdirSync(S.runDir, { recursive: true });
  const log = (s) => appendFileSync(join(S.runDir, 'setup.log'), `${s}\n`);
  S.python = await adminPeersPython(log);
  S.db = createDatabase(DATABASE_URL);
  cleanups.push(() => S.db.drop());
  const port = await freePort();
  const gh = {
    bin, logDir: S.runDir,
    // The fuzzer sends more than a minute's admin API budget per key (default 1,200): raise it
    // so every case reaches a handler instead of a 429.
    env: { ...process.env, DATABASE_URL: S.db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'), GATEHOUSE_ISSUER: `http://127.0.0.1:${port}`,
      GATEHOUSE_RATE_ADMIN_API_PER_KEY_PER_MINUTE: '1000000' },
  };
  await cli(gh, ['migrate']);
  await cli(gh, ['tenant', 'create', '--slug', 'acme', '--name', 'Acme', '--domain', 'acme.test']);
  S.operatorKey = (await cli(gh, ['operator-key', 'create', '--name', 'fuzz'])).key;
  S.adminKey = (await cli(gh, ['admin-key', 'create', '--tenant', 'acme', '--name', 'fuzz'])).key;
  assert.match(S.operatorKey, /^ghop_/);
  assert.match(S.adminKey, /^ghadm_/);
  S.node = await startNode(gh, 'node', `127.0.0.1:${port}`);
  cleanups.push(() => S.node.stop());
  S.api = `${S.node.base}/admin/api/v1`;
});

after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** One schemathesis run; its output is saved, and printed when it fails. */
async function fuzz(label, key, tag, extraArgs = []) {
  // The key reaches the handlers (a run that only met 401s would prove nothing).
  const probe = await fetch(`${S.api}${tag === 'tenant' ? '/tenants/acme/scim-tokens' : '/tenants'}`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(probe.status, 200, `the ${label} key is accepted`);
  const config = join(S.runDir, 'schemathesis.toml');
  writeFileSync(config, '[parameters]\n"path.tenant" = "acme"\n');
  const args = ['-m', 'schemathesis.cli', '--config-file', config, 'run', `${S.api}/openapi.json`,
    '--url', S.api, '-H', `Authorization: Bearer ${key}`, '--checks', 'not_a_server_error',
    '--include-tag', tag, '--max-examples', '30', '--seed', '1', ...extraArgs];
  const r = await run(S.python, args, { timeoutMs: 240_000 });
  writeFileSync(join(S.runDir, `schemathesis-${label}.log`), r.out.replaceAll(key, '<key>'));
  assert.equal(r.code, 0, `schemathesis (${label}) found server errors or failed:\n${r.out.replaceAll(key, '<key>').slice(-4000)}\n${tail(S.node.logFile)}`);
  const generated = Number(r.out.match(/(\d+) generated/)?.[1] ?? 0);
  assert.ok(generated > 20, `schemathesis (${label}) generated too few cases:\n${r.out.slice(-2000)}`);
  return r.out;
}

test('the OpenAPI document validates as OpenAPI 3.1', TIMEOUT, async () => {
  const res = await fetch(`${S.api}/openapi.json`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.match(doc.openapi, /^3\.1\./);
  const file = join(S.runDir, 'openapi.json');
  writeFileSync(file, JSON.stringify(doc));
  const r = await run(S.python, ['-m', 'openapi_spec_validator', file]);
  assert.equal(r.code, 0, r.out);
});

test('schemathesis as a tenant admin: no 5xx on any tenant operation', TIMEOUT, async () => {
  await fuzz('tenant-admin', S.adminKey, 'tenant');
});

test('schemathesis as the operator: no 5xx on any operator operation', TIMEOUT, async () => {
  await fuzz('operator', S.operatorKey, 'operator');
});
