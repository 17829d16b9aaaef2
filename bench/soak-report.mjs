// The soak's report (bench/soak.sh). Not part of the test suite.
//
//   node bench/soak-report.mjs OUT_DIR BIN FRACTION        > report.md   (Markdown section)
//   node bench/soak-report.mjs --write report.md docs/benchmarks.md      (put it between the markers)
//
// RSS is judged on the second half of the run: a leak grows at the same pace in every part of a
// run, while warm-up (pools, caches, allocator arenas and the binary's pages filling) is a step
// at its start, which a slope fitted over the whole run reads as growth (the tenth session's
// soak: 3.9 MB, all of it in minutes 2 to 4, flat for the six minutes after). "Flat" means the
// least-squares growth fitted over the second half, extrapolated to 10 minutes, is under 5 % of
// the half's mean RSS. No bound in megabytes: with jemalloc returning pages after a second, RSS
// moves by about ±1.5 MB with each second's load (the eleventh session's debug-build soak: 64.9
// to 67.3 MB after its first minute), and a slope fitted over five minutes of that moves by about
// 2 MB per 10 minutes from run to run. The slope after the first minute is printed beside it,
// and growth is reported only when both slopes exceed 5 %: a leak grows at the same pace over
// the nine minutes after the first as over the last five, while a one-off step shows in only
// one of them (warm-up in the longer window, a late step in the half). The thirteenth session's
// CI run of an unchanged node (debug build) stepped by about 2 MB in its last two minutes:
// 6.1 % over the half, 3.8 % over the nine minutes; the same session's first run gave 1.4 %.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const START = '<!-- soak:start -->';
const END = '<!-- soak:end -->';
// bench/report.mjs carries everything after this marker over to its next report.
const KEPT = '<!-- kept: the sections below are written by other scripts; bench/report.mjs keeps them -->';

if (process.argv[2] === '--write') {
  const [, , , reportFile, docFile] = process.argv;
  const section = `${START}\n${readFileSync(reportFile, 'utf8').trim()}\n${END}`;
  let doc = existsSync(docFile) ? readFileSync(docFile, 'utf8') : '';
  if (doc.includes(START) && doc.includes(END)) {
    doc = doc.slice(0, doc.indexOf(START)) + section + doc.slice(doc.indexOf(END) + END.length);
  } else {
    if (!doc.includes(KEPT)) doc = `${doc.trimEnd()}\n\n${KEPT}\n`;
    doc = `${doc.trimEnd()}\n\n${section}\n`;
  }
  writeFileSync(docFile, doc);
  process.exit(0);
}

const [, , out, bin, fraction] = process.argv;
// Each line of rss.txt: seconds, RSS, and (newer runs) its anonymous and file-mapped parts (kB).
const rssRows = readFileSync(`${out}/rss.txt`, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number));
const samples = rssRows.filter(([t, kb]) => Number.isFinite(t) && kb > 0).map(([t, kb]) => ({ t, mb: kb / 1024 }));
// Which part grows: anonymous memory (heap, stacks) or pages mapped from files (the binary's code).
const parts = (() => {
  const rows = rssRows.filter((r) => r.length >= 4 && r[0] >= 60 && r[2] > 0);
  if (rows.length < 2) return '';
  const [a, b] = [rows[0], rows.at(-1)];
  const mb = (kb) => (kb / 1024).toFixed(1);
  return `\nFrom second ${a[0]} to second ${b[0]}: anonymous memory ${mb(a[2])} → ${mb(b[2])} MB, pages mapped from files ${mb(a[3])} → ${mb(b[3])} MB.`;
})();
const load = JSON.parse(readFileSync(`${out}/load.txt`, 'utf8').match(/^RESULT (.*)$/m)[1]);
const warnings = existsSync(`${out}/log-warnings.txt`) ? readFileSync(`${out}/log-warnings.txt`, 'utf8').trim() : '?';
const measured = samples.filter((s) => s.t >= 60);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const slope = (xs) => {
  const mt = mean(xs.map((s) => s.t));
  const mm = mean(xs.map((s) => s.mb));
  const num = xs.reduce((a, s) => a + (s.t - mt) * (s.mb - mm), 0);
  const den = xs.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  return den ? num / den : 0; // MB per second
};
const fit = slope(measured);
const span = measured.length ? measured.at(-1).t - measured[0].t : 0;
const half = samples.at(-1).t / 2;
const steady = samples.filter((s) => s.t >= half);
const steadyFit = slope(steady);
const byMinute = [];
for (let m = 0; m * 60 <= samples.at(-1).t; m++) {
  const xs = samples.filter((s) => s.t >= m * 60 && s.t < (m + 1) * 60).map((s) => s.mb);
  if (xs.length) byMinute.push({ m, mean: mean(xs), max: Math.max(...xs) });
}
const first = byMinute[1] ?? byMinute[0];
const last = byMinute.at(-1);
const growth = fit * span;
const steadyGrowth = steadyFit * 600; // MB per 10 minutes
const steadyPct = (100 * steadyGrowth) / mean(steady.map((s) => s.mb));
const afterWarmPct = (100 * fit * 600) / mean(measured.map((s) => s.mb));
const flat = Math.abs(steadyPct) < 5 || Math.abs(afterWarmPct) < 5;
const f = (x) => x.toFixed(1);
let commit = 'unknown';
try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
const build = /\/release\//.test(bin) ? 'release build' : /\/debug\//.test(bin) ? '**debug build**' : `binary ${bin}`;
// The mixed maximum measured first in the same run (bench/soak.sh without given maxima).
const maxima = existsSync(`${out}/maxima.txt`) ? JSON.parse(readFileSync(`${out}/maxima.txt`, 'utf8').match(/^RESULT (.*)$/m)[1]) : null;
const OPS = ['introspect', 'refresh', 'client_credentials'];
const chainsTotal = load.chains ?? 64;
// CHECK=1's verdict: what failed, in words (empty: every check held).
const failedChecks = [];
for (const op of OPS) {
  const v = load[op];
  if (!v) { failedChecks.push(`${op}: no requests`); continue; }
  if (v.rps < 0.97 * v.target_rps) failedChecks.push(`${op}: ${v.rps} req/s achieved of ${v.target_rps} (under 97 %)`);
  // An arrival is behind when the server is slow for a moment (for refresh: every chain has a
  // request in flight); one in a thousand is a blip, more is a server that does not keep up.
  if (v.behind > 0.001 * (v.ok + v.err + v.behind)) failedChecks.push(`${op}: ${v.behind} arrivals behind (over 0.1 %)`);
  if (v.err) failedChecks.push(`${op}: ${v.err} failed requests`);
}
if (load.chains_alive !== chainsTotal) failedChecks.push(`${chainsTotal - load.chains_alive} refresh chains ended`);
if (warnings !== '0') failedChecks.push(`the node logged ${warnings} WARN/ERROR lines`);
if (!flat) failedChecks.push(`RSS grows: ${steadyGrowth.toFixed(2)} MB (${steadyPct.toFixed(1)} %) per 10 minutes over the second half, ${(fit * 600).toFixed(2)} MB (${afterWarmPct.toFixed(1)} %) after the first minute`);
writeFileSync(`${out}/verdict.json`, JSON.stringify({ failed: failedChecks, rss_second_half_mb_per_10min: +steadyGrowth.toFixed(3) }));
const rows = Object.entries(load).filter(([op, v]) => op !== 'failures' && v && typeof v === 'object')
  .map(([op, v]) => `| ${op} | ${v.target_rps} | ${v.rps} | ${v.ok} | ${v.err} | ${v.behind} |`);
const failed = Object.entries(load.failures ?? {})
  .map(([key, v]) => `\`${key}\` × ${v.count} (first answer: \`${v.first.replace(/[`\n|]/g, ' ').slice(0, 160) || 'none'}\`)`);

process.stdout.write(`## Soak: ${Math.round(load.seconds / 60)} minutes at ${Number(fraction) * 100} % of the measured maximum

Generated by \`bench/soak.sh\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${commit}, ${build}, one node on
PostgreSQL, \`RUST_LOG=warn\`; results in \`${/\/bench\/results\//.test(out) ? `bench/results/${out.split('/').pop()}/` : out}\`). Open-loop mixed load
(\`bench/soak-load.mjs\`), ${maxima
  ? `each operation at ${Number(fraction) * 100} % of its rate in the mixed maximum measured first in the same run (${maxima.seconds} s closed loop,
${maxima.workers} loops per operation, the same generator: ${OPS.map((op) => `${op} ${maxima[op]?.rps ?? 0}/s`).join(', ')})`
  : `each operation at ${f(Number(fraction) * 100 / 3)} % of its maximum in this file, so that
together they use ${Number(fraction) * 100} % of the measured capacity`}:

| operation | target req/s | achieved req/s | ok | errors | behind |
|---|---:|---:|---:|---:|---:|
${rows.join('\n')}

Refresh chains alive at the end: ${load.chains_alive}/${chainsTotal}. WARN/ERROR log lines: ${warnings}.
Failed answers by operation and status (0: no answer): ${failed.length ? failed.join('; ') : 'none'}.

RSS of the node, sampled every ${samples[1] ? samples[1].t - samples[0].t : '?'} s (${samples.length} samples):

| minute | ${byMinute.map((b) => b.m + 1).join(' | ')} |
|---|${byMinute.map(() => '---:').join('|')}|
| mean RSS (MB) | ${byMinute.map((b) => f(b.mean)).join(' | ')} |

After the first minute: minimum ${f(Math.min(...measured.map((s) => s.mb)))} MB, maximum
${f(Math.max(...measured.map((s) => s.mb)))} MB; least-squares trend ${(fit * 600).toFixed(2)} MB per 10 minutes (${afterWarmPct.toFixed(1)} %)
(${growth.toFixed(2)} MB over the ${Math.round(span / 60)} minutes after the first); minute 2 mean ${f(first.mean)} MB, last minute
mean ${f(last.mean)} MB. Second half of the run (from second ${Math.round(half)}, ${steady.length} samples, mean
${f(mean(steady.map((s) => s.mb)))} MB): least-squares trend ${steadyGrowth.toFixed(2)} MB per 10 minutes (${steadyPct.toFixed(1)} %).
**RSS ${flat ? 'stays flat: no growth trend' : 'shows a growth trend'}** (flat: the second half's trend, or the trend after the first
minute, under 5 % per 10 minutes; warm-up is a step at the start of a run and a late step shows in the half only, a leak grows
in both).${parts}

Checks (\`CHECK=1\`): ${failedChecks.length ? failedChecks.join('; ') : 'every operation held its rate, no request failed, every chain alive, no WARN/ERROR line, RSS flat'}.
`);
