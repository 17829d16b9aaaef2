// Resilience (issue 15 §3): revocation under load across three nodes on one PostgreSQL
// database. 1,000 trials, 16 at a time, while a background load introspects at nodes B and C:
// a token (a client_credentials access token, issued beforehand) is active at B; it is revoked
// at A through the RFC 7009 endpoint; as soon as that call has returned, B and C introspect it
// and must both answer inactive. Counted: accepts after the revoke returned; required: 0.
// Env: GATEHOUSE_BIN, DATABASE_URL (only its server is used: this file creates its own database).
// Run: node --test tests/interop/resilience-revocation.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode, tail } from './gatehouse.mjs';
import { freePort, createDatabase } from './presets-flow.mjs';
import { loadEnv, setupTenant, runDirFor, loop, pool, ccGrant, introspect, revokeCc } from './resilience.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 120_000 };
const TRIALS = 1000;
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });

before(async () => {
  try {
    const { GATEHOUSE_BIN: bin, DATABASE_URL } = process.env;
    assert.ok(bin && DATABASE_URL, 'GATEHOUSE_BIN and DATABASE_URL are required');
    S.runDir = runDirFor(HERE, 'resilience-revocation');
    S.db = createDatabase(DATABASE_URL);
    cleanups.push(() => S.db.drop());
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    S.gh = { bin, env: loadEnv({ DATABASE_URL: S.db.url, GATEHOUSE_ISSUER: `http://127.0.0.1:${ports[0]}` }), logDir: S.runDir };
    S.nodes = await Promise.all(ports.map((p, i) => startNode(S.gh, `node-${'abc'[i]}`, `127.0.0.1:${p}`)));
    cleanups.push(...S.nodes.map((n) => () => n.stop()));
    S.w = await setupTenant(S.gh, { runDir: S.runDir });
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) console.error([`logs: ${S.runDir}`, ...['node-a.log', 'node-b.log', 'node-c.log'].map((f) => tail(join(S.runDir, f), 30))].join('\n\n'));
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
});

step(`revoke at A, introspect at B and C once the revoke returned: 0 accepts in ${TRIALS} trials`, async () => {
  const [A, B, C] = S.nodes;
  const tokens = await pool(Array.from({ length: TRIALS }), 16, async () => {
    const r = await ccGrant(A.base, S.w);
    assert.equal(r.status, 200, r.text);
    return r.json.access_token;
  });
  // Background load at B and C: introspection of tokens not yet revoked, or already revoked.
  let stop = false;
  let background = 0;
  const load = loop(4, () => stop, async (i) => {
    await introspect([B, C][i % 2].base, S.w, tokens[Math.floor(Math.random() * tokens.length)]);
    background++;
  });
  const failures = [];
  let accepts = 0;
  let activeBefore = 0;
  const t0 = Date.now();
  await pool(tokens, 16, async (token) => {
    const pre = await introspect(B.base, S.w, token);
    if (pre.status === 200 && pre.json?.active === true) activeBefore++;
    else failures.push(`before the revoke: ${pre.status} ${pre.text}`);
    const rv = await revokeCc(A.base, S.w, token);
    if (rv.status !== 200) { failures.push(`revoke: ${rv.status} ${rv.text}`); return; }
    const after = await Promise.all([introspect(B.base, S.w, token), introspect(C.base, S.w, token)]);
    for (const r of after) {
      if (r.status !== 200) failures.push(`after the revoke: ${r.status} ${r.text}`);
      else if (r.json?.active !== false) accepts++;
    }
  });
  stop = true;
  await load;
  console.log(`${TRIALS} trials in ${Date.now() - t0} ms (${background} background introspections): ${accepts} accepts after the revoke returned`);
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} calls failed`);
  assert.equal(activeBefore, TRIALS, 'each token was active at B before its revoke');
  assert.equal(accepts, 0, 'no accept at B or C once the revoke call has returned');
});
