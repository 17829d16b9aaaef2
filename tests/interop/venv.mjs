// A Python venv for a test peer, created on first use: `python3 -m venv DIR`, then
// `pip install -r REQUIREMENTS`; reused while `probe` (a Python snippet) succeeds.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * Where a peer's venv lives: outside the repository, like the Rust build cache, so that a fresh
 * clone reuses the venvs of the previous run instead of installing the same pinned packages
 * again. The name carries a hash of the requirements file, so changing a pin makes a new venv.
 * $GATEHOUSE_INTEROP_VENVS overrides the folder (default ~/.cache/gatehouse-interop).
 */
export function venvDir(name, requirementsFile) {
  const root = process.env.GATEHOUSE_INTEROP_VENVS
    || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gatehouse-interop');
  const hash = createHash('sha256').update(readFileSync(requirementsFile)).digest('hex').slice(0, 12);
  return join(root, `venv-${name}-${hash}`);
}

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

/** The admin API's peers (schemathesis, openapi-spec-validator) from admin/requirements.txt. */
export function adminPeersPython(log = () => {}) {
  const requirements = join(HERE, 'admin', 'requirements.txt');
  return ensureVenv({
    dir: venvDir('admin', requirements),
    requirements,
    probe: 'import schemathesis, openapi_spec_validator, importlib.metadata as m; assert m.version("schemathesis") == "4.32.5"',
    log,
  });
}
