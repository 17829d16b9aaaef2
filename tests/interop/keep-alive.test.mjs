// Idle client connections (ADR 0027, operator guide "Idle connections and the load balancer's
// idle timeout"): a node keeps an idle kept-alive connection open past actix-web's old 5 s, so a
// load balancer whose idle timeout is longer never sends a request down a connection the node is
// closing; `GATEHOUSE_KEEP_ALIVE` shortens it, and `0` closes each connection after its answer.
// Raw HTTP/1.1 over one TCP socket, so what is asserted is the connection itself.
// Env: GATEHOUSE_BIN. Run: node --test tests/interop/keep-alive.test.mjs
import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, tail } from './gatehouse.mjs';
import { freePort } from './presets-flow.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

/** A node on SQLite in a fresh data dir, with `extra` in its environment. */
async function node(name, extra) {
  const dir = mkdtempSync(join(tmpdir(), `gh-keepalive-${name}-`));
  const env = { PATH: process.env.PATH, GATEHOUSE_DATA_DIR: dir, RUST_LOG: 'warn', ...extra };
  const n = await startNode({ bin: process.env.GATEHOUSE_BIN, env, logDir: dir }, name, `127.0.0.1:${await freePort()}`);
  cleanups.push(async () => { await n.stop(); rmSync(dir, { recursive: true, force: true }); });
  return n;
}

/** One TCP connection: `get()` sends a request and resolves with the answer's head; `closed` resolves when the peer ends it. */
function connect(base) {
  const { hostname, port } = new URL(base);
  const socket = net.connect(+port, hostname);
  let buf = '';
  let waiting = null;
  const closed = new Promise((r) => socket.on('close', () => r(Date.now())));
  socket.setEncoding('utf8');
  socket.on('data', (d) => {
    buf += d;
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0 || !waiting) return;
    const head = buf.slice(0, end);
    const len = +(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (buf.length < end + 4 + len) return;
    buf = buf.slice(end + 4 + len);
    const w = waiting; waiting = null; w(head);
  });
  socket.on('error', () => {});
  const get = (path) => new Promise((resolve, reject) => {
    waiting = resolve;
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`, (e) => e && reject(e));
  });
  return { socket, get, closed };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('an idle kept-alive connection outlives 5 s by default, and GATEHOUSE_KEEP_ALIVE sets how long', { timeout: 60_000 }, async () => {
  const [dflt, short, off] = await Promise.all([
    node('default', {}),
    node('short', { GATEHOUSE_KEEP_ALIVE: '1s' }),
    node('off', { GATEHOUSE_KEEP_ALIVE: '0' }),
  ]);
  try {
    const a = connect(dflt.base);
    assert.match(await a.get('/readyz'), /^HTTP\/1\.1 200/);
    const b = connect(short.base);
    assert.match(await b.get('/readyz'), /^HTTP\/1\.1 200/);
    const sentAt = Date.now();
    // Idle past actix-web's own default (5 s): the default node still answers on the connection.
    await sleep(6_500);
    assert.equal(a.socket.destroyed, false, 'the default node closed an idle connection within 6.5 s');
    assert.match(await a.get('/readyz'), /^HTTP\/1\.1 200/, 'a second request on the idle connection is answered');
    // The 1 s node closed its idle connection, after about a second (its timer ticks in whole seconds).
    const closedAt = await b.closed;
    assert.ok(closedAt - sentAt < 4_000, `GATEHOUSE_KEEP_ALIVE=1s closed the connection after ${closedAt - sentAt} ms`);
    // Keep-alive off: the answer says the connection ends, and it ends.
    const c = connect(off.base);
    assert.match(await c.get('/readyz'), /\r\nconnection: close/i);
    await c.closed;
    a.socket.destroy();
  } catch (e) {
    console.error([dflt, short, off].map((n) => tail(n.logFile, 20)).join('\n\n'));
    throw e;
  }
});
