// SCIM benchmark load (DESIGN §10, issue "SCIM"): run by bench/scim.sh against a release build on
// PostgreSQL. Phases, each bounded by count:
//   1. create USERS users with POST /Users, CONCURRENCY requests in flight   -> req/s, latency
//   2. one PATCH adding all of them to one group (Entra's multi-member add)  -> seconds
//   3. grow the tenant to LOOKUP_POPULATION users with /Bulk (1000 ops each) -> ops/s
//   4. LOOKUPS `userName eq` filter queries, CONCURRENCY in flight           -> req/s, latency
// Env: BASE (tenant base URL), TOKEN, USERS (10000), LOOKUP_POPULATION (100000), LOOKUPS (5000),
// CONCURRENCY (32). Prints one JSON line `RESULT {...}`.
const BASE = process.env.BASE;
const TOKEN = process.env.TOKEN;
const USERS = Number(process.env.USERS ?? 10000);
const POP = Number(process.env.LOOKUP_POPULATION ?? 100000);
const LOOKUPS = Number(process.env.LOOKUPS ?? 5000);
const CONC = Number(process.env.CONCURRENCY ?? 32);
const H = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' };
const user = (i) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName: `user${i}@bench.test`, externalId: `ext-${i}`, active: true,
  name: { givenName: `Given${i}`, familyName: 'Bench' },
  emails: [{ value: `user${i}@bench.test`, type: 'work', primary: true }],
});
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

async function pool(n, conc, fn) {
  const lat = []; let next = 0; let errors = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: conc }, async () => {
    for (let i = next++; i < n; i = next++) {
      const s = process.hrtime.bigint();
      try { await fn(i); } catch (e) { errors++; if (errors < 5) console.error(String(e)); }
      lat.push(ms(s));
    }
  }));
  const secs = ms(t0) / 1000;
  return { n, secs: +secs.toFixed(2), per_sec: +(n / secs).toFixed(0), p50_ms: +pct(lat, 0.5).toFixed(1), p99_ms: +pct(lat, 0.99).toFixed(1), errors };
}

async function must(res, status) {
  if (res.status !== status) throw new Error(`${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

let ids = new Array(USERS);
let create;
if (process.env.CREATE_RESULT) {
  // Created by wrk (bench/scim-create.lua): take its measurement and read the ids back.
  create = JSON.parse(process.env.CREATE_RESULT);
  ids = [];
  for (let start = 1; ids.length < USERS; start += 1000) {
    const f = encodeURIComponent('name.familyName eq "Wrk"');
    const page = await must(await fetch(`${BASE}/Users?filter=${f}&attributes=id&sortBy=meta.created&count=1000&startIndex=${start}`, { headers: H }), 200);
    if (!page.Resources.length) break;
    ids.push(...page.Resources.map((r) => r.id));
  }
  // wrk stops each thread after its share of responses; requests still in flight then may
  // create a few more users than asked. The PATCH adds exactly USERS of them.
  if (ids.length < USERS) throw new Error(`wrk created ${ids.length} users, expected ${USERS}`);
  ids = ids.slice(0, USERS);
  create.generator = 'wrk';
} else {
  create = await pool(USERS, CONC, async (i) => {
    const u = await must(await fetch(`${BASE}/Users`, { method: 'POST', headers: H, body: JSON.stringify(user(i)) }), 201);
    ids[i] = u.id;
  });
  create.generator = 'node';
}
console.error(`created ${USERS} users: ${create.per_sec} req/s`);

const g = await must(await fetch(`${BASE}/Groups`, { method: 'POST', headers: H, body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Everyone in the benchmark' }) }), 201);
const patchBody = JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Add', path: 'members', value: ids.map((id) => ({ value: id })) }] });
let t0 = process.hrtime.bigint();
const patched = await fetch(`${BASE}/Groups/${g.id}?excludedAttributes=members`, { method: 'PATCH', headers: H, body: patchBody });
const patchSecs = ms(t0) / 1000;
await must(patched, 200);
const check = await must(await fetch(`${BASE}/Groups?filter=${encodeURIComponent(`displayName eq "Everyone in the benchmark"`)}&attributes=displayName`, { headers: H }), 200);
const count = await must(await fetch(`${BASE}/Users?count=0`, { headers: H }), 200);
const grp = await must(await fetch(`${BASE}/Groups/${g.id}`, { headers: H }), 200);
console.error(`PATCH adding ${USERS} members: ${patchSecs.toFixed(2)} s (group now has ${grp.members?.length ?? 0} members)`);
if ((grp.members?.length ?? 0) !== USERS || check.totalResults !== 1 || count.totalResults < USERS) throw new Error('membership or user count is wrong');

// Bulk: BULK_REQUESTS requests of 1000 POST operations each (operations run one after another).
const BULK_REQUESTS = Number(process.env.BULK_REQUESTS ?? 3);
const bulkOps = 1000;
let made = USERS;
t0 = process.hrtime.bigint();
for (let b = 0; b < BULK_REQUESTS && made < POP; b++) {
  const n = Math.min(bulkOps, POP - made);
  const ops = Array.from({ length: n }, (_, k) => ({ method: 'POST', path: '/Users', bulkId: `b${made + k}`, data: user(made + k) }));
  const r = await must(await fetch(`${BASE}/Bulk`, { method: 'POST', headers: H, body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: ops }) }), 200);
  const bad = r.Operations.filter((o) => o.status !== '201');
  if (bad.length) throw new Error(`bulk: ${JSON.stringify(bad[0])}`);
  made += n;
}
const bulkSecs = ms(t0) / 1000;
const bulk = { users: made - USERS, secs: +bulkSecs.toFixed(1), per_sec: +((made - USERS) / Math.max(bulkSecs, 1e-9)).toFixed(0) };
console.error(`bulk-created ${bulk.users} users: ${bulk.per_sec}/s`);
// Grow to POP users with concurrent POSTs (the population for the lookup, not a measurement).
const present = (await must(await fetch(`${BASE}/Users?count=0`, { headers: H }), 200)).totalResults;
const base = made;
const last = base + Math.max(0, POP - present);
await pool(last - base, CONC, async (i) => { await must(await fetch(`${BASE}/Users`, { method: 'POST', headers: H, body: JSON.stringify(user(base + i)) }), 201); });
const pop = await must(await fetch(`${BASE}/Users?count=0`, { headers: H }), 200);
if (pop.totalResults < POP) throw new Error(`population ${pop.totalResults} != ${POP}`);
console.error(`population: ${pop.totalResults} users`);

const lookup = await pool(LOOKUPS, CONC, async (i) => {
  // Names user<USERS>… exist in both modes (wrk names its own users differently).
  const k = USERS + ((i * 7919) % (last - USERS));
  const f = encodeURIComponent(`userName eq "USER${k}@bench.test"`);
  const r = await must(await fetch(`${BASE}/Users?filter=${f}`, { headers: H }), 200);
  if (r.totalResults !== 1) throw new Error(`lookup ${k}: ${r.totalResults}`);
});
console.error(`userName eq among ${POP}: ${lookup.per_sec} req/s, p99 ${lookup.p99_ms} ms`);
console.log('RESULT ' + JSON.stringify({ create, patch_members: { members: USERS, secs: +patchSecs.toFixed(2) }, bulk, lookup: { population: POP, ...lookup }, concurrency: CONC }));
