// Summarises a sampler file written by bench/run.sh (one line every 0.5 s:
// `epoch rss_kB server_ticks machine_total_ticks machine_idle_ticks postgres_ticks`).
// Prints JSON: peak and last RSS (MB), server / PostgreSQL CPU (percent of one core) and machine
// busy percent (of all cores) over the sampled window.
// usage: node bench/phase-stats.mjs SAMPLES_FILE
import { readFileSync } from 'node:fs';

const HZ = 100; // getconf CLK_TCK on Linux
const rows = readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number)).filter((r) => r.length === 6 && r.every(Number.isFinite));
if (rows.length < 2) { console.log(JSON.stringify({ samples: rows.length })); process.exit(0); }
const [a, b] = [rows[0], rows.at(-1)];
const secs = b[0] - a[0];
const busy = 1 - (b[4] - a[4]) / (b[3] - a[3]);
console.log(JSON.stringify({
  samples: rows.length,
  seconds: +secs.toFixed(1),
  peak_rss_mb: +(Math.max(...rows.map((r) => r[1])) / 1024).toFixed(1),
  last_rss_mb: +(b[1] / 1024).toFixed(1),
  server_cpu_pct: +(((b[2] - a[2]) / HZ / secs) * 100).toFixed(0),
  postgres_cpu_pct: +(((b[5] - a[5]) / HZ / secs) * 100).toFixed(0),
  machine_busy_pct: +(busy * 100).toFixed(0),
}));
