// The README's quick start ("A sign-in on one machine"), run as written: every ```sh block
// between <!-- quickstart:start --> and <!-- quickstart:end --> in README.md, in order, in a fresh
// working directory laid out like the repository (scripts/ and examples/quickstart/ as in the
// clone, ./target/release/gatehouse being the binary under test). A block after
// <!-- quickstart:background URL --> is a terminal left running (ready when URL answers); the
// block after <!-- quickstart:client --> is the MCP client, whose sign-in URL is opened by the
// scripted browser (browser.mjs: plain HTTP requests, filling the email and password the README
// names) as the README asks the reader to do in theirs. It must end with the client calling
// tools through the gateway. The wall time is printed.
//
// Substituted, and nothing else: the ports (8080, 8090, 3001 and the client's callback port, so
// that runs do not collide) through the variables the README documents (GATEHOUSE_LISTEN,
// GATEHOUSE_ISSUER, GATEHOUSE_GATEWAY_LISTEN, the example's PORT and CALLBACK_PORT) and in the
// copied files; and `cargo`, which `./scripts/serve.sh` runs as `cargo run --release -p gatehouse
// -- serve`: a stand-in on PATH runs the already built GATEHOUSE_BIN with the same arguments.
// The quick start uses SQLite in ./data of the working directory: DATABASE_URL and the master key
// of the environment are not passed on.
// Env: GATEHOUSE_BIN. Run: node --test tests/interop/quickstart.test.mjs
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Browser } from './browser.mjs';
import { freePort } from './presets-flow.mjs';
import { tail } from './gatehouse.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const running = [];
const cleanups = [];

/** `promise`, or `fallback` after `ms` (the timer is cleared, so it keeps nothing alive). */
function within(promise, ms, fallback) {
  let timer;
  const late = new Promise((r) => { timer = setTimeout(() => r(fallback), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The quick start's steps: { kind: 'run' | 'background' | 'client', text, ready? }. */
export function quickstartBlocks(markdown) {
  const start = markdown.indexOf('<!-- quickstart:start -->');
  const end = markdown.indexOf('<!-- quickstart:end -->');
  assert.ok(start >= 0 && end > start, 'README.md has the quickstart markers');
  const lines = markdown.slice(start, end).split('\n');
  const blocks = [];
  let marker = null;
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/<!-- quickstart:(background|client)\s*(\S*)\s*-->/);
    if (m) { marker = { kind: m[1], ready: m[2] || undefined }; continue; }
    const fence = lines[i].match(/^(\s*)```(\w*)\s*$/);
    if (!fence) continue;
    const [, indent, lang] = fence;
    const body = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) body.push(lines[i].slice(indent.length));
    if (lang === 'sh') blocks.push({ kind: marker?.kind ?? 'run', ready: marker?.ready, text: body.join('\n') });
    marker = null;
  }
  return blocks;
}

function spawnBlock(cwd, env, text, logFile) {
  const fd = openSync(logFile, 'a');
  const child = spawn('bash', ['-euo', 'pipefail', '-c', text], { cwd, env, stdio: ['ignore', 'pipe', fd], detached: true });
  closeSync(fd);
  child.output = '';
  child.stdout.on('data', (d) => { child.output += d; writeFileSync(logFile, d, { flag: 'a' }); });
  child.exited = new Promise((r) => child.on('exit', (code, sig) => { child.done = `exited with ${code ?? sig}`; r(code); }));
  return child;
}

async function waitReady(url, child, logFile) {
  const strict = /readyz|well-known/.test(url);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.done) throw new Error(`${url}: the block ${child.done} before it was ready\n${tail(logFile)}`);
    const status = await fetch(url).then((r) => r.status, () => 0);
    if (strict ? status === 200 : status > 0) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready after 60 s\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Every terminal left running is stopped: SIGTERM to its process group, SIGKILL after 3 s.
after(async () => {
  const kill = (child, sig) => { try { process.kill(-child.pid, sig); } catch { /* gone */ } };
  const live = running.filter((c) => !c.done);
  for (const c of live) kill(c, 'SIGTERM');
  await within(Promise.all(live.map((c) => c.exited)), 3000);
  for (const c of live) kill(c, 'SIGKILL');
  for (const c of cleanups.reverse()) c();
});

test('the README quick start ends with an MCP client calling tools through the gateway', { timeout: 180_000 }, async (t) => {
  const bin = process.env.GATEHOUSE_BIN;
  assert.ok(bin, 'GATEHOUSE_BIN is required');
  const blocks = quickstartBlocks(README);
  assert.deepEqual(blocks.map((b) => b.kind), ['background', 'run', 'background', 'background', 'client']);
  const [, email, password] = README.match(/sign in as `([^`]+)` with\s+the password `([^`]+)`/) ?? [];
  assert.ok(email && password, 'the README names the user to sign in as');

  const [gh, gw, mcp, cb] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const ports = [['127.0.0.1:8080', `127.0.0.1:${gh}`], ['127.0.0.1:8090', `127.0.0.1:${gw}`], ['127.0.0.1:3001', `127.0.0.1:${mcp}`]];
  const subst = (s) => ports.reduce((acc, [from, to]) => acc.replaceAll(from, to), s);

  // A working directory laid out like the clone.
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-quickstart-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const logDir = join(HERE, '.run', `quickstart-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  mkdirSync(logDir, { recursive: true });
  symlinkSync(join(REPO, 'scripts'), join(dir, 'scripts'));
  mkdirSync(join(dir, 'target', 'release'), { recursive: true });
  symlinkSync(resolve(bin), join(dir, 'target', 'release', 'gatehouse'));
  const example = join(dir, 'examples', 'quickstart');
  cpSync(join(REPO, 'examples', 'quickstart'), example, { recursive: true, filter: (src) => !src.includes('node_modules') });
  for (const f of ['resource.toml', 'client.mjs', 'server.mjs']) writeFileSync(join(example, f), subst(readFileSync(join(example, f), 'utf8')));
  const shim = join(dir, '.shim');
  mkdirSync(shim);
  writeFileSync(join(shim, 'cargo'), '#!/bin/sh\n# `cargo run ... -- ARGS`: the binary is built already.\nwhile [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done\n[ "$#" -gt 0 ] && shift\nexec "$QUICKSTART_GATEHOUSE_BIN" "$@"\n', { mode: 0o755 });

  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATEHOUSE_') && k !== 'DATABASE_URL'));
  Object.assign(env, {
    PATH: `${shim}:${process.env.PATH}`,
    QUICKSTART_GATEHOUSE_BIN: resolve(bin),
    GATEHOUSE_LISTEN: `127.0.0.1:${gh}`,
    GATEHOUSE_ISSUER: `http://127.0.0.1:${gh}`,
    GATEHOUSE_GATEWAY_LISTEN: `127.0.0.1:${gw}`,
    PORT: String(mcp),
    CALLBACK_PORT: String(cb),
    RUST_LOG: process.env.RUST_LOG ?? 'info',
  });

  const started = Date.now();
  let output = '';
  for (const [i, b] of blocks.entries()) {
    const text = subst(b.text);
    const logFile = join(logDir, `step-${i + 1}-${b.kind}.log`);
    writeFileSync(logFile, `$ ${text}\n`);
    const child = spawnBlock(dir, env, text, logFile);
    if (b.kind === 'run') {
      const code = await child.exited;
      assert.equal(code, 0, `step ${i + 1} failed:\n${text}\n${tail(logFile)}`);
      continue;
    }
    running.push(child);
    if (b.kind === 'background') {
      await waitReady(subst(b.ready), child, logFile);
      continue;
    }
    // The client: open its sign-in URL in the "browser", which comes back to its callback.
    const deadline = Date.now() + 30_000;
    let url;
    while (!(url = child.output.match(/^\s+(http:\/\/\S+\/oauth\/authorize\?\S+)$/m)?.[1])) {
      if (child.done || Date.now() > deadline) throw new Error(`the client printed no sign-in URL (${child.done ?? 'timeout'})\n${tail(logFile)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const browser = new Browser({ fill: { email, password } });
    const redirect = `http://127.0.0.1:${cb}/callback`;
    const params = await browser.authorize(url, redirect);
    assert.ok(browser.log.some((l) => l.includes('/federation/dev/')), `signed in at the development IdP:\n${browser.log.join('\n')}`);
    assert.ok(browser.pages.some((p) => /Development/.test(p.text)), 'the sign-in page is marked development');
    const back = await fetch(`${redirect}?${new URLSearchParams(params)}`);
    assert.equal(back.status, 200, 'the client received the authorization code');
    const code = await within(child.exited, 30_000, 'timeout');
    assert.equal(code, 0, `the client failed:\n${tail(logFile)}`);
    output = child.output;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  assert.match(output, /^tools: .*list_notes/m);
  assert.match(output, /^add_note: added note \d+: signed in through Gatehouse$/m);
  assert.match(output, /^list_notes: .*signed in through Gatehouse/m);
  t.diagnostic(`quick start wall time: ${seconds} s`);
  console.log(`quick start wall time: ${seconds} s (logs: ${logDir})`);
});
