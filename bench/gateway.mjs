// MCP gateway overhead benchmark (issue 13 acceptance): the same trivial tool call sent with
// `oha` directly to an upstream MCP server and through `gatehouse gateway`, alternately, in the
// same run on the same machine, for two upstreams: the MCP TypeScript SDK's example server
// (`simpleStreamableHttp.js`, unmodified: tool `greet`, SSE answer, one session per phase) and
// a minimal hand-written endpoint (tool `ping`, JSON answer: the least an upstream can do, so
// the gateway's own cost shows most). NOT part of the test
// suite. Run from the repository root: bench/gateway.sh (it builds the release binary).
//
// Through the gateway each call is fully checked as in production: the access token is looked
// up in PostgreSQL (no cache: revocation is immediate), the catalogue decides, the call is
// counted against the tenant's per-user limit (in memory per node, added to the shared row once a second), a 60-second EdDSA JWT is signed for
// the upstream, the answer is streamed back and the call is audited (queued off the request
// path). The tenant's routine limit is raised to 100,000 calls per minute for the run (the
// default, 600, would answer 429 within a second).
//
// Env: GATEHOUSE_BIN (release build), PG_URL (admin URL of the PostgreSQL server; a fresh
// database is made and dropped), OHA (default: oha on PATH, else ~/.cargo/bin/oha), DURATION
// (seconds per phase, 10), CONNS (64), ROUNDS (3: direct, gateway, direct, gateway, ...),
// OUT (results folder), REPORT (1: rewrite the gateway section of docs/benchmarks.md),
// UPSTREAMS (sdk,minimal: which upstreams, in order), RENDER (a gateway.json: only rewrite the section),
// PIN (1: the SDK upstream on CPU 1, the load generator, the gateway and PostgreSQL on CPU 0, in
// every phase: the upstream keeps a core of its own, as it would on its own host; PostgreSQL's
// processes get both CPUs back at the end).
//
// Each phase also reads the CPU time each party used (/proc: the upstream, the gateway, every
// PostgreSQL process, the machine), so the table says per call where the two cores went.
import http from 'node:http';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir, cpus, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePki } from '../tests/interop/pki.mjs';
import { startIdp, ALICE } from '../tests/interop/idp.mjs';
import { cli, startNode } from '../tests/interop/gatehouse.mjs';
import { startGateway } from '../tests/interop/gateway.mjs';
import { freePort, createDatabase, registerPublicClient, signIn, describeEnd, psql } from '../tests/interop/presets-flow.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const BIN = env.GATEHOUSE_BIN;
const DURATION = +(env.DURATION ?? 10);
// 64 connections, as every throughput phase of bench/run.sh: the throughput compared is each
// path's capacity. With 16 (the default until 2026-12-05) the direct path saturated the upstream
// but the gateway path did not (each call spends longer in flight, and 16 closed-loop
// connections then cap the rate below what the path can carry): 2,293 req/s at 16 against
// 2,474-2,623 at 64 on the same host, with direct unchanged (3,200 against 2,967-3,071).
const CONNS = +(env.CONNS ?? 64);
const ROUNDS = +(env.ROUNDS ?? 3);
// The latency phases send a fixed RATE (req/s, all connections together) below either side's
// capacity, so p50 is the time a call takes, not the time it queues behind others.
const RATE = +(env.RATE ?? 500);
// Which upstreams are measured, in this order (both by default).
const UPSTREAMS = (env.UPSTREAMS ?? 'sdk,minimal').split(',');
const PIN = env.PIN === '1';
/** `spawn`'s command and arguments: with PIN, run by `taskset` on `cpu`. */
const onCpu = (cpu, cmd, args) => (PIN ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);
const STAMP = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
const OUT = env.OUT ?? join(ROOT, 'bench', 'results', `gateway-${STAMP}`);
const which = (cmd) => { try { return execFileSync('sh', ['-c', `command -v ${cmd}`]).toString().trim(); } catch { return null; } };
const OHA = env.OHA ?? which('oha') ?? join(homedir(), '.cargo', 'bin', 'oha');
// oha is the load generator; without it (cargo install oha), wrk (apt) with bench/gateway-call.lua.
const LOADGEN = existsSync(OHA) ? 'oha' : which('wrk') ? 'wrk' : null;
const SCOPE = 'bench:ping';
const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'ping', arguments: {} } });
// The SDK example server's trivial tool: `greet` answers `Hello, <name>!`.
const SDK_BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'greet', arguments: { name: 'bench' } } });
const log = (...a) => console.error(`[gateway-bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
/** User + system CPU time of process `pid` (all its threads), in clock ticks (USER_HZ, 100/s). */
function ticksOf(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return +rest[11] + +rest[12];
  } catch { return 0; }
}
/** Every process named `postgres` (the server, its backends and workers). */
const postgresPids = () => readdirSync('/proc').filter((d) => {
  if (!/^\d+$/.test(d)) return false;
  try { return readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres'; } catch { return false; /* gone */ }
});
/** {@link ticksOf}, summed over PostgreSQL's processes. */
const postgresTicks = () => postgresPids().reduce((t, pid) => t + ticksOf(pid), 0);
/** The machine's busy and total ticks, all CPUs (/proc/stat). */
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}
/** A snapshot of who used the CPU, for {@link cpuPerCall}. */
const cpuSnapshot = (pids) => ({ m: machineTicks(), pg: postgresTicks(), up: ticksOf(pids.upstream), gw: pids.gateway ? ticksOf(pids.gateway) : 0 });
/** CPU µs per answered call between two snapshots: upstream, gateway, PostgreSQL, the rest (load generator, kernel threads, this script), and how busy the machine was. */
function cpuPerCall(a, b, calls) {
  const us = (ticks) => Math.round((ticks * 10_000) / Math.max(calls, 1));
  const busy = b.m.busy - a.m.busy;
  const known = (b.up - a.up) + (b.gw - a.gw) + (b.pg - a.pg);
  return { upstream_us: us(b.up - a.up), gateway_us: us(b.gw - a.gw), postgres_us: us(b.pg - a.pg), rest_us: us(busy - known), busy_pct: Math.round((100 * busy) / Math.max(b.m.total - a.m.total, 1)) };
}
if (!BIN || !existsSync(BIN)) throw new Error('GATEHOUSE_BIN must name a built gatehouse binary');
if (PIN && cpus().length < 2) throw new Error('PIN=1 needs at least two CPUs (the upstream on CPU 1, the rest on CPU 0)');
if (!LOADGEN) throw new Error(`neither oha (${OHA}; cargo install oha) nor wrk (apt-get install wrk) is installed`);
mkdirSync(OUT, { recursive: true });

/** A minimal Streamable HTTP MCP endpoint answering in JSON: the "trivial tool" upstream. */
function startUpstream() {
  let seen = 0, withJwt = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      seen++;
      if (/^Bearer ey/.test(req.headers.authorization ?? '')) withJwt++;
      let msg;
      try { msg = JSON.parse(Buffer.concat(chunks)); } catch { res.writeHead(400).end(); return; }
      const result = msg.method === 'tools/call'
        ? { content: [{ type: 'text', text: 'pong' }] }
        : msg.method === 'tools/list' ? { tools: [{ name: 'ping', inputSchema: { type: 'object' } }] } : {};
      const body = JSON.stringify({ jsonrpc: '2.0', id: msg.id ?? null, result });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({
    url: `http://127.0.0.1:${server.address().port}/mcp`, stats: () => ({ seen, withJwt }),
    close: () => { server.closeAllConnections(); return new Promise((c) => server.close(c)); },
  })));
}

/** One wrk phase (fallback): the same numbers parsed from `wrk --latency`. */
function wrk(label, url, headers, seconds, rate, body) {
  const args = ['-t1', `-c${CONNS}`, `-d${seconds}s`, '--timeout', '10s', '--latency', '-s', join(ROOT, 'bench', 'gateway-call.lua'), url];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { env: { ...env, BODY: body, AUTHORIZATION: headers.authorization ?? '', SESSION: headers['mcp-session-id'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => {
      if (code !== 0) { reject(new Error(`wrk ${label} exited ${code}: ${out}`)); return; }
      writeFileSync(join(OUT, `${label.replace(':', '-')}.wrk.txt`), out);
      const ms = (pct) => {
        const m = out.match(new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm'));
        return m ? +m[1] * { us: 0.001, ms: 1, s: 1000 }[m[2]] : NaN;
      };
      const total = +(out.match(/(\d+) requests in/)?.[1] ?? 0);
      const non2xx = +(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
      const errs = out.match(/Socket errors:.*$/m)?.[0];
      resolve({ label, rps: +out.match(/Requests\/sec:\s+([\d.]+)/)[1], p50_ms: ms(50), p90_ms: ms(90), p99_ms: ms(99), ok: total - non2xx, other: non2xx, errors: errs ? { wrk: errs } : {} });
    });
  });
}

/** One load phase with the load generator found. */
const load = (label, url, headers, seconds, rate, body) => (LOADGEN === 'oha' ? oha : wrk)(label, url, headers, seconds, rate, body);

/** One oha phase; returns { rps, p50_ms, p90_ms, p99_ms, ok, other }. */
function oha(label, url, headers, seconds, rate, body) {
  const args = ['-z', `${seconds}s`, '-c', String(CONNS), ...(rate ? ['-q', String(rate)] : []), '-m', 'POST', '-d', body, '--no-tui', '--output-format', 'json',
    '-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream',
    ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  return new Promise((resolve, reject) => {
    const child = spawn(...onCpu(0, OHA, args), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => {
      if (code !== 0) { reject(new Error(`oha ${label} exited ${code}: ${err}`)); return; }
      writeFileSync(join(OUT, `${label.replace(':', '-')}.oha.json`), out);
      const j = JSON.parse(out);
      const codes = j.statusCodeDistribution ?? {};
      const ok = codes['200'] ?? 0;
      const total = Object.values(codes).reduce((a, b) => a + b, 0);
      const p = j.latencyPercentiles ?? {};
      resolve({ label, rps: j.summary.requestsPerSec, p50_ms: p.p50 * 1000, p90_ms: p.p90 * 1000, p99_ms: p.p99 * 1000, ok, other: total - ok, errors: j.errorDistribution ?? {} });
    });
  });
}

/**
 * The MCP TypeScript SDK's own example server (`simpleStreamableHttp.js`, unmodified, the one
 * the interop suite puts behind the gateway): a stateful Streamable HTTP server whose `greet`
 * tool answers in an SSE stream. What a vendor actually runs, unlike the minimal endpoint above.
 */
async function startSdkUpstream(port, logDir) {
  const example = join(dirname(createRequire(join(ROOT, 'tests', 'interop', 'package.json')).resolve('@modelcontextprotocol/sdk/server/mcp.js')),
    '..', 'examples', 'server', 'simpleStreamableHttp.js');
  const fd = openSync(join(logDir, 'upstream-sdk-example.log'), 'a');
  const child = spawn(...onCpu(1, process.execPath, [example]), { env: { ...env, MCP_PORT: String(port) }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = null;
  child.on('exit', (code, sig) => { exited = `${code ?? sig}`; });
  const url = `http://127.0.0.1:${port}/mcp`;
  for (const deadline = Date.now() + 30_000; !(await fetch(url).then(() => true, () => false));) {
    if (exited || Date.now() > deadline) throw new Error(`SDK example server did not start (${exited})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, pid: child.pid, close: () => { if (!exited) child.kill('SIGINT'); } };
}

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };

/** An MCP session opened at `url` (initialize, then initialized): the headers its calls carry. */
async function openSession(url, headers = {}) {
  const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'gateway-bench', version: '1' } } };
  const r = await fetch(url, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body: JSON.stringify(init) });
  const session = r.headers.get('mcp-session-id');
  await r.text();
  if (r.status !== 200 || !session) throw new Error(`initialize at ${url}: ${r.status}`);
  const h = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
  const n = await fetch(url, { method: 'POST', headers: { ...MCP_HEADERS, ...h }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  await n.text();
  if (n.status !== 202) throw new Error(`initialized at ${url}: ${n.status}`);
  return h;
}

const cleanups = [];
async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-gwbench-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  const pki = makePki(tmp);
  const db = createDatabase(env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  cleanups.push(() => db.drop());
  const [portNode, portGw, portSdkGw, portSdk] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${portNode}`;
  const ghEnv = {
    ...env, DATABASE_URL: db.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex'), GATEHOUSE_ISSUER: issuer,
    GATEHOUSE_FETCH_CA_FILE: pki.caFile, GATEHOUSE_FETCH_ALLOW_CIDRS: '127.0.0.2/32', RUST_LOG: 'warn',
  };
  const gh = { bin: BIN, env: ghEnv, logDir: OUT };
  const idpSecret = randomBytes(24).toString('base64url');
  const idp = await startIdp({ ...pki, clientSecret: idpSecret });
  cleanups.push(() => idp.close());
  const upstream = await startUpstream();
  cleanups.push(() => upstream.close());
  const sdk = await startSdkUpstream(portSdk, OUT);
  cleanups.push(() => sdk.close());

  if (PIN) {
    // PostgreSQL off the upstream's core too, as on its own host: every postgres process (the
    // postmaster's affinity is inherited by the backends it starts) on CPU 0, restored at the end.
    const pg = postgresPids();
    const all = `0-${cpus().length - 1}`;
    for (const pid of pg) try { execFileSync('taskset', ['-a', '-p', '-c', '0', pid], { stdio: 'ignore' }); } catch { /* gone */ }
    cleanups.push(() => { for (const pid of pg) try { execFileSync('taskset', ['-a', '-p', '-c', all, pid], { stdio: 'ignore' }); } catch { /* gone */ } });
  }
  await cli(gh, ['migrate']);
  await cli(gh, ['tenant', 'create', '--slug', 'bench', '--name', 'Bench', '--domain', 'acme.test']);
  const conn = await cli(gh, ['connection', 'add-oidc', '--tenant', 'bench', '--issuer', idp.issuer, '--client-id', 'gatehouse', '--client-secret-file', '-'], idpSecret);
  idp.setRedirectUris([conn.redirect_uri]);
  // Two resources: the minimal endpoint's (tool `ping`) and the SDK example's (tool `greet`).
  const kinds = [
    { kind: 'minimal', resource: `http://127.0.0.1:${portGw}/mcp`, port: portGw, tool: 'ping', upstream: upstream.url, body: BODY, upstreamPid: process.pid },
    { kind: 'sdk', resource: `http://127.0.0.1:${portSdkGw}/mcp`, port: portSdkGw, tool: 'greet', upstream: sdk.url, body: SDK_BODY, upstreamPid: sdk.pid },
  ];
  for (const k of kinds) {
    const toml = join(OUT, `resource-${k.kind}.toml`);
    writeFileSync(toml, `uri = "${k.resource}"\ndisplay_name = "Bench ${k.kind}"\n[[scopes]]\nname = "${SCOPE}"\ndescription = "ping"\ntier = "routine"\n[[tools]]\nname = "${k.tool}"\nscopes = ["${SCOPE}"]\n`);
    await cli(gh, ['resource', 'register', '--file', toml]);
    await cli(gh, ['grant', 'add', '--tenant', 'bench', '--resource', k.resource, '--scopes', SCOPE]);
  }
  psql(db.url, `UPDATE tenants SET settings = '{"gateway_calls_per_minute":{"routine":100000}}' WHERE slug = 'bench'`);

  const node = await startNode(gh, 'node', `127.0.0.1:${portNode}`);
  cleanups.push(() => node.stop());
  const redirectUri = 'http://127.0.0.1:9/callback';
  const clientId = await registerPublicClient(issuer, redirectUri);
  // One person per gateway phase: the per-user call limit is capped at 100,000 a minute (a
  // product bound), which one person's phase must not reach.
  for (const k of kinds) {
    k.tokens = [];
    for (let i = 0; i <= 2 * ROUNDS; i++) {
      const login = i === 0 ? ALICE.sub : `${ALICE.sub}-${k.kind}-${i}`;
      const s = await signIn({ base: issuer, ca: pki.ca, clientId, redirectUri, resource: k.resource, scope: SCOPE, email: ALICE.email, login });
      if (s.tokenStatus !== 200) throw new Error(`sign-in failed: ${describeEnd(s.end)} ${JSON.stringify(s.token)}`);
      k.tokens.push(s.token.access_token);
    }
    const gw = await startGateway(gh, `gateway-${k.kind}`, { listen: `127.0.0.1:${k.port}`, resource: k.resource, upstream: k.upstream });
    k.gatewayPid = gw.pid;
    // Every thread of the gateway (its workers are started by now) on CPU 0.
    if (PIN) execFileSync('taskset', ['-a', '-p', '-c', '0', String(gw.pid)], { stdio: 'ignore' });
    cleanups.push(() => gw.stop());
  }

  // Correctness first: the same answer both ways, and the upstream got a JWT through the gateway.
  const call = (url, body, h = {}) => fetch(url, { method: 'POST', body, headers: { ...MCP_HEADERS, ...h } }).then(async (r) => [r.status, await r.text()]);
  const [min, sdkKind] = kinds;
  const direct = await call(upstream.url, BODY);
  const via = await call(min.resource, BODY, { authorization: `Bearer ${min.tokens[0]}` });
  if (via[0] !== 200 || JSON.parse(via[1]).result?.content?.[0]?.text !== 'pong') throw new Error(`gateway answer: ${via}`);
  if (direct[1] !== via[1]) throw new Error(`different answers: ${direct[1]} vs ${via[1]}`);
  if (upstream.stats().withJwt !== 1) throw new Error('the upstream did not get a gateway JWT');
  // The SDK example keeps sessions: one opened directly, one per gateway phase through the gateway.
  sdkKind.directHeaders = await openSession(sdk.url);
  sdkKind.gatewayHeaders = [];
  for (const t of sdkKind.tokens) sdkKind.gatewayHeaders.push(await openSession(sdkKind.resource, { authorization: `Bearer ${t}` }));
  const sdkDirect = await call(sdk.url, SDK_BODY, sdkKind.directHeaders);
  const sdkVia = await call(sdkKind.resource, SDK_BODY, sdkKind.gatewayHeaders[0]);
  // The same message both ways (each SSE event has an id of its own: the data lines compare).
  const data = (sse) => sse.split('\n').filter((l) => l.startsWith('data:')).join('\n');
  if (sdkVia[0] !== 200 || !sdkVia[1].includes('Hello, bench!') || data(sdkDirect[1]) !== data(sdkVia[1])) throw new Error(`SDK answers: ${sdkDirect} vs ${sdkVia}`);
  min.directHeaders = {};
  min.gatewayHeaders = min.tokens.map((t) => ({ authorization: `Bearer ${t}` }));

  const rows = [];
  // The two checked calls above, then every phase's (warm-ups included).
  let gatewayOk = 2;
  let gatewayAborted = 0;
  for (const k of UPSTREAMS.map((u) => kinds.find((x) => x.kind === u))) {
    const label = (s) => `${k.kind}:${s}`;
    const run = async (name, url, headers, seconds, rate) => {
      const pids = { upstream: k.upstreamPid, gateway: name.includes('gateway') ? k.gatewayPid : null };
      const before = cpuSnapshot(pids);
      const r = await load(label(name), url, headers, seconds, rate, k.body);
      r.cpu = cpuPerCall(before, cpuSnapshot(pids), r.ok + r.other);
      log(JSON.stringify(r));
      if (name.includes('gateway')) {
        gatewayOk += r.ok;
        gatewayAborted += Object.entries(r.errors ?? {}).filter(([e]) => /aborted/.test(e)).reduce((a, [, n]) => a + n, 0);
      }
      return r;
    };
    log(`${k.kind}: warm-up, then ${ROUNDS} rounds of ${DURATION} s direct / ${DURATION} s gateway, ${CONNS} connections`);
    await run('warmup-direct', k.upstream, k.directHeaders, 2);
    await run('warmup-gateway', k.resource, k.gatewayHeaders[0], 2);
    for (let i = 1; i <= ROUNDS; i++) {
      rows.push(await run(`direct-${i}`, k.upstream, k.directHeaders, DURATION));
      rows.push(await run(`gateway-${i}`, k.resource, k.gatewayHeaders[i], DURATION));
    }
    for (let i = 1; i <= ROUNDS; i++) {
      rows.push(await run(`direct-at-${RATE}-${i}`, k.upstream, k.directHeaders, DURATION, RATE));
      rows.push(await run(`gateway-at-${RATE}-${i}`, k.resource, k.gatewayHeaders[ROUNDS + i], DURATION, RATE));
    }
  }
  // The audit writer works off the request path: count once its queue has drained (the count
  // stops growing), at most 30 s after the load.
  const count = () => +psql(db.url, `SELECT count(*) FROM audit_events WHERE action = 'gateway.tool_call'`);
  let audited = count();
  const drainStart = Date.now();
  for (let prev = -1; audited !== prev && Date.now() - drainStart < 30_000;) {
    prev = audited;
    await new Promise((r) => setTimeout(r, 1000));
    audited = count();
  }
  const drainMs = Date.now() - drainStart;
  const median = (xs) => { const a = [...xs].sort((x, y) => x - y); return a[Math.floor(a.length / 2)]; };
  const summaries = {};
  for (const kind of UPSTREAMS) {
    const of = (side, at) => rows.filter((r) => r.label.startsWith(`${kind}:${side}-`) && r.label.includes('-at-') === at);
    const pick = (side, k) => median(of(side, false).map((r) => r[k]));
    const pickAt = (side, k) => median(of(side, true).map((r) => r[k]));
    const s = {
      direct: { rps: pick('direct', 'rps'), p50_ms: pick('direct', 'p50_ms'), p99_ms: pick('direct', 'p99_ms') },
      gateway: { rps: pick('gateway', 'rps'), p50_ms: pick('gateway', 'p50_ms'), p99_ms: pick('gateway', 'p99_ms') },
      rate: RATE,
      direct_at_rate: { p50_ms: pickAt('direct', 'p50_ms'), p99_ms: pickAt('direct', 'p99_ms') },
      gateway_at_rate: { p50_ms: pickAt('gateway', 'p50_ms'), p99_ms: pickAt('gateway', 'p99_ms') },
    };
    s.added_p50_ms = s.gateway_at_rate.p50_ms - s.direct_at_rate.p50_ms;
    s.added_p50_saturated_ms = s.gateway.p50_ms - s.direct.p50_ms;
    s.throughput_ratio = s.gateway.rps / s.direct.rps;
    summaries[kind] = s;
  }
  const result = {
    stamp: STAMP, commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim(),
    bin: BIN, profile: /\/debug\//.test(BIN) || env.PROFILE === 'debug' ? '**debug build, unoptimised**' : 'release build', conns: CONNS, duration_s: DURATION, rounds: ROUNDS, pinned: PIN, rows, summaries, audited, audit_drain_ms: drainMs, gateway_ok: gatewayOk, gateway_aborted: gatewayAborted,
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, mem_mb: Math.round(totalmem() / 1e6), kernel: release(), node: process.version,
      sdk: JSON.parse(readFileSync(join(ROOT, 'tests', 'interop', 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json'), 'utf8')).version,
      loadgen: LOADGEN === 'oha' ? execFileSync(OHA, ['--version']).toString().trim() : `wrk ${execFileSync('sh', ['-c', 'wrk -v 2>&1 | head -1']).toString().trim().split(' ')[1]} (-t1)`, postgres: psql(db.url, 'SHOW server_version') },
  };
  writeFileSync(join(OUT, 'gateway.json'), JSON.stringify(result, null, 2));
  log(JSON.stringify(summaries));
  if ((env.REPORT ?? '1') === '1') report(result);
}

function report(r) {
  const f = (x, d = 2) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const row = (x) => `| ${x.label} | ${f(x.rps, 0)} | ${f(x.p50_ms)} ms | ${f(x.p90_ms)} ms | ${f(x.p99_ms)} ms | ${x.ok} | ${x.other} |`;
  const met = (ok) => (ok ? 'met' : '**not met**');
  const upstreams = {
    sdk: `the MCP TypeScript SDK ${r.machine.sdk}'s example server \`simpleStreamableHttp.js\`, unmodified (the upstream of the interop suite): \`tools/call\` of \`greet\` in an open session, answered in an SSE stream`,
    minimal: 'a minimal hand-written Streamable HTTP endpoint: `tools/call` of `ping`, a JSON answer and nothing else (the least an upstream can do per call, so the gateway\'s own cost shows most)',
  };
  // Where the CPU went, per answered call (µs), read from /proc around each phase.
  const cpuTable = (kind) => {
    // Full-load phases only: at a low rate the machine's tick-sampled busy time (/proc/stat)
    // misses short bursts that the processes' own precise times count, and "rest" goes wrong.
    const rows = r.rows.filter((x) => x.label.startsWith(`${kind}:`) && x.cpu && !x.label.includes('-at-'));
    if (!rows.length) return '';
    return `
CPU time per answered call at full load (µs, user + system, from \`/proc\` around each phase; "rest" is the load generator, the issuer node, the kernel's own threads and the bench script):

| phase | upstream | gateway | PostgreSQL | rest | machine busy |
|---|---:|---:|---:|---:|---:|
${rows.map((x) => `| ${x.label} | ${x.cpu.upstream_us} | ${x.cpu.gateway_us} | ${x.cpu.postgres_us} | ${x.cpu.rest_us} | ${x.cpu.busy_pct} % |`).join('\n')}
`;
  };
  const part = (kind) => {
    const s = r.summaries[kind];
    return `### Upstream: ${kind === 'sdk' ? 'the SDK example server' : 'the minimal endpoint'}

Upstream: ${upstreams[kind]}.

| phase | req/s | p50 | p90 | p99 | 200 | other |
|---|---:|---:|---:|---:|---:|---:|
${r.rows.filter((x) => x.label.startsWith(`${kind}:`)).map(row).join('\n')}

Medians over the rounds, at full load: direct ${f(s.direct.rps, 0)} req/s at p50 ${f(s.direct.p50_ms)} ms; gateway ${f(s.gateway.rps, 0)} req/s at p50 ${f(s.gateway.p50_ms)} ms
(+${f(s.added_p50_saturated_ms)} ms, mostly queueing: every phase runs at its own capacity).
At a fixed ${s.rate} req/s (the \`-at-${s.rate}-\` phases, below either side's capacity, so p50 is the time a call takes):
direct p50 ${f(s.direct_at_rate.p50_ms)} ms, gateway p50 ${f(s.gateway_at_rate.p50_ms)} ms.

| target (issue 13) | measured | |
|---|---|---|
| gateway adds ≤ 1 ms at p50 (at ${s.rate} req/s) | +${f(s.added_p50_ms)} ms | ${met(s.added_p50_ms <= 1)} |
| throughput ≥ 80 % of direct | ${f(s.throughput_ratio * 100, 0)} % | ${met(s.throughput_ratio >= 0.8)} |
${cpuTable(kind)}`;
  };
  const section = `<!-- gateway-bench:start -->
## MCP gateway overhead (issue 13)

Generated by \`bench/gateway.sh\` (run ${r.stamp}, commit ${r.commit}) from \`bench/results/gateway-${r.stamp}/gateway.json\`.
A trivial tool call sent by \`${r.machine.loadgen}\` with ${r.conns} connections, ${r.duration_s} s per phase,
alternately **directly** to the upstream and **through \`gatehouse gateway\`** (${r.profile}, one
process per upstream, PostgreSQL ${r.machine.postgres.split(' ')[0]} on the same host, \`RUST_LOG=warn\`), ${r.rounds} rounds each, on the same ${r.machine.cpus}-core
machine (${r.machine.cpu}) that also runs the load generator, the upstream (Node ${r.machine.node}) and PostgreSQL,
for two upstreams.${r.pinned ? ' **Placement (`PIN=1`)**: in every phase the SDK upstream runs on CPU 1 alone; the load generator, the gateway and PostgreSQL on CPU 0.' : ' No process is pinned to a CPU.'}
Through the gateway every call is checked in full: the access token read from PostgreSQL (no
cache), the catalogue's scopes, the per-user call limit (counted in memory per node, added to the shared row once a second; the run raises the tenant's
routine limit to its maximum, 100,000 per minute, and each gateway phase calls as a person of its own), a fresh EdDSA JWT for the upstream, the answer streamed
back, and a \`gateway.tool_call\` audit record written off the request path (${r.audited.toLocaleString('en-US')} records for
${r.gateway_ok.toLocaleString('en-US')} successful gateway calls, warm-up and checks included${r.gateway_aborted ? `, and ${r.gateway_aborted.toLocaleString('en-US')} calls the load generator abandoned in flight at the end of a phase (audited as the gateway saw them end)` : ''}, counted once the writer's queue had
drained, ${f(r.audit_drain_ms / 1000, 0)} s after the load).

${UPSTREAMS.map(part).join('\n')}
Run: \`bench/gateway.sh\` (knobs: \`DURATION\`, \`CONNS\`, \`ROUNDS\`, \`RATE\`, \`BIN\`, \`PIN\`).
<!-- gateway-bench:end -->
`;
  const doc = join(ROOT, 'docs', 'benchmarks.md');
  const text = readFileSync(doc, 'utf8');
  const re = /<!-- gateway-bench:start -->[\s\S]*?<!-- gateway-bench:end -->\n?/;
  writeFileSync(doc, re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}`);
  log(`docs/benchmarks.md: gateway section written`);
}

try {
  // RENDER=<gateway.json>: write the section of an earlier run again (after a change to this text).
  if (env.RENDER) report(JSON.parse(readFileSync(env.RENDER, 'utf8')));
  else await main();
} finally {
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((e) => log('cleanup:', e.message));
}
process.exit(0);
