// Helpers for scim.test.mjs: the scim2-tester venv (tests/interop/.venv-scim, from
// scim/requirements.txt, created on first use like the pysaml2 venv of saml-idp.mjs), one run of
// scim/run_scim2_tester.py, and a small SCIM HTTP client that logs every exchange.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { venvDir } from './venv.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REQUIREMENTS = join(HERE, 'scim', 'requirements.txt');
const VENV = venvDir('scim', REQUIREMENTS);
export const HARNESS = join(HERE, 'scim', 'run_scim2_tester.py');
export const EXPECTED_FAILURES = join(HERE, 'scim', 'expected-failures.txt');

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Run a program without blocking the event loop; resolves { code, out } (stdout + stderr). */
export function run(cmd, args, { timeoutMs = 600_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { out += `\n[killed after ${timeoutMs} ms]\n`; child.kill('SIGKILL'); }, timeoutMs);
    const killOnExit = () => child.kill('SIGKILL');
    process.on('exit', killOnExit);
    child.on('error', (e) => { clearTimeout(timer); process.off('exit', killOnExit); reject(e); });
    child.on('close', (code, sig) => { clearTimeout(timer); process.off('exit', killOnExit); resolve({ code: code ?? sig, out }); });
  });
}

/**
 * The Python that runs the harness: $SCIM_TESTER_PYTHON, else the `scim` venv (venv.mjs; created
 * with `python3 -m venv` and filled from scim/requirements.txt when it is missing or lacks the
 * pinned scim2-tester). `log` receives each command and its output.
 */
export async function ensureScimTesterPython(log = () => {}) {
  if (process.env.SCIM_TESTER_PYTHON) return process.env.SCIM_TESTER_PYTHON;
  const py = join(VENV, 'bin', 'python');
  const pin = readFileSync(REQUIREMENTS, 'utf8').match(/^scim2-tester(?:\[[^\]]*\])?==(\S+)/m)?.[1];
  if (!pin) throw new Error(`no scim2-tester==<version> pin in ${REQUIREMENTS}`);
  const have = async () => existsSync(py) && (await run(py, ['-c',
    'import scim2_tester, scim2_client.engines.httpx2, importlib.metadata as m; print(m.version("scim2-tester"))'])).out.trim() === pin;
  if (await have()) return py;
  const step = async (cmd, args) => {
    const r = await run(cmd, args);
    log(`$ ${cmd} ${args.join(' ')}\n[exit ${r.code}]\n${r.out}`);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}):\n${r.out}`);
  };
  if (!existsSync(py)) await step('python3', ['-m', 'venv', VENV]); // Debian: needs python3-venv
  await step(py, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', REQUIREMENTS]);
  if (!(await have())) throw new Error(`scim2-tester==${pin} is still not importable from ${py}`);
  return py;
}

/** One run of run_scim2_tester.py; its output goes to logFile, its JSON report to reportFile. */
export async function runScimTester({ python, url, token, reportFile, logFile }) {
  const args = [HARNESS, '--url', url, '--token', token, '--expected-failures', EXPECTED_FAILURES, '--report', reportFile];
  const started = Date.now();
  const r = await run(python, args, { timeoutMs: 300_000 });
  // The token is a live credential of a throwaway tenant; keep it out of the log anyway.
  writeFileSync(logFile, `$ ${python} ${args.join(' ').replace(token, '<token>')}\n[exit ${r.code}]\n${r.out}`);
  const summary = r.out.match(/^scim2-tester: (\d+) passed, (\d+) failed, (\d+) skipped$/m);
  return {
    ...r, ms: Date.now() - started,
    summary: summary && { passed: +summary[1], failed: +summary[2], skipped: +summary[3], line: summary[0] },
  };
}

/**
 * A SCIM client for one tenant at one node: scim(method, path, body) → { status, json, text }.
 * Every exchange is appended to logFile.
 */
export function scimClient({ base, slug, token, logFile }) {
  const root = `${base}/scim/v2/${slug}`;
  return async function scim(method, path, body) {
    const res = await fetch(`${root}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`, accept: 'application/scim+json',
        ...(body !== undefined && { 'content-type': 'application/scim+json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: keep text */ }
    if (logFile) appendFileSync(logFile, `${method} ${root}${path} ${body === undefined ? '' : JSON.stringify(body)}\n-> ${res.status} ${text}\n\n`);
    return { status: res.status, json, text };
  };
}
