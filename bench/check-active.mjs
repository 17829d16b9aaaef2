// Introspects every access token of a token file once and prints `ACTIVE <n>/<total>`; exits 1
// unless all are active. bench/run.sh runs it before and after each introspection load, so a
// fast answer of active:false cannot pass for throughput.
// usage: node bench/check-active.mjs TOKENS.json
import { readFileSync } from 'node:fs';

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const basic = Buffer.from(`${spec.introspection_client_id}:${spec.introspection_client_secret}`).toString('base64');
let active = 0;
let sample;
for (const c of spec.chains) {
  const res = await fetch(spec.introspect_url, {
    method: 'POST', body: new URLSearchParams({ token: c.access_token }),
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  });
  const j = await res.json().catch(() => ({}));
  if (res.status === 200 && j.active === true) active++;
  sample ??= { status: res.status, body: j };
}
console.log(`ACTIVE ${active}/${spec.chains.length} sample=${JSON.stringify(sample)}`);
process.exit(active === spec.chains.length ? 0 : 1);
