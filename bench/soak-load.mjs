// Open-loop mixed load for the soak (bench/soak.sh). Not part of the test suite.
//
// usage: node bench/soak-load.mjs TOKENS.json DURATION_SECS INTROSPECT_RPS REFRESH_RPS CC_RPS
//        node bench/soak-load.mjs TOKENS.json DURATION_SECS --closed WORKERS
//
// The second form measures the mixed load's maximum: WORKERS concurrent loops per operation,
// each sending its next request when the last is answered (closed loop), all three operations
// at once, with this same generator (so its own CPU is part of what the maximum leaves over).
// It writes the chains' rotated refresh tokens back to TOKENS.json for the run that follows.
//
// TOKENS.json is bench/setup.mjs's output (chains, introspection and client_credentials
// credentials). Each operation is sent at its fixed rate, whatever the server's latency (open
// loop: a slow server meets the same arrival rate, it is not given a rest): RFC 7662
// introspection of the chains' current access tokens, refresh with rotation (each chain has at
// most one refresh in flight; an arrival that finds every chain busy is counted as `behind`, and
// so is any arrival while 2,048 requests are in flight),
// and client_credentials grants. Prints one line per minute and `RESULT {json}` at the end.
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';

const [file, durationArg, iRps, rRps, cRps] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(file, 'utf8'));
const durationMs = +durationArg * 1000;
const closed = iRps === '--closed' ? +rRps : 0;
const rates = closed ? { introspect: 0, refresh: 0, client_credentials: 0 } : { introspect: +iRps, refresh: +rRps, client_credentials: +cRps };
const token = new URL(spec.token_url);
const intro = new URL(spec.introspect_url);
for (const u of [token, intro]) if (!['127.0.0.1', 'localhost'].includes(u.hostname)) throw new Error('loopback targets only');
// An idle kept-alive connection is closed by the generator after 4 s, before any server's
// keep-alive ends (Gatehouse's default is 75 s; Node's and actix-web's 5 s). Otherwise a request
// sent on a connection the server is closing at that moment is lost unanswered (the keep-alive
// race; `tests/interop/resilience.mjs`, `idleReset`), which says nothing about the server's load.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: 4_000 });
const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const rsAuth = basic(spec.introspection_client_id, spec.introspection_client_secret);
const cc = spec.client_credentials;
const ccAuth = basic(cc.client_id, cc.client_secret);
const ccBody = new URLSearchParams({ grant_type: 'client_credentials', resource: cc.resource, scope: cc.scope }).toString();

function post(url, body, auth) {
  return new Promise((resolve) => {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'content-length': Buffer.byteLength(body) };
    if (auth) headers.authorization = auth;
    const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    // `reused`: the request went out on a kept-alive connection (the race above, if reset).
    req.on('error', (e) => resolve({ status: 0, body: String(e), reused: req.reusedSocket }));
    req.end(body);
  });
}

const chains = spec.chains.map((c) => ({ ...c, busy: false, dead: false }));
const totals = {};
let minute = {};
// Failed answers by operation and status (0: no answer), with the first body of each, so a
// report says what failed, not only how often.
const failures = {};
const count = (op, ok, r) => {
  for (const t of [totals, minute]) {
    t[op] ??= { ok: 0, err: 0, behind: 0 };
    t[op][ok === null ? 'behind' : ok ? 'ok' : 'err']++;
  }
  if (ok === false && r) {
    const key = `${op} ${r.status}${r.status === 0 && r.reused ? ' on a reused connection' : ''}`;
    failures[key] ??= { count: 0, first: r.body.slice(0, 300) };
    failures[key].count++;
  }
};

let nextChain = 0;
const ops = {
  async introspect() {
    const live = chains.filter((c) => !c.dead);
    const c = live[Math.floor(Math.random() * live.length)];
    const r = await post(intro, `token=${encodeURIComponent(c.access_token)}`, rsAuth);
    count('introspect', r.status === 200 && r.body.includes('"active":true'), r);
  },
  async refresh() {
    // Round robin from the chain after the last one refreshed: every chain rotates, so none
    // keeps the access token of the setup past its lifetime (15 minutes for a sensitive scope).
    let c = null;
    for (let i = 0; i < chains.length && !c; i++) {
      const x = chains[(nextChain + i) % chains.length];
      if (!x.busy && !x.dead) { c = x; nextChain = (chains.indexOf(x) + 1) % chains.length; }
    }
    if (!c) return count('refresh', null);
    c.busy = true;
    const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.refresh_token, client_id: c.client_id ?? spec.client_id }).toString();
    const r = await post(token, body);
    c.busy = false;
    if (r.status === 200) {
      const j = JSON.parse(r.body);
      c.refresh_token = j.refresh_token;
      c.access_token = j.access_token;
      count('refresh', true);
    } else {
      c.dead = true; // a failed rotation ends the chain (a retry would be a reuse)
      count('refresh', false, r);
    }
  },
  async client_credentials() {
    const r = await post(token, ccBody, ccAuth);
    count('client_credentials', r.status === 200, r);
  },
};

const start = Date.now();
/** Prints the run's `RESULT` line: each operation's counts and achieved rate, plus `extra`. */
function result(extra, perOp = () => ({})) {
  const secs = (Date.now() - start) / 1000;
  const summary = Object.fromEntries(Object.entries(totals).map(([op, t]) => [op, { ...t, rps: +(t.ok / secs).toFixed(1), ...perOp(op) }]));
  console.log(`RESULT ${JSON.stringify({ seconds: +secs.toFixed(1), ...extra, chains_alive: chains.filter((c) => !c.dead).length, ...summary, failures })}`);
}
if (closed) {
  const end = start + durationMs;
  // setImmediate: an operation that finds no free chain returns at once, and must not starve I/O.
  const loop = async (op) => { while (Date.now() < end) { await ops[op](); await new Promise(setImmediate); } };
  await Promise.all(Object.keys(ops).flatMap((op) => Array.from({ length: closed }, () => loop(op))));
  agent.destroy();
  writeFileSync(file, JSON.stringify({ ...spec, chains: chains.filter((c) => !c.dead).map(({ busy, dead, ...c }) => c) }));
  result({ workers: closed });
  process.exit(0);
}
const TICK = 10;
const due = Object.fromEntries(Object.keys(rates).map((k) => [k, 0]));
const inflight = new Set();
const MAX_INFLIGHT = 2048;
const timer = setInterval(() => {
  const elapsed = Date.now() - start;
  for (const [op, rate] of Object.entries(rates)) {
    const want = Math.floor((rate * elapsed) / 1000);
    while (due[op] < want) {
      due[op]++;
      // A server that falls behind would pile up requests here without bound (the generator
      // ran out of memory once): past the bound, an arrival is counted as `behind`.
      if (inflight.size >= MAX_INFLIGHT) { count(op, null); continue; }
      const p = ops[op]().finally(() => inflight.delete(p));
      inflight.add(p);
    }
  }
}, TICK);
const report = setInterval(() => {
  console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${Math.round((Date.now() - start) / 1000)} s ${JSON.stringify(minute)} in flight ${inflight.size} chains alive ${chains.filter((c) => !c.dead).length}`);
  minute = {};
}, 60_000);
await new Promise((r) => setTimeout(r, durationMs));
clearInterval(timer);
clearInterval(report);
await Promise.all(inflight);
agent.destroy();
result({ chains: chains.length }, (op) => ({ target_rps: rates[op] }));
