// docker-compose.yml matches the binary (issue 15 §3): every environment variable a Gatehouse
// service sets is one the binary reads (the `env = "…"` of its clap flags and the variables
// config.rs and the mailer read), and the ports agree: the node's listen port (compose, else
// the Dockerfile's GATEHOUSE_LISTEN) is where the load balancer sends requests, the issuer names
// the load balancer's published port, DATABASE_URL names the PostgreSQL service with its
// credentials, and the SMTP URL names the mail sink's SMTP port. No Docker is needed: the files
// are read, not run.
// Run: node --test tests/interop/compose.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (...p) => readFileSync(join(ROOT, ...p), 'utf8');
const compose = parse(read('docker-compose.yml'), { merge: true });
const services = compose.services;
const MAILPIT_SMTP_PORT = 1025; // axllent/mailpit's SMTP listener
const POSTGRES_PORT = 5432;

function rustFiles(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? rustFiles(p) : p.endsWith('.rs') ? [p] : [];
  });
}

/** The variables the binary reads: clap's `env = "X"`, `env("X")`/`var("X")` and the names handed to config readers. */
function variablesTheBinaryReads() {
  const names = new Set();
  for (const f of rustFiles(join(ROOT, 'crates', 'gatehouse', 'src'))) {
    const src = readFileSync(f, 'utf8').split(/\n#\[cfg\(test\)\]/)[0]; // not the unit tests' own names
    for (const [, n] of src.matchAll(/"((?:GATEHOUSE_[A-Z0-9_]+)|DATABASE_URL)"/g)) names.add(n);
    // The log filter: tracing-subscriber's EnvFilter::try_from_default_env, or read directly.
    if (src.includes('try_from_default_env') || src.includes('var("RUST_LOG")')) names.add('RUST_LOG');
  }
  return names;
}

const nodes = Object.entries(services).filter(([, s]) => s.build !== undefined || /gatehouse/.test(s.image ?? ''));
const env = (s) => (Array.isArray(s.environment)
  ? Object.fromEntries(s.environment.map((e) => e.split(/=(.*)/s).slice(0, 2)))
  : s.environment ?? {});
const dockerfileEnv = Object.fromEntries([...read('Dockerfile').matchAll(/^ENV\s+(.+)$/gm)]
  .flatMap(([, line]) => [...line.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)].map(([, k, v]) => [k, v])));
const listenOf = (s) => env(s).GATEHOUSE_LISTEN ?? dockerfileEnv.GATEHOUSE_LISTEN;
const portOf = (addr) => Number(addr.split(':').pop());

test('the compose file has two Gatehouse nodes, PostgreSQL, a load balancer and an SMTP sink', () => {
  assert.ok(nodes.length >= 2, `Gatehouse services: ${nodes.map(([n]) => n)}`);
  assert.ok(services.postgres && services.lb && services.mail);
  assert.match(services.mail.image, /^axllent\/mailpit/);
});

test('every environment variable of a Gatehouse service is one the binary reads', () => {
  const known = variablesTheBinaryReads();
  assert.ok(known.has('GATEHOUSE_LISTEN') && known.has('DATABASE_URL') && known.has('GATEHOUSE_SMTP_URL'), [...known].join(' '));
  for (const [name, s] of nodes) {
    const unknown = Object.keys(env(s)).filter((k) => !known.has(k));
    assert.deepEqual(unknown, [], `${name} sets variables the binary never reads`);
  }
  const unknownInImage = Object.keys(dockerfileEnv).filter((k) => !known.has(k));
  assert.deepEqual(unknownInImage, [], 'the Dockerfile sets variables the binary never reads');
});

test('the load balancer sends requests to each node on the port the node listens on', () => {
  const nginx = read('deploy', 'nginx.conf');
  const upstreams = [...nginx.matchAll(/^\s*server\s+([\w.-]+):(\d+);/gm)].map(([, host, port]) => ({ host, port: +port }));
  assert.deepEqual(upstreams.map((u) => u.host).sort(), nodes.map(([n]) => n).sort(), 'every node and only the nodes are upstreams');
  for (const u of upstreams) {
    const listen = listenOf(services[u.host]);
    assert.ok(listen, `${u.host}: no GATEHOUSE_LISTEN in the compose file or the Dockerfile (the binary's default is loopback only)`);
    assert.match(listen, /^0\.0\.0\.0:|^\[::\]:/, `${u.host} must listen on all interfaces in its container`);
    assert.equal(u.port, portOf(listen), `${u.host}: nginx sends to :${u.port}, the node listens on ${listen}`);
  }
  const lbListen = Number(nginx.match(/^\s*listen\s+(\d+);/m)[1]);
  const published = services.lb.ports.map((p) => String(p).split(':').map(Number));
  const hostPort = published.find(([, container]) => container === lbListen)?.[0];
  assert.ok(hostPort, `the load balancer's listen port ${lbListen} is published`);
  for (const [name, s] of nodes) {
    const issuer = new URL(env(s).GATEHOUSE_ISSUER);
    assert.equal(Number(issuer.port || (issuer.protocol === 'https:' ? 443 : 80)), hostPort, `${name}: the issuer names the load balancer's published port`);
  }
});

test('DATABASE_URL names the PostgreSQL service, its port and credentials; the SMTP URL names the sink', () => {
  const pg = env(services.postgres);
  for (const [name, s] of nodes) {
    const db = new URL(env(s).DATABASE_URL);
    assert.equal(db.protocol, 'postgres:');
    assert.equal(db.hostname, 'postgres', `${name}: DATABASE_URL names the postgres service`);
    assert.equal(Number(db.port || POSTGRES_PORT), POSTGRES_PORT);
    assert.equal(decodeURIComponent(db.username), pg.POSTGRES_USER);
    assert.equal(decodeURIComponent(db.password), pg.POSTGRES_PASSWORD);
    assert.equal(db.pathname.slice(1), pg.POSTGRES_DB);
    const smtp = new URL(env(s).GATEHOUSE_SMTP_URL);
    assert.equal(smtp.protocol, 'smtp:');
    assert.equal(smtp.hostname, 'mail', `${name}: mail goes to the SMTP sink service`);
    assert.equal(Number(smtp.port), MAILPIT_SMTP_PORT);
    const deps = Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {});
    assert.ok(deps.includes('postgres') && deps.includes('mail'), `${name} starts after postgres and mail`);
  }
});
