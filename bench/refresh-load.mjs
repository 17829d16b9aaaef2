// Refresh-token-with-rotation load generator (bench/run.sh). Runs every chain of a token file
// concurrently for DURATION seconds: each chain POSTs grant_type=refresh_token with its current
// refresh token and replaces it with the rotated one from the response. A chain whose refresh
// fails stops (its token is no longer usable: a retry would be a reuse). Keep-alive http.Agent,
// one socket per chain.
//
// usage: node bench/refresh-load.mjs TOKENS.json DURATION_SECS [LABEL]
//        node bench/refresh-load.mjs --probe URL DURATION_SECS CONCURRENCY   (generator ceiling:
//        the same request loop doing GET on a trivial endpoint)
// Prints one line `RESULT {json}` on stdout: ok, errors, statuses, rps, p50/p90/p99 ms, the
// generator's own CPU use (percent of one core) over the run.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const probe = args[0] === '--probe';
const durationSecs = +(probe ? args[2] : args[1]);
if (!(durationSecs > 0 && durationSecs <= 300)) throw new Error('duration must be in (0, 300] seconds');
const spec = probe ? null : JSON.parse(readFileSync(args[0], 'utf8'));
const concurrency = probe ? +args[3] : spec.chains.length;
const target = new URL(probe ? args[1] : spec.token_url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) throw new Error('loopback targets only');

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
function send(method, body) {
  return new Promise((resolve, reject) => {
    const headers = body ? { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'content-length': Buffer.byteLength(body) } : {};
    const req = http.request(target, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

const lat = [];
const statuses = {};
const samples = [];
let ok = 0, errors = 0, deadChains = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const deadline = t0 + durationSecs * 1000;

async function chain(c) {
  let rt = c?.refresh_token;
  while (performance.now() < deadline) {
    const s = performance.now();
    let r;
    try {
      r = probe ? await send('GET') : await send('POST', `grant_type=refresh_token&refresh_token=${encodeURIComponent(rt)}&client_id=${encodeURIComponent(c.client_id ?? spec.client_id)}`);
    } catch (e) {
      r = { status: `neterr:${e.code ?? e.message}`, body: '' };
    }
    lat.push(performance.now() - s);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (r.status === 200) {
      ok++;
      if (!probe) {
        const j = JSON.parse(r.body);
        if (!j.refresh_token || j.refresh_token === rt || !j.access_token) { errors++; deadChains++; samples.push(`no rotation: ${r.body.slice(0, 200)}`); return; }
        rt = j.refresh_token;
      }
    } else {
      errors++;
      if (samples.length < 5) samples.push(`HTTP ${r.status}: ${r.body.slice(0, 200)}`);
      if (!probe) { deadChains++; return; }
    }
  }
}
await Promise.all(probe ? Array.from({ length: concurrency }, () => chain(null)) : spec.chains.map(chain));
const secs = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
agent.destroy();
lat.sort((a, b) => a - b);
const pct = (p) => (lat.length ? +lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))].toFixed(2) : null);
const result = {
  label: probe ? `probe ${target.pathname}` : (args[2] ?? 'refresh'), concurrency, seconds: +secs.toFixed(2),
  ok, errors, dead_chains: deadChains, statuses, rps: +(ok / secs).toFixed(1),
  p50_ms: pct(50), p90_ms: pct(90), p99_ms: pct(99), max_ms: pct(100),
  generator_cpu_pct: +(((cpu.user + cpu.system) / 1000 / (secs * 1000)) * 100).toFixed(1),
  error_samples: samples,
};
console.log(`RESULT ${JSON.stringify(result)}`);
