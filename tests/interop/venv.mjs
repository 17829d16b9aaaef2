// A Python venv for a test peer, created on first use: `python3 -m venv DIR`, then
// `pip install -r REQUIREMENTS`; reused while `probe` (a Python snippet) succeeds.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Runs a command to completion without blocking the event loop: { code, out }. */
export function run(cmd, args, { timeoutMs = 600_000, env = process.env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { out += `\n[killed after ${timeoutMs} ms]`; child.kill('SIGKILL'); }, timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, out }); });
    child.on('error', (e) => { clearTimeout(timer); resolve({ code: -1, out: `${out}\n${e}` }); });
  });
}

export async function ensureVenv({ dir, requirements, probe, log = () => {} }) {
  const py = join(dir, 'bin', 'python');
  const ok = async () => existsSync(py) && (await run(py, ['-c', probe])).code === 0;
  if (await ok()) return py;
  const step = async (cmd, args) => {
    const r = await run(cmd, args);
    log(`$ ${cmd} ${args.join(' ')}\n[exit ${r.code}]\n${r.out}`);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}):\n${r.out}`);
  };
  if (!existsSync(py)) await step('python3', ['-m', 'venv', dir]);
  await step(py, ['-m', 'pip', 'install', '-q', '--disable-pip-version-check', '-r', requirements]);
  if (!(await ok())) throw new Error(`${requirements} installed, but the probe still fails in ${dir}`);
  return py;
}
