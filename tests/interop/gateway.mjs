// `gatehouse gateway` processes for the tests, and helpers to read what they did.
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { tail } from './gatehouse.mjs';

const procs = new Set();
process.on('exit', () => { for (const p of procs) p.kill('SIGKILL'); });

/**
 * Start `gatehouse gateway --listen <listen> --resource <resource> --upstream <upstream>` and
 * wait until its protected resource metadata (RFC 9728) answers 200.
 */
export async function startGateway({ bin, env, logDir }, name, { listen, resource, upstream, args = [] }) {
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(bin, ['gateway', '--listen', listen, '--resource', resource, '--upstream', upstream, ...args], { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  procs.add(child);
  let exited = null;
  child.on('exit', (code, sig) => { exited = `exited with ${code ?? sig}`; procs.delete(child); });
  const path = new URL(resource).pathname;
  const prmUrl = `http://${listen}/.well-known/oauth-protected-resource${path === '/' ? '' : path}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`gateway ${name} ${exited} before becoming ready\n${tail(logFile)}`);
    if (await fetch(prmUrl).then((r) => r.status === 200, () => false)) break;
    if (Date.now() > deadline) throw new Error(`gateway ${name}: ${prmUrl} not 200 after 60s\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    name, base: `http://${listen}`, url: resource, prmUrl, logFile, pid: child.pid,
    async stop() {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone; clearTimeout(t);
    },
  };
}

/** The claims and header of a compact JWS, unverified (for assertions only). */
export function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  const dec = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return { header: dec(h), claims: dec(p) };
}

/** The bearer JWT the upstream received with a recorded request. */
export const upstreamJwt = (entry) => (entry.headers.authorization ?? '').replace(/^Bearer /i, '');
