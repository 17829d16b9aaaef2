// Running the copy-paste examples of examples/ as the vendor would: each example directory is
// copied unchanged into the run's folder under tests/interop/.run/ (so that its bare imports
// resolve to tests/interop/node_modules, the same pinned versions as its package.json) and
// started as its own process with its documented environment variables. The Python examples
// run in the venv `mcp-py` (mcp-py/requirements.txt, the examples' pins; venv.mjs).
import { spawn } from 'node:child_process';
import { cpSync, openSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureVenv, venvDir } from './venv.mjs';
import { tail } from './gatehouse.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const EXAMPLES = join(HERE, '..', '..', 'examples');

const procs = new Set();
process.on('exit', () => { for (const p of procs) p.kill('SIGKILL'); });

/** The venv with the MCP Python SDK, httpx and PyJWT, created on first use. */
export function mcpPython(log = () => {}) {
  const requirements = join(HERE, 'mcp-py', 'requirements.txt');
  return ensureVenv({
    dir: venvDir('mcp-py', requirements),
    requirements,
    probe: 'import mcp.server.mcpserver, httpx, jwt, cryptography, importlib.metadata as m; assert m.version("mcp") == "2.3.0"',
    log,
  });
}

/**
 * Start examples/<name> (server.mjs with node, or server.py with `python`) on 127.0.0.1:<port>
 * with `env`; wait until `readyPath` answers (any HTTP status). Returns { url, logFile, stop }.
 */
export async function startExample({ name, runDir, port, env, python, readyPath = '/' }) {
  const dir = join(runDir, 'examples', name);
  cpSync(join(EXAMPLES, name), dir, { recursive: true });
  const [cmd, file] = python ? [python, 'server.py'] : [process.execPath, 'server.mjs'];
  const logFile = join(runDir, `example-${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, [join(dir, file)], {
    cwd: dir, env: { ...process.env, ...env, PORT: String(port), PYTHONUNBUFFERED: '1' }, stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  procs.add(child);
  let exited = null;
  child.on('exit', (code, sig) => { exited = `exited with ${code ?? sig}`; procs.delete(child); });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`example ${name} ${exited} before answering\n${tail(logFile)}`);
    if (await fetch(`${base}${readyPath}`).then(() => true, () => false)) break;
    if (Date.now() > deadline) throw new Error(`example ${name}: no answer after 30s\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    base, logFile,
    async stop() {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone; clearTimeout(t);
    },
  };
}
