// Running the gatehouse binary: CLI commands (key: value output) and `serve` nodes.
import { spawn } from 'node:child_process';
import { appendFileSync, openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const procs = new Set();
process.on('exit', () => { for (const p of procs) p.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130)); // so 'exit' runs

// The keep-alive race: a test that blocks the event loop (execSync psql, a slow step under load)
// for longer than the server's keep-alive timeout lets the server close an idle connection that
// the client has not yet seen closed; the next request on it fails with "other side closed"
// before the server read a byte of it. Such a request never reached Gatehouse, so sending it
// once more on a fresh connection is what any HTTP client would do. Nothing else is retried.
if (!globalThis.fetch.keepAliveRaceSafe) {
  const realFetch = globalThis.fetch;
  const raced = (e) => e?.cause?.code === 'UND_ERR_SOCKET'
    && /other side closed/.test(e.cause.message ?? '');
  const safeFetch = async (input, init) => {
    try {
      return await realFetch(input, init);
    } catch (e) {
      const body = init?.body;
      const replayable = body === undefined || body === null || typeof body === 'string' || body instanceof URLSearchParams;
      if (raced(e) && replayable) return realFetch(input, init);
      throw e;
    }
  };
  safeFetch.keepAliveRaceSafe = true;
  globalThis.fetch = safeFetch;
}

export const parseKv = (text) => Object.fromEntries(text.split('\n')
  .map((l) => l.match(/^([\w.-]+):\s?(.*)$/)).filter(Boolean).map(([, k, v]) => [k, v.trim()]));

export function tail(file, lines = 60) {
  if (!existsSync(file)) return `(no ${file})`;
  return `==> ${file} <==\n${readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')}`;
}

/** Run `gatehouse <args>` asynchronously (the test's own servers must keep answering meanwhile). */
export function cli({ bin, env, logDir }, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    // A command that reads no input can exit before the input is written: the write then fails
    // with EPIPE, which must not fail the test (the exit code below decides).
    child.stdin.on('error', () => {});
    child.on('close', (code) => {
      const record = `$ gatehouse ${args.join(' ')}\n[exit ${code}]\n--- stdout\n${out}--- stderr\n${err}\n`;
      logDir && appendFileSync(join(logDir, 'cli.log'), record);
      if (code === 0) resolve(parseKv(out));
      else reject(new Error(`gatehouse ${args.join(' ')} exited ${code}\n${out}\n${err}`));
    });
    child.stdin.end(input ?? '');
  });
}

/**
 * Start `gatehouse serve --listen <addr>` and wait until GET /readyz answers 200. Returns
 * { name, base, logFile, pid, exited, kill(signal), stop() }.
 */
export async function startNode({ bin, env, logDir }, name, listen) {
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, ['serve', '--listen', listen], { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  procs.add(child);
  let exited = null;
  child.on('exit', (code, sig) => { exited = `exited with ${code ?? sig}`; procs.delete(child); });
  const base = `http://${listen}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`gatehouse node ${name} ${exited} before becoming ready\n${tail(logFile)}`);
    const ok = await fetch(`${base}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`gatehouse node ${name}: /readyz not 200 after 60s\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    name, base, logFile, pid: child.pid,
    get exited() { return exited; },
    /** Sends `signal` (SIGKILL: the node dies mid-request, as in a crash) and waits for the exit. */
    async kill(signal = 'SIGKILL') {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await gone;
    },
    async stop() {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone; clearTimeout(t);
    },
  };
}
