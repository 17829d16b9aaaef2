// Resilience (issue 15 §3): revocation under load across three nodes on one PostgreSQL
// database. 1,000 trials on 16 refresh-token chains at once (from real browser sign-ins through
// npm oidc-provider), while a background load introspects at nodes B and C. A trial: refresh
// the chain at A (a fresh access token), check that B sees the token active, revoke it at A
// through the RFC 7009 endpoint, and as soon as that call has returned, introspect it at B and
// C: both must answer inactive. Counted: accepts after the revoke returned; required: 0.
// Env: GATEHOUSE_BIN (DATABASE_URL is not used: this file runs its own PostgreSQL cluster).
// Run: node --test tests/interop/resilience-revocation.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode, tail } from './gatehouse.mjs';
import { freePort, psql } from './presets-flow.mjs';
import {
  privateWorld, loadEnv, setupTenant, loop, refresh, introspect, revoke, closeHttp,
} from './resilience.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 120_000 };
const TRIALS = 1000;
const CHAINS = 16;
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });

before(async () => {
  try {
    const bin = process.env.GATEHOUSE_BIN;
    assert.ok(bin, 'GATEHOUSE_BIN is required');
    const world = await privateWorld(HERE, 'resilience-revocation', cleanups);
    ({ runDir: S.runDir, pg: S.pg } = world);
    S.db = { url: world.dbUrl };
    const { idp } = world;
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    const issuer = `http://127.0.0.1:${ports[0]}`;
    S.gh = { bin, env: loadEnv({ DATABASE_URL: S.db.url, GATEHOUSE_ISSUER: issuer, ...idp.env }), logDir: S.runDir };
    S.nodes = await Promise.all(ports.map((p, i) => startNode(S.gh, `node-${'abc'[i]}`, `127.0.0.1:${p}`)));
    cleanups.push(...S.nodes.map((n) => () => n.stop()));
    S.w = await setupTenant(S.gh, { runDir: S.runDir, base: issuer, chains: CHAINS, pki: idp.pki });
    cleanups.push(() => S.w.close());
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) console.error([`logs: ${S.runDir}`, ...['node-a.log', 'node-b.log', 'node-c.log'].map((f) => tail(join(S.runDir, f), 30))].join('\n\n'));
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
  closeHttp();
});

step(`revoke at A, introspect at B and C once the revoke returned: 0 accepts in ${TRIALS} trials`, async () => {
  const [A, B, C] = S.nodes;
  const recent = S.w.chains.map((c) => c.access);
  // Background load at B and C: introspection of the chains' recent tokens, live or revoked.
  let stop = false;
  let background = 0;
  const load = loop(2, () => stop, async (i) => {
    await introspect([B, C][i % 2].base, S.w, recent[Math.floor(Math.random() * recent.length)]);
    background++;
  });
  const failures = [];
  let trials = 0;
  let accepts = 0;
  let activeBefore = 0;
  const t0 = Date.now();
  await Promise.all(S.w.chains.map(async (chain, i) => {
    while (trials < TRIALS && failures.length === 0) {
      trials++;
      const r = await refresh(A.base, S.w, chain.refresh);
      if (r.status !== 200) { failures.push(`refresh: ${r.status} ${r.error ?? r.text}`); return; }
      chain.refresh = r.json.refresh_token;
      const token = r.json.access_token;
      recent[i] = token;
      const pre = await introspect(B.base, S.w, token);
      if (pre.status === 200 && pre.json?.active === true) activeBefore++;
      else failures.push(`before the revoke: ${pre.status} ${pre.error ?? pre.text}`);
      const rv = await revoke(A.base, S.w, token);
      if (rv.status !== 200) { failures.push(`revoke: ${rv.status} ${rv.error ?? rv.text}`); return; }
      const after = await Promise.all([introspect(B.base, S.w, token), introspect(C.base, S.w, token)]);
      for (const x of after) {
        if (x.status !== 200) failures.push(`after the revoke: ${x.status} ${x.error ?? x.text}`);
        else if (x.json?.active !== false) accepts++;
      }
    }
  }));
  stop = true;
  await load;
  console.log(`${trials} trials in ${Date.now() - t0} ms (${background} background introspections): ${accepts} accepts after the revoke returned`);
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} calls failed`);
  assert.equal(trials, TRIALS);
  assert.equal(activeBefore, TRIALS, 'each token was active at B before its revoke');
  assert.equal(accepts, 0, 'no accept at B or C once the revoke call has returned');
});
