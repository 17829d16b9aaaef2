// Resilience (issue 15 §3, ADR 0019): PostgreSQL restarted under load. A private PostgreSQL
// cluster (initdb into a temporary folder), two Gatehouse nodes on it, and three loads: refresh
// with rotation (real refresh-token chains from browser sign-ins through npm oidc-provider),
// RFC 7662 introspection and client_credentials grants. PostgreSQL is stopped with
// `pg_ctl stop -m fast` (every connection cut), left down 3 s and started again. Asserted:
//  - during the outage every answer is a success or a 503 with Retry-After: never a 500, never a
//    wrong 4xx (a refresh answered invalid_grant would end a client's session for nothing);
//  - afterwards each node answers every call successfully within a few seconds, with no restart
//    (same process), and its log has no ERROR line, only DB0503 warnings;
//  - each node's /metrics counts the 503s (`gatehouse_db_unavailable_total`) and times the waits
//    for a pooled connection (`gatehouse_db_pool_acquire_wait_seconds`);
//  - nothing is half-written: every access token has its audit record and no record lacks its
//    token, no refresh family holds two live refresh tokens, and the audit chain verifies.
// Env: GATEHOUSE_BIN (DATABASE_URL is not used: this file runs its own PostgreSQL).
// Run: node --test tests/interop/resilience-pg-restart.test.mjs
import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode, tail } from './gatehouse.mjs';
import { freePort, psql } from './presets-flow.mjs';
import {
  privateWorld, loadEnv, setupTenant, sleep, idleReset, loop,
  refresh, introspect, ccGrant, consistency, auditVerified,
  closeHttp,
} from './resilience.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = { timeout: 120_000 };
const CHAINS = 8;
const METRICS_TOKEN = 'resilience-metrics-token-0123456789';
const S = {};
const cleanups = [];
let failed = false;
const step = (name, fn) => test(name, TIMEOUT, async (t) => { try { await fn(t); } catch (e) { failed = true; throw e; } });

before(async () => {
  try {
    const bin = process.env.GATEHOUSE_BIN;
    assert.ok(bin, 'GATEHOUSE_BIN is required');
    const world = await privateWorld(HERE, 'resilience-pg-restart', cleanups);
    ({ runDir: S.runDir, pg: S.pg, dbUrl: S.dbUrl } = world);
    const { idp } = world;
    const [portA, portB] = await Promise.all([freePort(), freePort()]);
    const issuer = `http://127.0.0.1:${portA}`;
    S.gh = { bin, env: loadEnv({ DATABASE_URL: S.dbUrl, GATEHOUSE_ISSUER: issuer, GATEHOUSE_METRICS_TOKEN: METRICS_TOKEN, ...idp.env }), logDir: S.runDir };
    S.nodes = await Promise.all([startNode(S.gh, 'node-a', `127.0.0.1:${portA}`), startNode(S.gh, 'node-b', `127.0.0.1:${portB}`)]);
    cleanups.push(...S.nodes.map((n) => () => n.stop()));
    S.w = await setupTenant(S.gh, { runDir: S.runDir, base: issuer, chains: CHAINS, pki: idp.pki });
    cleanups.push(() => S.w.close());
    const cc = await ccGrant(issuer, S.w);
    assert.equal(cc.status, 200, cc.text);
    S.ccToken = cc.json.access_token;
  } catch (e) { failed = true; throw e; }
}, TIMEOUT);

after(async () => {
  if (failed && S.runDir) {
    const dump = [`logs: ${S.runDir}`, ...['node-a.log', 'node-b.log', 'cli.log'].map((f) => tail(join(S.runDir, f), 40))].join('\n\n');
    console.error(dump);
  }
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => console.error('cleanup:', e));
  closeHttp();
});

/** Every answer of the load, by phase: success, 503 with Retry-After, or anything else. */
function tally() {
  const t = { ok: 0, unavailable: 0, idleResets: 0, other: [], phase: 'before' };
  t.see = (what, node, r, okWhen = (x) => x.status === 200) => {
    if (okWhen(r)) { t.ok++; return true; }
    if (r.status === 503 && r.retryAfter && Number(r.retryAfter) > 0) { t.unavailable++; return false; }
    // No node is killed here: a reset of an idle kept-alive connection is the client's race,
    // not an answer (the request was never read; the chain retries with the same token).
    if (idleReset(r)) { t.idleResets++; return false; }
    t.other.push(`${t.phase} ${what}@${node.name}: ${r.status} ${r.retryAfter ?? ''} ${r.error ?? r.text?.slice(0, 160) ?? ''}`);
    return false;
  };
  return t;
}

step('PostgreSQL restarted under load: only successes or 503 with Retry-After, never a 500', async () => {
  const t = tally();
  S.tally = t;
  let stop = false;
  const chains = S.w.chains.map((c) => ({ ...c, dead: false }));
  const pace = (r) => (r.status === 200 ? null : sleep(200)); // a client waits a little after a 503
  const loads = Promise.all([
    loop(CHAINS, () => stop, async (i) => {
      const c = chains[i];
      if (c.dead) return sleep(100);
      const node = S.nodes[(c.n = (c.n ?? i) + 1) % 2];
      const r = await refresh(node.base, S.w, c.refresh);
      if (t.see('refresh', node, r)) { c.refresh = r.json.refresh_token; c.access = r.json.access_token; return null; }
      if (r.status !== 503 && !idleReset(r)) c.dead = true; // the chain cannot go on; already counted as a failure
      return pace(r);
    }),
    loop(4, () => stop, async (i) => {
      const node = S.nodes[i % 2];
      const r = await introspect(node.base, S.w, S.ccToken);
      t.see('introspect', node, r, (x) => x.status === 200 && x.json?.active === true);
      return pace(r);
    }),
    loop(2, () => stop, async (i) => {
      const node = S.nodes[i % 2];
      const r = await ccGrant(node.base, S.w);
      t.see('client_credentials', node, r);
      return pace(r);
    }),
  ]);
  await sleep(2000);
  const before = t.ok;
  t.phase = 'outage';
  const pids = S.nodes.map((n) => n.pid);
  await S.pg.restart({ downMs: 3000 });
  const upAt = Date.now();
  // Recovery: each node answers introspection, a grant and /readyz with 200, with no restart.
  S.recovery = await Promise.all(S.nodes.map(async (node) => {
    for (;;) {
      const [i, g, r] = await Promise.all([
        introspect(node.base, S.w, S.ccToken), ccGrant(node.base, S.w),
        fetch(`${node.base}/readyz`, { signal: AbortSignal.timeout(5000) }).then((x) => x.status, () => 0),
      ]);
      if (i.status === 200 && i.json?.active && g.status === 200 && r === 200) return Date.now() - upAt;
      if (Date.now() - upAt > 20_000) return Infinity;
      await sleep(100);
    }
  }));
  t.phase = 'after';
  const atRecovery = t.other.length;
  await sleep(2000);
  stop = true;
  await loads;
  console.log(`load: ${t.ok} successes (${before} before the restart), ${t.unavailable} answered 503 with Retry-After, ${t.idleResets} idle kept-alive connections reset; recovery after start: ${S.recovery.map((ms) => `${ms} ms`).join(', ')}`);
  assert.deepEqual(t.other, [], 'every answer is a success or a 503 with Retry-After');
  assert.ok(t.unavailable > 0, 'the outage was met by the load (some 503 answers)');
  assert.ok(before > 0 && t.ok > before, 'the load ran before and after the restart');
  for (const ms of S.recovery) assert.ok(ms <= 10_000, `every node recovers on its own within 10 s of the restart (${ms} ms)`);
  assert.equal(t.other.length, atRecovery);
  assert.deepEqual(S.nodes.map((n) => n.pid), pids);
  assert.deepEqual(S.nodes.map((n) => n.exited), [null, null], 'no node exited or was restarted');
  assert.ok(chains.every((c) => !c.dead), 'every refresh chain goes on after the outage');
});

step('the outage is logged as DB0503 warnings, with no ERROR line', async () => {
  for (const node of S.nodes) {
    const lines = readFileSync(node.logFile, 'utf8').split('\n');
    assert.ok(lines.some((l) => l.includes('DB0503')), `${node.name} logged DB0503`);
    const errors = lines.filter((l) => /"level":"ERROR"/.test(l));
    assert.deepEqual(errors, [], `${node.name} logged no ERROR`);
  }
});

step('the outage and the waits for a connection show in /metrics', async () => {
  const series = (text, name) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? 0);
  for (const node of S.nodes) {
    const r = await fetch(`${node.base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.ok(series(text, 'gatehouse_db_unavailable_total') > 0, `${node.name}: the 503s are counted\n${text}`);
    assert.ok(series(text, 'gatehouse_db_pool_acquire_wait_seconds_count') > 0, `${node.name}: every hand-out of a pooled connection is timed`);
    assert.ok(series(text, 'gatehouse_db_pool_acquire_wait_seconds_sum') > 0, `${node.name}: the time waited is summed (its rate is the mean number of waiters)`);
  }
});

step('nothing half-written: each token has its audit record, one live refresh token per family, the chain verifies', async () => {
  const c = consistency(S.dbUrl);
  assert.ok(c.accessTokens > 0);
  assert.equal(c.tokensWithoutAudit, 0, `access tokens without their audit record:\n${c.mismatches}`);
  assert.equal(c.auditWithoutToken, 0, `audit records of tokens that do not exist:\n${c.mismatches}`);
  assert.equal(c.doubleLive, 0, 'no refresh family holds two live refresh tokens');
  const v = await auditVerified(S.gh);
  assert.equal(v.status, 'ok', JSON.stringify(v));
  assert.equal(v.unsealed, '0', 'the sealer caught up after the outage');
});
